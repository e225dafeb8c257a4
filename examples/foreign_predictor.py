"""A predictor trained on a meta-dataset made elsewhere.

The meta-dataset here is made by another tool, under its own column names: scikit-learn's dense
MLPClassifier of random depths and widths, trained on scikit-learn's digits, one row per network
(`arch_id`, `family`, `n_layers`, `width`, `n_params`, `fit_seconds`, `acc`). `structsearch
predictor train` reads it with `--features numeric`, predicts `acc`, keeps each family's networks
in one fold (`--group family`) and sets the model beside the size-only baseline on `n_params`.
About 30 seconds on 2 cores (`--tiny`: a few seconds).
"""

import csv
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from structsearch.commands import main as structsearch


def make_foreign_meta(path: Path, networks: int, max_iter: int) -> Path:
    """Train `networks` dense MLPs of random shapes and write one row per network."""
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x / 16.0, y, test_size=0.3, random_state=0, stratify=y)
    rng = np.random.default_rng(0)
    rows = []
    for index in range(networks):
        family = ["narrow", "wide", "deep"][index % 3]
        layers = int(rng.integers(3, 6)) if family == "deep" else int(rng.integers(1, 3))
        width = int(rng.integers(4, 16)) if family == "narrow" else int(rng.integers(16, 64))
        sizes = [64, *[width] * layers, 10]
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = MLPClassifier(hidden_layer_sizes=(width,) * layers, max_iter=max_iter, random_state=index)
            model.fit(x_train, y_train)
        rows.append({"arch_id": f"mlp-{index:03d}", "family": family, "n_layers": layers, "width": width,
                     "n_params": sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True)),
                     "fit_seconds": round(time.perf_counter() - start, 3),
                     "acc": round(model.score(x_test, y_test), 4)})
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def main(tiny: bool = False) -> None:
    work = Path(tempfile.mkdtemp(prefix="structsearch-example-"))
    meta = make_foreign_meta(work / "their-meta.csv", networks=18 if tiny else 60, max_iter=15 if tiny else 60)
    print(f"meta-dataset: {meta}")
    # the command, exactly as from a shell; fit_seconds is an outcome, not a feature
    code = structsearch(["predictor", "train", str(meta), "--features", "numeric", "--exclude", "fit_seconds",
                         "--target", "acc", "--group", "family", "--baseline", "n_params", "--folds", "3",
                         "--model", "rf", "--out", str(work / "predictors"), "--name", "foreign"])
    print(f"predictor written to {work / 'predictors' / 'foreign.skops'} (exit code {code})")


if __name__ == "__main__":
    main(tiny="--tiny" in sys.argv)
