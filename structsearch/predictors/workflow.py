"""Meta-dataset → predictor: read and check the table, choose the features, train, evaluate, save.

A meta-dataset need not be this tool's own: ``features`` names the feature columns (names, globs
such as ``degree_*``, or ``numeric``: every numeric column except the target, the group column,
id-like columns and this tool's outcome and learning-curve columns), ``exclude`` removes some, and ``group`` names a
column whose values are kept together by the cross-validation (a search run, a prior, a generation).

Three defaults keep the scores honest on a search's meta-dataset (see ``docs/predictors.md``):

* **the target** is ``val_accuracy`` where the file has it: what a gate predicts and what a search
  selects on (``test_accuracy`` otherwise, or whatever ``--target`` names);
* **grouped folds**: a file with structsearch's ``run`` and ``generation`` columns is grouped by run,
  or by generation within a single run, because an evolutionary run's rows are children one edit
  away from their parents; ``--group none`` asks for plain k-fold;
* **a size-only baseline** (``connections``, else ``edges``, else the largest size-like column of a
  foreign file) is scored by the same folds beside the model.
"""

from __future__ import annotations

import fnmatch
import re
import warnings
from pathlib import Path

import numpy as np

from structsearch.errors import ConfigError, DataError
from structsearch.graphs.features import feature_names
from structsearch.meta import CURVE_COLUMNS, METADATA_COLUMNS, TARGET_COLUMNS, read_table
from structsearch.predictors.evaluation import SizeBaseline, beats, difference, evaluate, scores
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


NONE = "none"
# structsearch's own size columns, most telling first
SIZE_COLUMNS = ("connections", "edges")
# words that make a foreign column a size (parameters, weights, connections, edges, nodes)
SIZE_WORDS = {"params", "param", "parameters", "nparams", "weights", "connections", "synapses", "edges",
              "nodes", "neurons"}


def default_target(table: dict[str, np.ndarray], path) -> str:
    """``val_accuracy`` where the file has it (what a gate predicts), else ``test_accuracy``."""
    for name in ("val_accuracy", "test_accuracy"):
        if name in table and _numeric(table, name):
            return name
    raise ConfigError(f"{path}: has neither val_accuracy nor test_accuracy; name the column to predict with --target")


def _numeric(table, name) -> bool:
    return table[name].dtype != object and bool(np.isfinite(table[name]).any())


def size_column(table: dict[str, np.ndarray], path, target: str, requested: str | None = None) -> str | None:
    """The column of the size-only baseline: ``requested`` (``none``: no baseline), else
    ``connections``, else ``edges``, else the size-like column (a name with a word such as params,
    weights, edges or nodes) with the largest median; None where the file has none."""
    if requested is not None:
        if requested == NONE:
            return None
        if requested not in table:
            raise DataError(f"{path}: no column {requested!r} (--baseline)")
        if not _numeric(table, requested) or requested == target:
            raise ConfigError(f"--baseline {requested!r}: must be a numeric column other than the target")
        return requested
    for name in SIZE_COLUMNS:
        if name in table and name != target and _numeric(table, name):
            return name
    candidates = [name for name in table if name != target and _numeric(table, name)
                  and SIZE_WORDS & set(re.split(r"[^a-z]+", name.lower()))]
    if not candidates:
        return None
    return max(candidates, key=lambda name: float(np.nanmedian(table[name])))


def resolve_group(table: dict[str, np.ndarray], path, group: str | None,
                  folds: int) -> tuple[str | None, int, list[str]]:
    """The grouping column, the number of folds and notes.  Without ``group``: by run where the
    file holds structsearch's ``run`` and ``generation`` columns and several runs, by generation
    within a single run, otherwise plain k-fold.  ``none``: plain k-fold.  With fewer groups than
    folds, as many folds as groups, with a note; one group falls back to plain k-fold where the
    grouping was the default and is an error where ``--group`` asked for it."""
    notes: list[str] = []
    if group == NONE:
        return None, folds, notes
    default = group is None
    if default:
        if "run" not in table or "generation" not in table:
            return None, folds, notes
        runs = {str(value) for value in table["run"]}
        group = "run" if len(runs) > 1 else "generation"
    elif group not in table:
        raise DataError(f"{path}: no column {group!r} (--group)")
    count = len({str(value) for value in table[group]})
    if count < 2:
        if not default:
            raise ConfigError(f"--group {group!r}: {path} has one distinct value; grouped cross-validation needs "
                              "at least two (or use --group none)")
        notes.append(f"one {group} in {path}: plain {folds}-fold cross-validation (its rows may be related)")
        return None, folds, notes
    if count < folds:
        notes.append(f"{count} distinct {group} values for {folds} folds: {count}-fold grouped cross-validation")
        folds = count
    return group, folds, notes


def select_features(table: dict[str, np.ndarray], path, target: str, features: str | None = None,
                    exclude: str | None = None, group: str | None = None) -> list[str]:
    """The feature columns of ``table`` (see the module docstring), in the table's order.  Without
    ``features``, this tool's graph features, all of which the table must hold."""
    columns = list(table)
    if features is None:
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
    largest = float(np.finfo(np.float32).max)  # scikit-learn's trees compute in float32
    empty = []
    for name in [*features, target]:
        if table[name].dtype == object:
            raise DataError(f"{path}: column {name!r} must be numeric")
        infinite = int(np.isinf(table[name]).sum())
        if infinite:
            raise DataError(f"{path}: column {name!r} has {infinite} infinite value(s)")
        with np.errstate(invalid="ignore"):
            huge = int((np.abs(table[name]) > largest).sum())
        if huge:
            raise DataError(f"{path}: column {name!r} has {huge} value(s) beyond ±{largest:.3g}, too large for the "
                            "float32 the models compute in")
        if name != target and table[name].size and np.isnan(table[name]).all():
            empty.append(name)
    if empty:
        warnings.warn(f"{path}: {len(empty)} feature column(s) have no values ({', '.join(empty[:5])}"
                      f"{', …' if len(empty) > 5 else ''}); the model leaves them out", stacklevel=2)
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


def train_predictor(meta: str | Path, model: str, target: str | None, out_dir: str | Path, name: str | None,
                    folds: int = 5, repeats: int = 3, seed: int = 0, overwrite: bool = False,
                    features: str | None = None, exclude: str | None = None,
                    group: str | None = None, baseline: str | None = None) -> tuple[PerformancePredictor, dict, Path]:
    """Fit, evaluate and save a predictor as ``out_dir/name.skops`` (with its card); an existing one
    is replaced only with ``overwrite``.  ``target``, ``group`` and ``baseline`` None take the
    defaults of the module docstring; the report's ``target``, ``grouping`` and ``notes`` say what
    was chosen."""
    make_pipeline(model)  # unknown model names fail before any work
    if folds < 2:
        raise ConfigError(f"--folds {folds}: cross-validation needs at least 2 folds")
    if name:
        check_name(name)
    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise ConfigError(f"--out-dir {out_dir}: not a folder")
    table = read_table(meta)
    target_default = target is None
    target = default_target(table, meta) if target is None else target
    name = name or re.sub(r"[^A-Za-z0-9_.-]", "-", f"{Path(meta).stem}-{model}-{target}")
    path = Path(out_dir) / f"{name}.skops"
    if not overwrite and (path.exists() or path.with_suffix(".json").exists()):
        raise ConfigError(f"{path} already exists; choose another --name or replace it with --overwrite")
    if target not in table:
        raise DataError(f"{meta}: no column {target!r} (--target)")
    requested_group = group
    group, folds, notes = resolve_group(table, meta, group, folds)
    size_name = size_column(table, meta, target, baseline)
    if size_name is None and baseline is None:
        notes.append(f"{meta} has no size-like column (connections, edges, params, …): no baseline; name one with "
                     "--baseline COLUMN")
    names = select_features(table, meta, target, features, exclude, group)
    predictor = PerformancePredictor(model, target, names if features is not None else None, random_state=seed)
    x, y, groups = load_xy(meta, target, names, table=table, group=group)
    if folds > y.size // 2:
        raise ConfigError(f"--folds {folds}: {meta} has {y.size} rows, enough for at most {max(y.size // 2, 1)} "
                          "folds (each test fold needs two rows to score)")
    size = None
    if size_name is not None:
        size = np.asarray(table[size_name], dtype=float)
        if not np.isfinite(size).all():
            notes.append(f"{meta}: baseline column {size_name!r} has missing or infinite values: no baseline")
            size_name, size = None, None
    report = evaluate(make_pipeline(model, seed), x, y, names, folds, repeats, seed, groups, size, size_name)
    report["target"] = {"name": target, "default": target_default}
    report["grouping"] = {"column": group, "folds": folds, "default": requested_group is None}
    report["notes"] = notes
    predictor.fit(x, y)
    selection = {"features": features or "structsearch graph features", "exclude": exclude, "group": group}
    path, _ = predictor.save(path, {"meta_dataset": str(meta), "feature_selection": selection, "evaluation": report})
    return predictor, report, path


def evaluate_saved(predictor: PerformancePredictor, meta: str | Path) -> dict:
    """Scores of a saved predictor on another meta-dataset (no refitting), beside those of the
    size-only baseline its card stores (fitted on the predictor's training rows), with the
    difference."""
    table = read_table(meta)
    expected = predictor.feature_list()
    missing = [n for n in expected if n not in table]
    if missing:
        raise DataError(
            f"{meta}: feature names differ from the predictor's: {len(missing)} missing, e.g. {missing[0]!r}"
        )
    x, y, _ = load_xy(meta, predictor.target, expected, table=table)
    result = {"target": predictor.target, **scores(y, predictor.predict(x)), "rows": int(y.size)}
    stored = (predictor.card.get("evaluation") or {}).get("baseline")
    if not stored:
        result["notes"] = ["this predictor's card stores no size-only baseline (trained before structsearch 0.3 "
                           "or with --baseline none)"]
        return result
    column = stored["column"]
    if column not in table or table[column].dtype == object or not np.isfinite(table[column]).all():
        raise DataError(f"{meta}: baseline column {column!r} is missing or not finite")
    baseline = SizeBaseline.from_json(stored["fitted"])
    result["baseline"] = {"column": column, **scores(y, baseline.predict(np.asarray(table[column], dtype=float)))}
    result["difference"] = difference(result, result["baseline"])
    result["beats_baseline"] = beats(result, result["baseline"])
    return result
