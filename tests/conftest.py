import numpy as np
import pytest

from structsearch.tasks.idx import FILES, write_idx


@pytest.fixture
def idx_dir(tmp_path):
    """A tiny Fashion-MNIST-shaped IDX dataset (raw and gzipped files) written inside the test."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for split, n in (("train", 120), ("test", 40)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 10
        write_idx(folder / (FILES[f"{split}_images"] + ".gz"), images)
        write_idx(folder / FILES[f"{split}_labels"], labels)
    return tmp_path


@pytest.fixture(autouse=True)
def _no_automatic_reports(monkeypatch):
    """Searches run by tests write no report.html (test_report.py turns it back on where it checks it)."""
    monkeypatch.setenv("STRUCTSEARCH_REPORT", "0")
