"""MNIST and Fashion-MNIST from IDX files (gzipped or raw).

The IDX format (LeCun et al.) is a big-endian header — two zero bytes, a type code (0x08 for
unsigned bytes) and the number of dimensions — then one 32-bit size per dimension, then the data.
Images are magic 2051 (3 dimensions), labels 2049 (1 dimension).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import urllib.request
from pathlib import Path

import numpy as np
from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

from structsearch.errors import DataError
from structsearch.tasks.augment import image_task
from structsearch.tasks.base import (
    Task,
    register_task,
    resolve_data_dir,
)

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# sha256 of the official gzipped files, as published by the datasets' maintainers.
DATASETS = {
    "fashion-mnist": {
        "url": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "sha256": {
            "train_images": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train_labels": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "test_images": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "test_labels": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
    },
    "mnist": {
        "url": "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "sha256": {
            "train_images": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train_labels": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "test_images": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "test_labels": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    },
}


def parse_idx(raw: bytes, path: Path | str, expect_magic: int | None = None) -> np.ndarray:
    """Parse IDX bytes of unsigned-byte data into an array; any inconsistency is a :class:`DataError`."""
    if len(raw) < 4:
        raise DataError(f"{path}: truncated IDX file ({len(raw)} bytes, no header)")
    magic = int.from_bytes(raw[:4], "big")
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: wrong magic number {magic} (expected an unsigned-byte IDX file)")
    if expect_magic is not None and magic != expect_magic:
        raise DataError(f"{path}: wrong magic number {magic}, expected {expect_magic}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "too long"
        raise DataError(
            f"{path}: {state} IDX file: header says {shape} ({expected} bytes), file has {len(raw)}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> None:
    """Write a uint8 array as IDX (gzipped when ``compress`` or when the name ends in ``.gz``)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    path = Path(path)
    compress = path.suffix == ".gz" if compress is None else compress
    opener = gzip.open if compress else open
    with opener(path, "wb") as handle:
        handle.write(header + array.tobytes())


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DataError(f"{path}: cannot read ({error})") from None


def _download(url: str, target: Path, sha256: str) -> None:
    """Fetch ``url`` into ``target`` with a progress bar, keeping it only if its sha256 matches."""
    part = target.with_suffix(target.suffix + ".part")
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=20) as response, open(part, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with Progress(
            *Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(),
            transient=True,
        ) as progress:
            job = progress.add_task(target.name, total=total)
            while chunk := response.read(1 << 16):
                out.write(chunk)
                digest.update(chunk)
                progress.advance(job, len(chunk))
    if digest.hexdigest() != sha256:
        part.unlink()
        raise DataError(f"{url}: downloaded file has the wrong sha256; nothing was kept")
    part.replace(target)


def locate_files(dataset: str, data_dir, download: bool) -> dict[str, Path]:
    """The four IDX files of ``dataset``, downloading missing ones when allowed."""
    info = DATASETS[dataset]
    folder = resolve_data_dir(data_dir, dataset)
    found = {key: _find(folder, stem) for key, stem in FILES.items()}
    missing = [key for key, path in found.items() if path is None]
    if len(missing) == len(FILES) and folder.name != dataset:
        folder = folder / dataset  # nothing here: the dataset gets its own folder
    if missing and not download:
        names = ", ".join(FILES[k] + ".gz" for k in missing)
        raise DataError(f"{dataset}: missing {names}; put the official files in {folder}")
    for key in missing:
        target = folder / (FILES[key] + ".gz")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            print(f"downloading {target.name} from {info['url']}", file=sys.stderr)
            _download(info["url"] + target.name, target, info["sha256"][key])
        except OSError as error:
            raise DataError(
                f"{dataset}: {target.name} is missing and could not be downloaded ({error}); "
                f"put the official files in {folder}"
            ) from None
        found[key] = target
    return found


def check_official(path: Path, sha256: str, dataset: str) -> bool:
    """Whether a gzipped file is byte-identical to the official one (raw files are not checked)."""
    if path.suffix != ".gz":
        return False
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise DataError(
            f"{path}: sha256 {digest[:12]}… differs from the official {dataset} file ({sha256[:12]}…)"
        )
    return True


def read_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = parse_idx(_read_bytes(images_path), images_path, IMAGES_MAGIC)
    labels = parse_idx(_read_bytes(labels_path), labels_path, LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{images_path}: {images.shape[0]} images but {labels_path.name} has {labels.shape[0]} labels"
        )
    return images, labels


def load_idx_task(
    dataset: str,
    data_dir,
    train_size: int | None,
    test_size: int | None,
    validation_fraction: float,
    scaling: str,
    seed: int,
    verify: bool,
    download: bool,
    augment_crop: int = 0,
    augment_flip: bool = False,
) -> Task:
    paths = locate_files(dataset, data_dir, download)
    if verify:
        for key, path in paths.items():
            check_official(path, DATASETS[dataset]["sha256"][key], dataset)
    x_train, y_train = read_idx_pair(paths["train_images"], paths["train_labels"])
    x_test, y_test = read_idx_pair(paths["test_images"], paths["test_labels"])
    return image_task(dataset, (x_train, y_train, x_test, y_test), x_train.shape[1:], paths["train_images"],
                      train_size, test_size, validation_fraction, scaling, seed, augment_crop, augment_flip)


def _idx_loader(dataset: str):
    def load(
        data_dir: str | None = None,
        train_size: int | None = None,
        test_size: int | None = None,
        validation_fraction: float = 0.1,
        scaling: str = "unit",
        seed: int = 0,
        verify: bool = True,
        download: bool = True,
        augment_crop: int = 0,
        augment_flip: bool = False,
    ) -> Task:
        return load_idx_task(
            dataset, data_dir, train_size, test_size, validation_fraction, scaling, seed, verify,
            download, augment_crop, augment_flip,
        )

    load.__doc__ = (
        f"{dataset} from ``data_dir`` (or ``$STRUCTSEARCH_DATA``); ``train_size``/``test_size`` "
        "take stratified, seeded subsets (e.g. the 5,000/1,000 split of Su 2022); ``augment_crop`` (pixels of "
        "padding for random crops) and ``augment_flip`` augment training batches."
    )
    return load


load_fashion_mnist = register_task(
    "fashion-mnist", "Zalando's Fashion-MNIST, 28×28 grey images, 10 classes", True
)(_idx_loader("fashion-mnist"))
load_mnist = register_task(
    "mnist", "LeCun's MNIST handwritten digits, 28×28 grey images, 10 classes", True
)(_idx_loader("mnist"))
