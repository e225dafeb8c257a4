"""Meta-dataset → predictor: read and check the table, train, evaluate, save."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from structsearch.errors import ConfigError, DataError
from structsearch.meta import read_table
from structsearch.predictors.evaluation import evaluate, scores
from structsearch.predictors.model import PerformancePredictor, make_pipeline
from structsearch.runs import check_name


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
                    folds: int = 5, repeats: int = 3, seed: int = 0,
                    overwrite: bool = False) -> tuple[PerformancePredictor, dict, Path]:
    """Fit, evaluate and save a predictor as ``out_dir/name.skops`` (with its card); an existing one
    is replaced only with ``overwrite``."""
    predictor = PerformancePredictor(model, target, random_state=seed)
    make_pipeline(model)  # unknown model names fail before any work
    name = check_name(name) if name else re.sub(r"[^A-Za-z0-9_.-]", "-", f"{Path(meta).stem}-{model}-{target}")
    path = Path(out_dir) / f"{name}.skops"
    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise ConfigError(f"--out-dir {out_dir}: not a folder")
    if not overwrite and (path.exists() or path.with_suffix(".json").exists()):
        raise ConfigError(f"{path} already exists; choose another --name or replace it with --overwrite")
    names = predictor.feature_list()
    x, y = load_xy(meta, target, names)
    if folds > y.size // 2:
        raise ConfigError(f"--folds {folds}: {meta} has {y.size} rows, enough for at most {max(y.size // 2, 1)} "
                          "folds (each test fold needs two rows to score)")
    report = evaluate(make_pipeline(model, seed), x, y, names, folds, repeats, seed)
    predictor.fit(x, y)
    path, _ = predictor.save(path, {"meta_dataset": str(meta), "evaluation": report})
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
