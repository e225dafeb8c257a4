"""``structsearch predictor train|evaluate|show``: performance predictors on meta-datasets."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from structsearch.commands._options import group, nonnegative_int, positive_int
from structsearch.predictors import load_predictor
from structsearch.predictors.evaluation import METRICS, verdict
from structsearch.predictors.model import MODELS
from structsearch.predictors.workflow import evaluate_saved, train_predictor


def add_parser(commands) -> None:
    actions = group(commands, "predictor", "train, evaluate and inspect performance predictors")
    train = actions.add_parser("train", help="fit a predictor on a meta-dataset and evaluate it")
    train.add_argument("meta", help="meta-dataset (.csv or .parquet)")
    train.add_argument("--model", default="rf", help=MODELS.help)
    train.add_argument("--target", help="the column to predict (default: val_accuracy where the file has it, what a "
                                        "gate predicts; else test_accuracy)")
    train.add_argument("--features", metavar="SPEC",
                       help="feature columns: comma-separated names and globs (degree_*), or numeric (every "
                            "numeric column but the target, the group, id-like and outcome columns); default: "
                            "structsearch's graph features")
    train.add_argument("--exclude", metavar="SPEC", help="comma-separated names and globs to leave out")
    train.add_argument("--group", metavar="COLUMN",
                       help="keep rows with the same value in one fold (grouped cross-validation), e.g. run; "
                            "default: by run (or by generation within one run) where the file has structsearch's "
                            "run and generation columns; none: plain k-fold")
    train.add_argument("--baseline", metavar="COLUMN",
                       help="the size column of the size-only baseline scored beside the model (default: "
                            "connections, else edges, else the largest size-like column); none: no baseline")
    train.add_argument("--name", help="file name (default META-MODEL-TARGET); letters, digits, - _ .")
    train.add_argument("--out-dir", default="predictors")
    train.add_argument("--overwrite", action="store_true", help="replace an existing predictor of this name")
    train.add_argument("--folds", type=positive_int, default=5)
    train.add_argument("--repeats", type=positive_int, default=3)
    train.add_argument("--seed", type=nonnegative_int, default=0)
    evaluate = actions.add_parser("evaluate", help="score a saved predictor on a meta-dataset")
    evaluate.add_argument("model", help="predictor file (.skops, with its .json card)")
    evaluate.add_argument("meta")
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    show = actions.add_parser("show", help="print a saved predictor's model card")
    show.add_argument("model")


def run(args) -> int:
    return {"train": train, "evaluate": evaluate, "show": show}[args.action](args)


def _cell(value, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def print_scores(console, title: str, report: dict) -> None:
    cv, single = report["cross_validation"], report["single_10pct_split"]
    baseline = report.get("baseline")
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("model (mean ± std)", justify="right")
    if baseline:
        table.add_column(f"{baseline['column']} alone", justify="right")
        table.add_column("Δ", justify="right")
    table.add_column("10 % split", justify="right")
    for metric in METRICS:
        row = [metric, f"{cv[metric]['mean']:.4f} ± {cv[metric]['std']:.4f}" if metric in cv else "—"]
        if baseline:
            size = baseline["cross_validation"].get(metric)
            row += [f"{size['mean']:.4f} ± {size['std']:.4f}" if size else "—",
                    _cell(baseline["difference"].get(metric), signed=True)]
        row.append(_cell(single.get(metric)))
        table.add_row(*row)
    console.print(table)
    if baseline:
        console.print(verdict(baseline["column"], baseline["difference"].get("kendall_tau"),
                              (cv.get("kendall_tau") or {}).get("std")))
    if single.get("note"):
        console.print(f"single split: {single['note']}")
    importance = Table(title="permutation importance (R² drop, 25 % hold-out)")
    importance.add_column("feature")
    importance.add_column("mean ± std", justify="right")
    for item in report["permutation_importance"][:10]:
        importance.add_row(item["feature"], f"{item['mean']:.4f} ± {item['std']:.4f}")
    console.print(importance)


def _grouping(report: dict) -> str:
    cv, grouping = report["cross_validation"], report.get("grouping") or {}
    if grouping.get("column"):
        how = " (the default for a structsearch meta-dataset)" if grouping.get("default") else ""
        return f"{cv['folds']}-fold × {cv['repeats']}, grouped by {grouping['column']}{how}"
    return f"{cv['folds']}-fold × {cv['repeats']}, plain (ungrouped) folds"


def _target_line(report: dict) -> str:
    target = report.get("target") or {}
    why = " (default: the file has it; it is what a gate predicts)" if target.get("default") and \
        target.get("name") == "val_accuracy" else " (default)" if target.get("default") else ""
    return f"target: {target.get('name')}{why}"


def train(args) -> int:
    predictor, report, path = train_predictor(args.meta, args.model, args.target, args.out_dir, args.name,
                                              args.folds, args.repeats, args.seed, args.overwrite,
                                              args.features, args.exclude, args.group, args.baseline)
    console = Console()
    console.print(_target_line(report))
    for note in report["notes"]:
        console.print(f"note: {note}")
    console.print(f"{len(predictor.feature_list())} features: {', '.join(predictor.feature_list()[:8])}"
                  f"{', …' if len(predictor.feature_list()) > 8 else ''}")
    print_scores(console, f"{args.model} → {predictor.target} ({_grouping(report)})", report)
    console.print(f"saved {path} and {path.with_suffix('.json')}")
    return 0


def evaluate(args) -> int:
    result = evaluate_saved(load_predictor(args.model), args.meta)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    console = Console()
    console.print(f"target: {result['target']}")
    for note in result.get("notes", []):
        console.print(f"note: {note}")
    baseline = result.get("baseline")
    table = Table(title=f"{args.model} on {args.meta} ({result['rows']} rows, no refitting)")
    table.add_column("metric")
    table.add_column("model", justify="right")
    if baseline:
        table.add_column(f"{baseline['column']} alone (fitted with the model)", justify="right")
        table.add_column("difference", justify="right")
    for metric in METRICS:
        row = [metric, _cell(result.get(metric))]
        if baseline:
            row += [_cell(baseline.get(metric)), _cell(result["difference"].get(metric), signed=True)]
        table.add_row(*row)
    console.print(table)
    if baseline:
        console.print(verdict(baseline["column"], result["difference"].get("kendall_tau")))
    return 0


def show(args) -> int:
    card = load_predictor(args.model).card
    console = Console()
    console.print(f"target: {card['target']}")
    summary = {k: v for k, v in card.items() if k not in ("features", "evaluation")}
    summary["features"] = f"{len(card['features'])} ({', '.join(card['features'][:5])}, …)"
    console.print_json(json.dumps(summary))
    if "evaluation" in card:
        print_scores(console, f"{card['model']} → {card['target']} ({_grouping(card['evaluation'])})",
                     card["evaluation"])
    return 0
