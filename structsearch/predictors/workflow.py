"""Meta-dataset → predictor: read and check the table, choose the features, train, evaluate, save.

A meta-dataset need not be this tool's own: ``features`` names the feature columns (names, globs
such as ``degree_*``, or ``numeric``: every numeric column except the target, the group column,
id-like columns and this tool's outcome and learning-curve columns), ``exclude`` removes some, and ``group`` names a
column whose values are kept together by the cross-validation (a search run, a prior, a generation).
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import numpy as np

from structsearch.errors import ConfigError, DataError
from structsearch.meta import CURVE_COLUMNS, METADATA_COLUMNS, TARGET_COLUMNS, read_table
from structsearch.predictors.evaluation import evaluate, scores
from structsearch.predictors.model import PerformancePredictor, make_pipeline
from structsearch.runs import check_name

NUMERIC = "numeric"
# columns that name or count rows rather than describe them; never features under ``numeric``
ID_NAMES = {"id", "index", "idx", "row", "seed", "hash", "run", "trial", "number", "unnamed: 0"}
ID_SUFFIXES = ("_id", "_index", "_idx", "_seed", "_hash", "_number")


def id_like(name: str, column: np.ndarray) -> bool:
    """An identifier rather than a property: by name, or a row counter (0…n-1 or 1…n)."""
    lowered = name.strip().lower()
    if lowered in ID_NAMES or lowered.endswith(ID_SUFFIXES):
        return True
    if column.dtype != object and column.size > 2 and np.isfinite(column).all():
        counter = np.arange(column.size)
        return bool(np.array_equal(column, counter) or np.array_equal(column, counter + 1))
    return False


def _items(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def _matching(pattern: str, columns: list[str], path, option: str) -> list[str]:
    if any(char in pattern for char in "*?["):
        found = [name for name in columns if fnmatch.fnmatchcase(name, pattern)]
        if not found:
            raise ConfigError(f"{option} {pattern!r} matches no column of {path}")
        return found
    if pattern not in columns:
        raise ConfigError(f"{option} {pattern!r}: {path} has no such column")
    return [pattern]


def select_features(table: dict[str, np.ndarray], path, target: str, features: str | None = None,
                    exclude: str | None = None, group: str | None = None) -> list[str]:
    """The feature columns of ``table`` (see the module docstring), in the table's order.  Without
    ``features``, this tool's graph features, all of which the table must hold."""
    columns = list(table)
    if features is None:
        from structsearch.graphs.features import feature_names

        names = feature_names()
        missing = [name for name in names if name not in table]
        if missing:
            raise DataError(f"{path}: lacks {len(missing)} of structsearch's {len(names)} graph-feature columns "
                            f"(e.g. {missing[0]!r}); choose its own with --features NAMES, GLOBS or numeric")
        chosen = names
    else:
        items = _items(features)
        if not items:
            raise ConfigError("--features: give column names, globs or numeric")
        outcome = set(METADATA_COLUMNS) | set(TARGET_COLUMNS) | set(CURVE_COLUMNS) | {target, group}
        chosen = []
        for item in items:
            if item == NUMERIC:
                chosen += [name for name in columns if table[name].dtype != object and name not in outcome
                           and not id_like(name, table[name])]
            else:
                chosen += _matching(item, columns, path, "--features")
        chosen = [name for name in columns if name in set(chosen)]
    dropped = {name for item in _items(exclude) for name in _matching(item, columns, path, "--exclude")}
    chosen = [name for name in chosen if name not in dropped and name != target]
    if not chosen:
        raise ConfigError(f"{path}: no feature columns left (--features {features or 'default'}"
                          f"{', --exclude ' + exclude if exclude else ''})")
    return chosen


def load_xy(path: str | Path, target: str, features: list[str] | None = None, *, table=None,
            group: str | None = None, minimum: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Feature matrix, target vector and group labels (None without ``group``) from a meta-dataset;
    every problem is a one-line error naming the file and the column."""
    table = read_table(path) if table is None else table
    for name in [*features, target, *([group] if group else [])]:
        if name not in table:
            option = "--group" if name == group else "--target" if name == target else "feature"
            raise DataError(f"{path}: no column {name!r} ({option})")
    for name in [*features, target]:
        if table[name].dtype == object:
            raise DataError(f"{path}: column {name!r} must be numeric")
        infinite = int(np.isinf(table[name]).sum())
        if infinite:
            raise DataError(f"{path}: column {name!r} has {infinite} infinite value(s)")
    y = table[target]
    if np.isnan(y).any():
        raise DataError(f"{path}: target {target!r} has {int(np.isnan(y).sum())} missing (NaN) values")
    if y.size < minimum:
        raise DataError(f"{path}: {y.size} rows are too few to train and evaluate a predictor (need {minimum})")
    groups = None
    if group:
        groups = np.asarray([str(value) for value in table[group]], dtype=object)
        empty = int(sum(value in ("", "nan", "None") for value in groups))
        if empty:
            raise DataError(f"{path}: --group column {group!r} has {empty} empty value(s)")
    return np.column_stack([table[name] for name in features]), y, groups


def train_predictor(meta: str | Path, model: str, target: str, out_dir: str | Path, name: str | None,
                    folds: int = 5, repeats: int = 3, seed: int = 0, overwrite: bool = False,
                    features: str | None = None, exclude: str | None = None,
                    group: str | None = None) -> tuple[PerformancePredictor, dict, Path]:
    """Fit, evaluate and save a predictor as ``out_dir/name.skops`` (with its card); an existing one
    is replaced only with ``overwrite``."""
    make_pipeline(model)  # unknown model names fail before any work
    if folds < 2:
        raise ConfigError(f"--folds {folds}: cross-validation needs at least 2 folds")
    name = check_name(name) if name else re.sub(r"[^A-Za-z0-9_.-]", "-", f"{Path(meta).stem}-{model}-{target}")
    path = Path(out_dir) / f"{name}.skops"
    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise ConfigError(f"--out-dir {out_dir}: not a folder")
    if not overwrite and (path.exists() or path.with_suffix(".json").exists()):
        raise ConfigError(f"{path} already exists; choose another --name or replace it with --overwrite")
    table = read_table(meta)
    if target not in table:
        raise DataError(f"{meta}: no column {target!r} (--target)")
    if group and group not in table:
        raise DataError(f"{meta}: no column {group!r} (--group)")
    names = select_features(table, meta, target, features, exclude, group)
    predictor = PerformancePredictor(model, target, names if features is not None else None, random_state=seed)
    x, y, groups = load_xy(meta, target, names, table=table, group=group)
    if folds > y.size // 2:
        raise ConfigError(f"--folds {folds}: {meta} has {y.size} rows, enough for at most {max(y.size // 2, 1)} "
                          "folds (each test fold needs two rows to score)")
    if groups is not None and folds > len(set(groups)):
        raise ConfigError(f"--folds {folds}: --group {group!r} has {len(set(groups))} distinct values; grouped "
                          "cross-validation needs at least one per fold")
    report = evaluate(make_pipeline(model, seed), x, y, names, folds, repeats, seed, groups)
    predictor.fit(x, y)
    selection = {"features": features or "structsearch graph features", "exclude": exclude, "group": group}
    path, _ = predictor.save(path, {"meta_dataset": str(meta), "feature_selection": selection, "evaluation": report})
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
    x, y, _ = load_xy(meta, predictor.target, expected, table=table)
    return {**scores(y, predictor.predict(x)), "rows": int(y.size)}
