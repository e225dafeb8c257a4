"""Honest evaluation of a performance predictor.

* Repeated k-fold cross-validation: R², Kendall τ, Spearman ρ, MAE and precision@10 % (the share
  of the truly best 10 % of a test fold that the predictor also puts in its top 10 %), as
  mean ± standard deviation over all folds.  With ``groups`` (a search run, a prior, a
  generation), the folds are grouped: no group is split between training and test rows, so a
  predictor is not scored on near-copies of rows it was trained on.
* A score that is undefined (R² or a rank correlation of one test row) is ``None`` with a note,
  never NaN.
* The single 10 % hold-out split that Stier et al. (2021) report, for comparison only: one small
  test set gives a noisy, often flattering R².
* Permutation feature importances (decrease of R² when a feature is shuffled) on a 25 % hold-out.
* A size-only baseline scored by the same folds (:class:`SizeBaseline`): on these meta-datasets the
  number of connections alone often ranks candidates as well as any model of 40 graph features
  (ZiCo, Li et al. 2023, found no zero-cost proxy that consistently beats #params), so every score
  stands beside the baseline's, with the difference.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from sklearn.base import clone
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import GroupKFold, GroupShuffleSplit, RepeatedKFold, train_test_split


def precision_at(y_true: np.ndarray, y_pred: np.ndarray, fraction: float = 0.1) -> float:
    k = max(1, int(math.ceil(fraction * y_true.size)))
    top_true = set(np.argsort(-y_true, kind="stable")[:k].tolist())
    top_pred = set(np.argsort(-y_pred, kind="stable")[:k].tolist())
    return len(top_true & top_pred) / k


def _rank_correlation(function, a: np.ndarray, b: np.ndarray) -> float:
    """A rank correlation, 0 where it is undefined (a constant input)."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    value = function(a, b).statistic
    return float(value) if np.isfinite(value) else 0.0


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """The scores of one test set; with fewer than two rows, R² and the rank correlations are
    undefined: ``None``, with a ``note`` that says why."""
    if y_true.size < 2:
        return {"r2": None, "kendall_tau": None, "spearman": None,
                "mae": float(mean_absolute_error(y_true, y_pred)) if y_true.size else None,
                "precision_at_10": precision_at(y_true, y_pred) if y_true.size else None,
                "note": f"{y_true.size} test row(s): R² and rank correlations need at least 2"}
    return {
        "r2": float(r2_score(y_true, y_pred)),
        "kendall_tau": _rank_correlation(stats.kendalltau, y_true, y_pred),
        "spearman": _rank_correlation(stats.spearmanr, y_true, y_pred),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "precision_at_10": precision_at(y_true, y_pred),
    }


class SizeBaseline:
    """The best monotone function of one size column (connections, edges, parameters): an isotonic
    regression of the target on it, its direction taken from the training rows' Spearman ρ, plus a
    vanishing slope in that direction so that it ranks rows exactly as the size column does (no
    ties where isotonic steps are flat).  Its R² and MAE are what size alone explains; its rank
    scores are those of the column itself, signed by what the training rows showed.

    A scikit-learn-style regressor on a one-column ``x`` (``fit``/``predict``; ``clone`` works),
    stored in a model card as JSON by :meth:`to_json` and read back by :meth:`from_json`."""

    def __init__(self):
        self.thresholds_: np.ndarray | None = None

    def get_params(self, deep: bool = True) -> dict:
        return {}

    def set_params(self, **params):
        return self

    def fit(self, x: np.ndarray, y: np.ndarray) -> SizeBaseline:
        size = np.asarray(x, dtype=float).reshape(len(y), -1)[:, 0]
        rho = _rank_correlation(stats.spearmanr, size, np.asarray(y, dtype=float))
        self.increasing_ = bool(rho >= 0)
        iso = IsotonicRegression(increasing=self.increasing_, out_of_bounds="clip").fit(size, y)
        self.thresholds_ = np.asarray(iso.X_thresholds_, dtype=float)
        self.values_ = np.asarray(iso.y_thresholds_, dtype=float)
        self.center_, self.scale_ = float(np.mean(size)), float(np.std(size)) or 1.0
        self.slope_ = 1e-9 * (float(np.ptp(y)) or 1.0) * (1.0 if self.increasing_ else -1.0)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        size = np.asarray(x, dtype=float).reshape(len(x), -1)[:, 0]
        return np.interp(size, self.thresholds_, self.values_) + self.slope_ * (size - self.center_) / self.scale_

    def to_json(self) -> dict:
        return {"increasing": self.increasing_, "thresholds": self.thresholds_.tolist(),
                "values": self.values_.tolist(), "center": self.center_, "scale": self.scale_,
                "slope": self.slope_}

    @classmethod
    def from_json(cls, data: dict) -> SizeBaseline:
        baseline = cls()
        baseline.increasing_ = bool(data["increasing"])
        baseline.thresholds_ = np.asarray(data["thresholds"], dtype=float)
        baseline.values_ = np.asarray(data["values"], dtype=float)
        baseline.center_, baseline.scale_ = float(data["center"]), float(data["scale"])
        baseline.slope_ = float(data["slope"])
        return baseline


# the metrics every table shows; for MAE lower is better, for the others higher
METRICS = ("r2", "kendall_tau", "spearman", "mae", "precision_at_10")
LOWER_IS_BETTER = {"mae"}


def difference(model: dict, baseline: dict) -> dict:
    """Model minus baseline for each metric both have (means of a cross-validation's folds, or
    single scores)."""
    def value(scores, metric):
        entry = scores.get(metric)
        return entry.get("mean") if isinstance(entry, dict) else entry

    out = {}
    for metric in METRICS:
        a, b = value(model, metric), value(baseline, metric)
        if a is not None and b is not None:
            out[metric] = float(a - b)
    return out


def beats(model: dict, baseline: dict, metric: str = "kendall_tau") -> bool | None:
    """Whether the model ranks better than the baseline (None where either score is missing)."""
    delta = difference(model, baseline).get(metric)
    if delta is None:
        return None
    return delta < 0 if metric in LOWER_IS_BETTER else delta > 0


def verdict(column: str, delta: float | None, spread: float | None = None) -> str:
    """The plain line under every comparison: does the model rank (Kendall τ) better than
    ``column`` alone?  ``spread``, the folds' standard deviation of the model's τ, marks a
    difference smaller than the noise between folds."""
    if delta is None:
        return f"Kendall τ is undefined here: no comparison with {column} alone"
    noise = f", within the folds' spread (± {spread:.4f})" if spread is not None and abs(delta) < spread else ""
    if delta > 0:
        return f"the model ranks better than {column} alone: Kendall τ {delta:+.4f}{noise}"
    return (f"the model does NOT beat {column} alone: Kendall τ {delta:+.4f}{noise}; ranking by size is as good "
            "or better")


def _splits(x, folds: int, repeats: int, seed: int, groups):
    if groups is None:
        return RepeatedKFold(n_splits=folds, n_repeats=repeats, random_state=seed).split(x)
    return (split for r in range(repeats)
            for split in GroupKFold(n_splits=folds, shuffle=True, random_state=seed + r).split(x, groups=groups))


def _hold_out(n: int, test_fraction: float, seed: int, groups) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers of one hold-out split: (train, test)."""
    rows = np.arange(n)
    if groups is None:
        return tuple(train_test_split(rows, test_size=test_fraction, random_state=seed))
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
    return next(splitter.split(rows, groups=groups))


def _summary(per_fold: dict[str, list[float]]) -> dict[str, dict]:
    return {name: {"mean": float(np.mean(v)), "std": float(np.std(v))} for name, v in per_fold.items()}


def _fold_scores(per_fold: dict[str, list[float]], y_true: np.ndarray, y_pred: np.ndarray) -> None:
    for name, value in scores(y_true, y_pred).items():
        if name != "note" and value is not None:
            per_fold.setdefault(name, []).append(value)


def cross_validate_with_baseline(pipeline, x: np.ndarray, y: np.ndarray, size: np.ndarray | None,
                                 folds: int = 5, repeats: int = 3, seed: int = 0,
                                 groups: np.ndarray | None = None) -> tuple[dict[str, dict], dict[str, dict] | None]:
    """Mean ± std of each score over the folds, for the model and (with ``size``, one column) for a
    :class:`SizeBaseline` fitted and scored on exactly the same folds (None without ``size``)."""
    per_fold: dict[str, list[float]] = {}
    per_fold_size: dict[str, list[float]] = {}
    for train, test in _splits(x, folds, repeats, seed, groups):
        model = clone(pipeline).fit(x[train], y[train])
        _fold_scores(per_fold, y[test], model.predict(x[test]))
        if size is not None:
            baseline = SizeBaseline().fit(size[train], y[train])
            _fold_scores(per_fold_size, y[test], baseline.predict(size[test]))
    return _summary(per_fold), None if size is None else _summary(per_fold_size)


def cross_validate(pipeline, x: np.ndarray, y: np.ndarray, folds: int = 5, repeats: int = 3,
                   seed: int = 0, groups: np.ndarray | None = None) -> dict[str, dict]:
    """Mean ± std of each score of the model over the folds."""
    return cross_validate_with_baseline(pipeline, x, y, None, folds, repeats, seed, groups)[0]


def single_split(pipeline, x: np.ndarray, y: np.ndarray, test_fraction: float = 0.1,
                 seed: int = 0, groups: np.ndarray | None = None, size: np.ndarray | None = None) -> dict:
    """Scores on one hold-out split; with ``size``, the baseline's on the same split under
    ``"baseline"``."""
    train, test = _hold_out(y.size, test_fraction, seed, groups)
    model = clone(pipeline).fit(x[train], y[train])
    result = {**scores(y[test], model.predict(x[test])), "test_rows": int(test.size)}
    if size is not None:
        baseline = SizeBaseline().fit(size[train], y[train])
        result["baseline"] = {k: v for k, v in scores(y[test], baseline.predict(size[test])).items() if k != "note"}
    return result


def importances(pipeline, x: np.ndarray, y: np.ndarray, names: list[str], seed: int = 0,
                top: int = 15, groups: np.ndarray | None = None) -> list[dict]:
    train, test = _hold_out(y.size, 0.25, seed, groups)
    x_test, y_test = x[test], y[test]
    model = clone(pipeline).fit(x[train], y[train])
    if y_test.size < 2:  # R² of one row is undefined: no importance to measure
        return []
    drops = permutation_drops(model, x_test, y_test, n_repeats=5, seed=seed)
    mean, std = drops.mean(axis=1), drops.std(axis=1)
    order = np.argsort(-mean)[:top]
    return [{"feature": names[i], "mean": float(mean[i]), "std": float(std[i])} for i in order]


def permutation_drops(model, x: np.ndarray, y: np.ndarray, n_repeats: int = 5, seed: int = 0) -> np.ndarray:
    """Breiman's permutation importance: the drop of R² when one column is shuffled, per column and
    repeat (shape ``(columns, n_repeats)``). The permutations are scikit-learn's
    (:func:`sklearn.inspection.permutation_importance` with ``random_state=seed``, ``scoring="r2"``
    gives the same numbers), but every permuted copy is predicted in one call: a forest of 300 trees
    pays its per-call cost once instead of columns × repeats times."""
    x = np.asarray(x, dtype=float)
    n, columns = x.shape
    column_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    batch = max(1, (1 << 23) // max(1, n_repeats * n * columns))  # columns per call: ≤ 64 MB of copies
    predicted = np.empty((columns, n_repeats, n))
    for first in range(0, columns, batch):
        block = range(first, min(columns, first + batch))
        copies = np.empty((len(block), n_repeats, n, columns))
        for slot, column in enumerate(block):
            shuffles, permuted, order = np.random.RandomState(column_seed), x.copy(), np.arange(n)
            for repeat in range(n_repeats):
                shuffles.shuffle(order)  # scikit-learn's repeats shuffle the shuffled column again
                permuted[:, column] = permuted[order, column]
                copies[slot, repeat] = permuted
        predicted[block.start:block.stop] = model.predict(copies.reshape(-1, columns)).reshape(len(block), n_repeats, n)
    baseline = r2_score(y, model.predict(x))
    return np.array([[baseline - r2_score(y, predicted[c, r]) for r in range(n_repeats)] for c in range(columns)])


def evaluate(pipeline, x, y, names, folds=5, repeats=3, seed=0, groups=None, size=None,
             size_name: str | None = None) -> dict:
    """Everything above, as one JSON-ready dict.  With ``size`` (the values of the column
    ``size_name``), the size-only baseline on the same folds and split, the difference, whether the
    model ranks better (Kendall τ), and the baseline fitted on every row (for the model card)."""
    cv, cv_size = cross_validate_with_baseline(pipeline, x, y, size, folds, repeats, seed, groups)
    report = {
        "cross_validation": {"folds": folds, "repeats": repeats, "grouped": groups is not None, **cv},
        "single_10pct_split": single_split(pipeline, x, y, 0.1, seed, groups, size),
        "permutation_importance": importances(pipeline, x, y, names, seed, groups=groups),
    }
    if size is not None:
        report["baseline"] = {
            "column": size_name,
            "method": "isotonic (monotone) fit of the target on this column alone, same folds",
            "cross_validation": cv_size,
            "difference": difference(cv, cv_size),
            "beats_baseline": beats(cv, cv_size),
            "fitted": SizeBaseline().fit(size, y).to_json(),
        }
    return report
