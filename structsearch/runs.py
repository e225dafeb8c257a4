"""Run directories: ``runs/<name>/`` holds the resolved configuration and a command's outputs."""

from __future__ import annotations

import csv
import json
import os
from datetime import datetime
from pathlib import Path

DEFAULT_RUNS = Path("runs")


def new_run_dir(name: str | None = None, base: str | os.PathLike = DEFAULT_RUNS,
                prefix: str = "") -> Path:
    """Create and return ``base/name`` (``name`` defaults to a timestamp, made unique)."""
    base = Path(base)
    stem = name or prefix + datetime.now().strftime("%Y%m%d-%H%M%S")
    path = base / stem
    suffix = 1
    while name is None and path.exists():
        suffix += 1
        path = base / f"{stem}-{suffix}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json(path: str | os.PathLike, data) -> Path:
    """Write ``data`` as indented JSON atomically (a crash leaves the old file or the new one)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")
    tmp.replace(path)
    return path


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def write_rows(path: str | os.PathLike, rows: list[dict]) -> Path:
    """Write dict rows as CSV, columns in first-seen order."""
    path = Path(path)
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_curves(path: str | os.PathLike, curves: dict[str, list]) -> Path:
    """One CSV row per epoch; per-layer connection counts become ``connections_<layer>`` columns."""
    rows = []
    for i in range(len(curves.get("epoch", []))):
        row = {k: v[i] for k, v in curves.items() if k != "connections" and i < len(v)}
        for layer, count in enumerate(curves.get("connections", [[]] * (i + 1))[i]):
            row[f"connections_{layer}"] = count
        rows.append(row)
    return write_rows(path, rows)
