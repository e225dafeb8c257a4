"""CIFAR-10 (Krizhevsky 2009) from the official python-version archive, when it is present.

The archive ``cifar-10-python.tar.gz`` (https://www.cs.toronto.edu/~kriz/cifar.html) is read as it
is, without unpacking, from ``data_dir/cifar-10`` (or ``data_dir`` itself); its md5 is checked
against the published one first.  Its batches are Python pickles of a dict with a uint8 array and a
label list: they are read with an unpickler that builds nothing but those (numpy arrays, dicts,
lists, bytes), never arbitrary objects.  Nothing here downloads: CIFAR-10 is optional, and nothing in
structsearch requires it.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from structsearch.errors import DataError
from structsearch.tasks.augment import image_task
from structsearch.tasks.base import Task, register_task, resolve_data_dir

ARCHIVE = "cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"  # as published with the dataset
TRAIN_BATCHES = [f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "cifar-10-batches-py/test_batch"
SHAPE = (3, 32, 32)

_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that refuses every class but numpy's array reconstruction."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR-10 batch")


def _batch(archive: tarfile.TarFile, member: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        handle = archive.extractfile(member)
        data = _ArraysOnly(io.BytesIO(handle.read()), encoding="bytes").load()
        images = np.asarray(data[b"data"], dtype=np.uint8).reshape(-1, int(np.prod(SHAPE)))
        labels = np.asarray(data[b"labels"], dtype=np.int64)
    except (KeyError, AttributeError, TypeError, ValueError, pickle.UnpicklingError, EOFError, OSError) as error:
        raise DataError(f"{path}: {member} is not a CIFAR-10 batch ({error})") from None
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{path}: {member} holds {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels


def read_archive(path: Path, verify: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, test images, test labels) of the archive at ``path``."""
    if verify:
        digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        if digest != ARCHIVE_MD5:
            raise DataError(f"{path}: md5 {digest} differs from the published CIFAR-10 archive's {ARCHIVE_MD5}")
    try:
        with tarfile.open(path, "r:gz") as archive:
            train = [_batch(archive, member, path) for member in TRAIN_BATCHES]
            x_test, y_test = _batch(archive, TEST_BATCH, path)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DataError(f"{path}: not a readable CIFAR-10 archive ({error})") from None
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), x_test, y_test)


@register_task("cifar10", "CIFAR-10, 32×32 colour images, 10 classes (the python-version archive, not downloaded)",
               True)
def load_cifar10(
    data_dir: str | None = None,
    train_size: int | None = None,
    test_size: int | None = None,
    validation_fraction: float = 0.1,
    scaling: str = "unit",
    seed: int = 0,
    verify: bool = True,
    augment_crop: int = 0,
    augment_flip: bool = False,
) -> Task:
    """CIFAR-10 from ``data_dir`` (or ``$STRUCTSEARCH_DATA``), subsets and augmentation as for the IDX
    image tasks."""
    folder = resolve_data_dir(data_dir, "cifar-10")
    path = folder / ARCHIVE
    if not path.is_file():
        raise DataError(f"cifar10: {ARCHIVE} is not in {folder}; put the official archive there "
                        "(https://www.cs.toronto.edu/~kriz/cifar.html)")
    return image_task("cifar10", read_archive(path, verify), SHAPE, path, train_size, test_size, validation_fraction,
                      scaling, seed, augment_crop, augment_flip)
