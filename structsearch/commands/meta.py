"""``structsearch meta export``: merge run stores into one meta-dataset."""

from __future__ import annotations

from rich.console import Console

from structsearch.commands._options import group
from structsearch.meta import export
from structsearch.runs import check_out


def add_parser(commands) -> None:
    actions = group(commands, "meta", "meta-datasets of trained candidates")
    export = actions.add_parser("export", help="merge runs' stores into one CSV or Parquet file")
    export.add_argument("runs", nargs="+", help="run directories (each with run.db)")
    export.add_argument("--out", required=True, help="FILE.csv or FILE.parquet")
    export.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    export.add_argument("--all", action="store_true", help="also rows whose training did not end ok")


def run(args) -> int:
    path, rows = export(args.runs, check_out(args.out, args.overwrite), include_all=args.all)
    Console(stderr=True).print(f"{rows} rows from {len(args.runs)} run(s) → {path}")
    return 0
