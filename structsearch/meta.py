"""Meta-datasets: one row per trained candidate, merged over runs, as CSV or Parquet.

Columns, in this order (the schema is stable; ``META_SCHEMA_VERSION`` counts changes):

* metadata — ``run``, ``candidate_id``, ``hash``, ``generation``, ``origin``, ``status``,
  ``seed``, ``task``, ``model_kind``, ``structsearch_version``, ``meta_schema``;
* features — every feature name of the run's genotype family (:mod:`structsearch.families`) (taken from the
  store, or computed from the genotype when the store has none);
* targets — ``test_accuracy``, ``val_accuracy``, ``selected_epoch``, ``train_seconds``,
  ``evolution_seconds``, ``total_seconds``, ``connections``.  Where a study trained each network
  several times (``--repeats``), the accuracies are the means over those trainings and the seconds
  their sums.

By default only candidates with status ``ok`` are exported, so targets have no gaps.  A search's
duplicates (candidates that reused an earlier candidate's result) are never exported twice.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from structsearch import __version__
from structsearch.errors import ConfigError, DataError
from structsearch.families import FAMILIES
from structsearch.limits import check_file
from structsearch.nn.proxies import PROXIES
from structsearch.store import RunStore

META_SCHEMA_VERSION = 1
METADATA_COLUMNS = ["run", "candidate_id", "hash", "generation", "origin", "status", "seed", "task",
                    "model_kind", "structsearch_version", "meta_schema"]
TARGET_COLUMNS = ["test_accuracy", "val_accuracy", "selected_epoch", "train_seconds",
                  "evolution_seconds", "total_seconds", "connections", "proxy_seconds"]
# zero-cost proxies of each candidate at initialisation (structsearch.nn.proxies), beside its features
PROXY_COLUMNS = [f"proxy_{name}" for name in PROXIES]
# the start of each candidate's learning curve: validation accuracy after its first epoch (Baker et
# al. 2017's partial-curve features); not a structure feature, so --features numeric leaves it out
CURVE_COLUMNS = ["curve_val_epoch_1"]
STRING_COLUMNS = {"run", "hash", "origin", "status", "task", "model_kind", "structsearch_version"}


def meta_rows(run_dir: str | Path, include_all: bool = False) -> list[dict]:
    """Rows of one run's meta-dataset."""
    run_dir = Path(run_dir)
    with RunStore.open(run_dir) as store:
        config = store.config
        candidates = store.candidates()
    task = (
        config.get("task", {}).get("name", "") if isinstance(config.get("task"), dict) else str(config.get("task", ""))
    )
    seed = config.get("training", {}).get("seed", config.get("seed", ""))
    model_kind = config.get("model", {}).get("kind", "mlp")
    family = FAMILIES.get(model_kind, FAMILIES["mlp"])
    rows = []
    for candidate in candidates:
        if candidate.status is None or (candidate.status != "ok" and not include_all):
            continue
        if candidate.metrics.get("duplicate_of"):  # a search's repeat of a trained genotype: no new row
            continue
        features = candidate.features or family.features(candidate.genotype)[0]
        metrics, seconds = candidate.metrics, candidate.seconds
        row = {
            "run": run_dir.name, "candidate_id": candidate.id, "hash": candidate.hash,
            "generation": candidate.generation, "origin": candidate.origin, "status": candidate.status,
            "seed": seed, "task": task, "model_kind": candidate.attributes.get("cell", model_kind),
            "structsearch_version": __version__, "meta_schema": META_SCHEMA_VERSION,
        }
        row.update({name: features.get(name, math.nan) for name in family.feature_names()})
        proxies = metrics.get("proxies") or {}
        row.update({column: proxies.get(column.removeprefix("proxy_"), math.nan) for column in PROXY_COLUMNS})
        row.update({
            "test_accuracy": metrics.get("test_accuracy", math.nan),
            "val_accuracy": metrics.get("val_accuracy", math.nan),
            "selected_epoch": metrics.get("selected_epoch", math.nan),
            "train_seconds": seconds.get("train", math.nan),
            "evolution_seconds": seconds.get("evolution", math.nan),
            "total_seconds": seconds.get("total", math.nan),
            "connections": metrics.get("connections", candidate.genotype.connections),
            "proxy_seconds": seconds.get("proxies", math.nan),
            "curve_val_epoch_1": (candidate.curves.get("val_accuracy") or [math.nan])[0],
        })
        rows.append({k: (math.nan if v is None else v) for k, v in row.items()})
    return rows


def export(run_dirs: list[str | Path], out: str | Path, include_all: bool = False) -> tuple[Path, int]:
    """Merge the runs into one meta-dataset file; returns (path, rows)."""
    out = Path(out)
    if out.suffix not in (".csv", ".parquet"):
        raise ConfigError(f"--out must end in .csv or .parquet, got {out.name}")
    if not out.parent.is_dir():
        raise ConfigError(f"--out {out}: the folder {out.parent} does not exist")
    rows = [row for run in run_dirs for row in meta_rows(run, include_all)]
    if not rows:
        raise DataError(f"no finished candidates in {', '.join(map(str, run_dirs))}")
    names = dict.fromkeys(name for family in FAMILIES.values() for name in family.feature_names())
    features = [name for name in names if any(name in row for row in rows)]  # of every family the runs hold
    columns = METADATA_COLUMNS + features + PROXY_COLUMNS + TARGET_COLUMNS + CURVE_COLUMNS
    table = {c: [row.get(c, math.nan) for row in rows] for c in columns}
    write_table(table, out)
    return out, len(rows)


def write_table(table: dict[str, list], out: Path) -> None:
    """Write the columns as CSV or Parquet (by ``out``'s suffix), atomically."""
    partial = out.with_name(out.name + ".tmp")
    if out.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table(table), partial)
    else:
        columns = list(table)
        with partial.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows(zip(*(table[c] for c in columns), strict=True))
    partial.replace(out)


def read_table(path: str | Path) -> dict[str, np.ndarray]:
    """A meta-dataset as columns: numeric columns as float arrays, the rest as object arrays."""
    path = Path(path)
    check_file(path, "table")
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        except Exception:  # pyarrow raises several types for a damaged file
            raise DataError(f"{path}: cannot read as Parquet (damaged, or not a Parquet file)") from None
        return {name: _column(table.column(name).to_pylist(), name) for name in table.column_names}
    try:
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            values = list(reader)
    except (OSError, UnicodeDecodeError, StopIteration, csv.Error) as error:
        raise DataError(f"{path}: cannot read as CSV ({str(error) or 'the file is empty'})") from None
    if any(len(row) != len(header) for row in values):
        raise DataError(f"{path}: rows have different numbers of columns")
    return {name: _column([row[i] for row in values], name) for i, name in enumerate(header)}


def _column(values: list, name: str) -> np.ndarray:
    if name in STRING_COLUMNS:
        return np.array(values, dtype=object)
    try:
        return np.array([math.nan if v in ("", None) else float(v) for v in values], dtype=float)
    except (TypeError, ValueError):
        return np.array(values, dtype=object)
