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
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from sklearn.base import clone
from sklearn.inspection import permutation_importance
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


def _splits(x, folds: int, repeats: int, seed: int, groups):
    if groups is None:
        return RepeatedKFold(n_splits=folds, n_repeats=repeats, random_state=seed).split(x)
    return (split for r in range(repeats)
            for split in GroupKFold(n_splits=folds, shuffle=True, random_state=seed + r).split(x, groups=groups))


def _hold_out(x, y, test_fraction: float, seed: int, groups):
    if groups is None:
        return train_test_split(x, y, test_size=test_fraction, random_state=seed)
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
    train, test = next(splitter.split(x, groups=groups))
    return x[train], x[test], y[train], y[test]


def cross_validate(pipeline, x: np.ndarray, y: np.ndarray, folds: int = 5, repeats: int = 3,
                   seed: int = 0, groups: np.ndarray | None = None) -> dict[str, dict]:
    per_fold: dict[str, list[float]] = {}
    for train, test in _splits(x, folds, repeats, seed, groups):
        model = clone(pipeline).fit(x[train], y[train])
        for name, value in scores(y[test], model.predict(x[test])).items():
            if name != "note" and value is not None:
                per_fold.setdefault(name, []).append(value)
    return {name: {"mean": float(np.mean(v)), "std": float(np.std(v))} for name, v in per_fold.items()}


def single_split(pipeline, x: np.ndarray, y: np.ndarray, test_fraction: float = 0.1,
                 seed: int = 0, groups: np.ndarray | None = None) -> dict:
    x_train, x_test, y_train, y_test = _hold_out(x, y, test_fraction, seed, groups)
    model = clone(pipeline).fit(x_train, y_train)
    return {**scores(y_test, model.predict(x_test)), "test_rows": int(y_test.size)}


def importances(pipeline, x: np.ndarray, y: np.ndarray, names: list[str], seed: int = 0,
                top: int = 15, groups: np.ndarray | None = None) -> list[dict]:
    x_train, x_test, y_train, y_test = _hold_out(x, y, 0.25, seed, groups)
    model = clone(pipeline).fit(x_train, y_train)
    if y_test.size < 2:  # R² of one row is undefined: no importance to measure
        return []
    result = permutation_importance(model, x_test, y_test, n_repeats=5, random_state=seed, scoring="r2")
    order = np.argsort(-result.importances_mean)[:top]
    return [{"feature": names[i], "mean": float(result.importances_mean[i]),
             "std": float(result.importances_std[i])} for i in order]


def evaluate(pipeline, x, y, names, folds=5, repeats=3, seed=0, groups=None) -> dict:
    """Everything above, as one JSON-ready dict."""
    return {
        "cross_validation": {
            "folds": folds,
            "repeats": repeats,
            "grouped": groups is not None,
            **cross_validate(pipeline, x, y, folds, repeats, seed, groups),
        },
        "single_10pct_split": single_split(pipeline, x, y, 0.1, seed, groups),
        "permutation_importance": importances(pipeline, x, y, names, seed, groups=groups),
    }
