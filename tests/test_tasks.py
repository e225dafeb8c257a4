import gzip

import numpy as np
import pytest
import scipy.io
import torch

from structsearch.errors import ConfigError, DataError
from structsearch.tasks import load_task, task_names
from structsearch.tasks.idx import FILES, write_idx
from structsearch.tasks.reber import (
    generate_dataset,
    generate_embedded_reber,
    generate_reber,
    is_embedded_reber,
    is_reber,
)


def assert_well_formed(task):
    for split in (task.train, task.validation, task.test):
        assert len(split) > 0
        assert split.x.shape[0] == split.y.shape[0]
        assert split.y.dtype == torch.int64
        assert int(split.y.max()) < task.n_classes
    assert len(task.validation) < len(task.train)


def test_registry_lists_all_tasks():
    assert {"reber", "embedded-reber", "mnist", "fashion-mnist", "digits", "madelon", "higgs"} <= set(task_names())


def test_the_digits_read_from_scikit_learns_file_are_its_load_digits():
    from sklearn.datasets import load_digits

    from structsearch.tasks.tabular import digits_table

    table, bunch = digits_table(), load_digits()
    np.testing.assert_array_equal(table[:, :-1], bunch.data)
    np.testing.assert_array_equal(table[:, -1], bunch.target)


def test_digits_loads_without_files_and_is_stratified():
    task = load_task("digits", validation_fraction=0.2)
    assert_well_formed(task)
    assert task.input_shape == (8, 8) and task.n_inputs == 64 and task.n_classes == 10
    assert float(task.train.x.max()) <= 1.0
    # stratified: every class appears in validation in about the same proportion as in train
    train_share = np.bincount(task.train.y.numpy(), minlength=10) / len(task.train)
    val_share = np.bincount(task.validation.y.numpy(), minlength=10) / len(task.validation)
    assert np.abs(train_share - val_share).max() < 0.02


def test_reber_recogniser_accepts_true_and_rejects_false_strings():
    strings, labels = generate_dataset(2000, seed=3)
    assert labels.sum() == 1000
    for string, label in zip(strings, labels, strict=True):
        assert is_reber(string) == bool(label), string


def test_embedded_reber_recogniser():
    strings, labels = generate_dataset(1000, seed=4, embedded=True)
    for string, label in zip(strings, labels, strict=True):
        assert is_embedded_reber(string) == bool(label), string
    rng = np.random.default_rng(0)
    string = generate_embedded_reber(rng)
    assert is_embedded_reber(string)
    assert not is_embedded_reber(string[:1] + ("P" if string[1] == "T" else "T") + string[2:])


def test_reber_grammar_known_strings():
    assert is_reber("BTXSE") and is_reber("BPVVE") and is_reber("BTSSXXTVVE")
    assert not is_reber("BTXXE") and not is_reber("BPVE") and not is_reber("TXSE")
    rng = np.random.default_rng(1)
    assert all(is_reber(generate_reber(rng)) for _ in range(500))


def test_reber_generation_is_deterministic_by_seed():
    a = load_task("reber", n_strings=400, seed=7)
    b = load_task("reber", n_strings=400, seed=7)
    c = load_task("reber", n_strings=400, seed=8)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert not torch.equal(a.train.x, c.train.x)


def test_reber_split_sizes_and_padding():
    task = load_task("reber", n_strings=800)
    assert len(task.test) == 200 and len(task.train) + len(task.validation) == 600
    assert task.sequence and task.train.lengths is not None
    for row in range(50):
        length = int(task.train.lengths[row])
        string = bytes(task.train.x[row, :length].tolist()).decode()
        assert is_reber(string) == bool(task.train.y[row])
        assert int(task.train.x[row, length:].abs().sum()) == 0  # padding is zero
    assert len(load_task("embedded-reber", n_strings=100).test) == 25


def test_idx_task_loads_and_subsamples(idx_dir):
    task = load_task("fashion-mnist", data_dir=str(idx_dir), verify=False, train_size=100, test_size=30)
    assert_well_formed(task)
    assert task.input_shape == (28, 28)
    assert len(task.train) + len(task.validation) == 100 and len(task.test) == 30
    assert 0.0 <= float(task.train.x.min()) and float(task.train.x.max()) <= 1.0


def test_idx_standardisation_uses_train_statistics(idx_dir):
    task = load_task("fashion-mnist", data_dir=str(idx_dir), verify=False, scaling="standardize")
    assert abs(float(task.train.x.mean())) < 1e-3
    assert abs(float(task.validation.x.mean())) > 1e-4  # not refitted on validation


def test_environment_variable_names_the_data_dir(idx_dir, monkeypatch):
    monkeypatch.setenv("STRUCTSEARCH_DATA", str(idx_dir))
    assert len(load_task("fashion-mnist", verify=False).test) == 40


def test_idx_checksum_is_checked(idx_dir):
    with pytest.raises(DataError, match="sha256"):
        load_task("fashion-mnist", data_dir=str(idx_dir))


def test_truncated_idx_file(idx_dir):
    path = idx_dir / "fashion-mnist" / (FILES["train_images"] + ".gz")
    raw = gzip.open(path).read()
    with gzip.open(path, "wb") as handle:
        handle.write(raw[:-100])
    with pytest.raises(DataError, match=r"train-images.*truncated"):
        load_task("fashion-mnist", data_dir=str(idx_dir), verify=False)


def test_corrupted_gzip(idx_dir):
    path = idx_dir / "fashion-mnist" / (FILES["train_images"] + ".gz")
    path.write_bytes(b"not a gzip file at all")
    with pytest.raises(DataError, match="cannot read"):
        load_task("fashion-mnist", data_dir=str(idx_dir), verify=False)


def test_wrong_magic_number(idx_dir):
    path = idx_dir / "fashion-mnist" / FILES["train_labels"]
    write_idx(path, np.zeros((120, 2), dtype=np.uint8))  # a 2-d file where labels belong
    with pytest.raises(DataError, match="wrong magic number 2050"):
        load_task("fashion-mnist", data_dir=str(idx_dir), verify=False)


def test_image_and_label_counts_differ(idx_dir):
    write_idx(idx_dir / "fashion-mnist" / FILES["test_labels"], np.zeros(39, dtype=np.uint8))
    with pytest.raises(DataError, match="40 images but .* 39 labels"):
        load_task("fashion-mnist", data_dir=str(idx_dir), verify=False)


def test_missing_data_directory(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_task("mnist", data_dir=str(tmp_path / "nowhere"))


def test_missing_files_offline_say_where_to_put_them(tmp_path):
    with pytest.raises(DataError, match=f"put the official files in {tmp_path}"):
        load_task("mnist", data_dir=str(tmp_path), download=False)


def test_unknown_task_lists_known_ones():
    with pytest.raises(ConfigError, match="known tasks: .*digits.*reber"):
        load_task("cifar-100")


def test_unknown_task_option():
    with pytest.raises(ConfigError, match="no option 'colour'"):
        load_task("digits", colour=1)


def test_train_size_larger_than_data(idx_dir):
    with pytest.raises(ConfigError, match="train_size=500 is larger than the 120 rows"):
        load_task("fashion-mnist", data_dir=str(idx_dir), verify=False, train_size=500)


def _madelon_files(folder, rng):
    for split, n in (("train", 60), ("valid", 20)):
        x = rng.integers(400, 600, size=(n, 500))
        y = np.where(np.arange(n) % 2, 1, -1)
        np.savetxt(folder / f"madelon_{split}.data", x, fmt="%d")
        np.savetxt(folder / f"madelon_{split}.labels", y, fmt="%d")
    return x


def test_madelon_uci_and_mat(tmp_path):
    rng = np.random.default_rng(0)
    uci = tmp_path / "madelon" / "uci"
    uci.mkdir(parents=True)
    _madelon_files(uci, rng)
    task = load_task("madelon", data_dir=str(tmp_path))
    assert_well_formed(task)
    assert len(task.test) == 20 and task.n_classes == 2 and task.input_shape == (500,)
    assert abs(float(task.train.x.mean())) < 1e-3  # standardised on train
    mat_dir = tmp_path / "mat"
    mat_dir.mkdir()
    scipy.io.savemat(mat_dir / "madelon.mat", {
        "X": rng.integers(400, 600, size=(100, 500)).astype(np.uint16),
        "Y": np.where(np.arange(100) % 2, 1, -1).reshape(-1, 1).astype(np.int16),
    })
    task = load_task("madelon", data_dir=str(mat_dir), test_fraction=0.2)
    assert len(task.test) == 20


@pytest.mark.parametrize("layout", ["first-header", "last-plain", "tab-first"])
def test_higgs_csv_layouts(tmp_path, layout):
    rng = np.random.default_rng(1)
    features = rng.normal(size=(200, 28)).round(3)
    labels = (np.arange(200) % 2).astype(float)
    folder = tmp_path / "higgs"
    folder.mkdir()
    if layout == "first-header":
        table = np.column_stack([labels, features])
        header = ",".join(["label"] + [f"f{i}" for i in range(28)])
        np.savetxt(folder / "h.csv", table, delimiter=",", header=header, comments="", fmt="%.3f")
    elif layout == "last-plain":
        np.savetxt(folder / "h.csv", np.column_stack([features, labels]), delimiter=",", fmt="%.3f")
    else:
        np.savetxt(folder / "binary.train", np.column_stack([labels, features]), delimiter="\t", fmt="%.3f")
        np.savetxt(folder / "binary.test", np.column_stack([labels, features])[:50], delimiter="\t", fmt="%.3f")
    task = load_task("higgs", data_dir=str(tmp_path))
    assert_well_formed(task)
    assert task.input_shape == (28,)
    if layout == "tab-first":
        assert len(task.test) == 50


@pytest.fixture
def served(idx_dir, monkeypatch):
    """Serve the tiny IDX files over HTTP on loopback and point the mnist entry at them."""
    import functools
    import hashlib
    import http.server
    import threading

    source = idx_dir / "fashion-mnist"
    for stem in FILES.values():  # the server offers gzipped files only
        if not (source / (stem + ".gz")).exists():
            with gzip.open(source / (stem + ".gz"), "wb") as handle:
                handle.write((source / stem).read_bytes())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(source))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from structsearch.tasks import idx

    sums = {key: hashlib.sha256((source / (stem + ".gz")).read_bytes()).hexdigest() for key, stem in FILES.items()}
    monkeypatch.setitem(idx.DATASETS, "mnist", {"url": f"http://127.0.0.1:{server.server_port}/", "sha256": sums})
    yield sums
    server.shutdown()


def test_missing_files_are_downloaded_and_verified(served, tmp_path, capsys):
    target = tmp_path / "data"
    target.mkdir()
    task = load_task("mnist", data_dir=str(target))
    assert len(task.test) == 40
    assert sorted(p.name for p in (target / "mnist").iterdir()) == sorted(s + ".gz" for s in FILES.values())


def test_download_with_a_wrong_checksum_keeps_nothing(served, tmp_path):
    served["train_images"] = "0" * 64
    with pytest.raises(DataError, match="wrong sha256"):
        load_task("mnist", data_dir=str(tmp_path))
    assert not any(p.name.startswith("train-images") for p in (tmp_path / "mnist").iterdir())
