"""Meta-dataset → predictor: read and check the table, train, evaluate, save."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from structsearch.errors import DataError
from structsearch.meta import read_table
from structsearch.predictors.evaluation import evaluate, scores
from structsearch.predictors.model import PerformancePredictor, make_pipeline


def load_xy(path: str | Path, target: str, features: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Feature matrix and target vector from a meta-dataset; every problem is a one-line DataError."""
    table = read_table(path)
    missing = [name for name in [*features, target] if name not in table]
    if missing:
        raise DataError(f"{path}: missing {len(missing)} column(s), e.g. {missing[0]!r}")
    for name in [*features, target]:
        if table[name].dtype == object:
            raise DataError(f"{path}: column {name!r} must be numeric")
    y = table[target]
    if np.isnan(y).any():
        raise DataError(f"{path}: target {target!r} has {int(np.isnan(y).sum())} missing (NaN) values")
    if y.size < 10:
        raise DataError(f"{path}: {y.size} rows are too few to train and evaluate a predictor (need 10)")
    return np.column_stack([table[name] for name in features]), y


def train_predictor(meta: str | Path, model: str, target: str, out_dir: str | Path, name: str | None,
                    folds: int = 5, repeats: int = 3, seed: int = 0) -> tuple[PerformancePredictor, dict, Path]:
    predictor = PerformancePredictor(model, target, random_state=seed)
    make_pipeline(model)  # unknown model names fail before any work
    names = predictor.feature_list()
    x, y = load_xy(meta, target, names)
    folds = min(folds, y.size)
    report = evaluate(make_pipeline(model, seed), x, y, names, folds, repeats, seed)
    predictor.fit(x, y)
    name = name or f"{Path(meta).stem}-{model}-{target}"
    path, _ = predictor.save(Path(out_dir) / name, {"meta_dataset": str(meta), "evaluation": report})
    return predictor, report, path


def evaluate_saved(predictor: PerformancePredictor, meta: str | Path) -> dict:
    """Scores of a saved predictor on another meta-dataset (no refitting)."""
    table = read_table(meta)
    expected = predictor.feature_list()
    missing = [n for n in expected if n not in table]
    if missing:
        raise DataError(
            f"{meta}: feature names differ from the predictor's: {len(missing)} missing, e.g. {missing[0]!r}"
        )
    x, y = load_xy(meta, predictor.target, expected)
    return {**scores(y, predictor.predict(x)), "rows": int(y.size)}
