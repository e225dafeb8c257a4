"""``structsearch features``: which inputs a trained sparse MLP uses (input importance)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from structsearch.commands._options import add_data_options, positive_int
from structsearch.errors import DataError
from structsearch.limits import parse_json, read_bounded
from structsearch.nn.importance import MEASURES, input_importance, top_inputs
from structsearch.pipeline import load_trained_model
from structsearch.report import importance_figure
from structsearch.sklearn import SparseMLPClassifier, load


def add_parser(commands) -> None:
    measures = (*MEASURES, "accumulated")
    parser = commands.add_parser("features", help="input importance of a trained sparse MLP: a table, a plot, "
                                                  "and the stability of its top inputs over SET updates")
    parser.add_argument("model", metavar="RUN_OR_MODEL",
                        help="a `structsearch train --save-model` run directory, or a SparseMLPClassifier .skops file")
    parser.add_argument("--top", type=positive_int, default=20, help="inputs to list (default %(default)s)")
    parser.add_argument("--measure", choices=measures, default="strength",
                        help="strength: the sum of |w| of an input's connections (QuickSelection's neuron "
                             "strength); degree: their number; accumulated: the strength summed after every "
                             "epoch of training (WAST's importance, λ = 0; runs of structsearch train only)")
    parser.add_argument("--plot", help="the PNG to write (default RUN/input-importance.png; for a .skops file, "
                                       "beside it)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_data_options(parser)


def run(args) -> int:
    source = Path(args.model)
    model, names, image, stability, where = _load(source, args.data_dir)
    if args.measure == "accumulated":
        values = _accumulated(source, model)
    else:
        values = input_importance(model, args.measure)
    degree = input_importance(model, "degree")
    top = top_inputs(values, min(args.top, values.size))
    plot = Path(args.plot) if args.plot else where / f"{source.stem if source.is_file() else 'input'}-importance.png"

    plot.write_bytes(importance_figure(values, image, args.measure))
    rows = [{"rank": rank + 1, "input": names[i] if names else i, "index": i, args.measure: float(values[i]),
             "connections": int(degree[i])} for rank, i in enumerate(top)]
    unused = int((degree == 0).sum())
    if args.json:
        print(json.dumps({"measure": args.measure, "inputs": int(values.size), "unused_inputs": unused,
                          "stability": stability, "top": rows, "plot": str(plot)}))
        return 0
    table = Table(title=f"the {len(top)} most important of {values.size} inputs ({args.measure})")
    for column in ("rank", "input", args.measure, "connections"):
        table.add_column(column, justify="left" if column == "input" else "right")
    for row in rows:
        table.add_row(str(row["rank"]), str(row["input"]), f"{row[args.measure]:.4g}", str(row["connections"]))
    console = Console()
    console.print(table)
    console.print(f"{unused} of {values.size} inputs have no connection left; plot: {plot}")
    if stability is not None:
        console.print(f"stability of the top {stability['k']} over SET updates (mean Jaccard of consecutive "
                      f"epochs): {stability['value']:.3f}")
    return 0


def _load(source, data_dir):
    """(model, input names or None, image shape or None, stability or None, folder for the plot)."""
    if source.is_file() and source.suffix == ".skops":
        estimator = load(source)
        if not isinstance(estimator, SparseMLPClassifier):
            estimator = getattr(estimator, "best_estimator_", None)
        if estimator is None:
            raise DataError(f"{source}: an estimator that was never fitted")
        names = [str(n) for n in getattr(estimator, "feature_names_in_", [])] or None
        return estimator.network(), names, None, None, source.parent

    _, task, model = load_trained_model(source, data_dir)
    stability = None
    trace = source / "input_importance.json"
    if trace.is_file():
        data = parse_json(read_bounded(trace, "json"), trace)
        if isinstance(data, dict) and data.get("stability") is not None:
            stability = {"k": data.get("k"), "value": float(data["stability"])}
    return model, None, task.image_shape, stability, source


def _accumulated(source, model):
    """WAST's accumulated strength, as `structsearch train` recorded it."""
    trace = source / "input_importance.json" if source.is_dir() else None
    data = parse_json(read_bounded(trace, "json"), trace) if trace is not None and trace.is_file() else {}
    values = data.get("accumulated") if isinstance(data, dict) else None
    if not isinstance(values, list) or len(values) != model.layer_sizes[0]:
        raise DataError(f"{source}: no accumulated importance recorded (it is recorded while `structsearch train` "
                        "trains; use --measure strength or degree)")
    return np.asarray(values, dtype=float)
