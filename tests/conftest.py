import os

from structsearch.limits import threads_per_worker

# pytest-xdist runs its workers side by side on the cores: each test process, and every process its
# tests start, takes its share of threads (OMP_NUM_THREADS, which torch reads when it loads and
# structsearch's workers honour). Two processes of two OpenMP threads each on two cores spin at every
# barrier while the other runs: the training and export tests took 1.5x as long (CHANGELOG).
_processes = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _processes > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(threads_per_worker(_processes)))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from structsearch.tasks.idx import FILES, write_idx  # noqa: E402


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


@pytest.fixture
def chromium():
    """Headless Chromium (Debian's chromium and chromium-driver; .ci/run installs them) through
    selenium, logging the browser console; skipped, saying why, where either is missing."""
    import shutil

    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[dev]')")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1600",
                     "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(shutil.which("chromedriver")))
    try:
        yield driver
    finally:
        driver.quit()
