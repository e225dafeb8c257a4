"""``structsearch predictor train|evaluate|show``: performance predictors on meta-datasets."""

from __future__ import annotations

from structsearch.commands._options import group, nonnegative_int, positive_int


def add_parser(commands) -> None:
    from structsearch.predictors.model import MODELS

    actions = group(commands, "predictor", "train, evaluate and inspect performance predictors")
    train = actions.add_parser("train", help="fit a predictor on a meta-dataset and evaluate it")
    train.add_argument("meta", help="meta-dataset (.csv or .parquet)")
    train.add_argument("--model", default="rf", help=MODELS.help)
    train.add_argument("--target", default="test_accuracy", help="the column to predict (default test_accuracy)")
    train.add_argument("--features", metavar="SPEC",
                       help="feature columns: comma-separated names and globs (degree_*), or numeric (every "
                            "numeric column but the target, the group, id-like and outcome columns); default: "
                            "structsearch's graph features")
    train.add_argument("--exclude", metavar="SPEC", help="comma-separated names and globs to leave out")
    train.add_argument("--group", metavar="COLUMN",
                       help="keep rows with the same value in one fold (grouped cross-validation), e.g. run")
    train.add_argument("--name", help="file name (default META-MODEL-TARGET); letters, digits, - _ .")
    train.add_argument("--out-dir", default="predictors")
    train.add_argument("--overwrite", action="store_true", help="replace an existing predictor of this name")
    train.add_argument("--folds", type=positive_int, default=5)
    train.add_argument("--repeats", type=positive_int, default=3)
    train.add_argument("--seed", type=nonnegative_int, default=0)
    evaluate = actions.add_parser("evaluate", help="score a saved predictor on a meta-dataset")
    evaluate.add_argument("model", help="predictor file (.skops, with its .json card)")
    evaluate.add_argument("meta")
    show = actions.add_parser("show", help="print a saved predictor's model card")
    show.add_argument("model")


def run(args) -> int:
    return {"train": train, "evaluate": evaluate, "show": show}[args.action](args)


def print_scores(console, title: str, report: dict) -> None:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    for column in ("cross-validation (mean ± std)", "single 10 % split"):
        table.add_column(column, justify="right")
    cv, single = report["cross_validation"], report["single_10pct_split"]
    for metric in ("r2", "kendall_tau", "spearman", "mae", "precision_at_10"):
        fold = f"{cv[metric]['mean']:.4f} ± {cv[metric]['std']:.4f}" if metric in cv else "—"
        table.add_row(metric, fold, "—" if single.get(metric) is None else f"{single[metric]:.4f}")
    console.print(table)
    if single.get("note"):
        console.print(f"single split: {single['note']}")
    importance = Table(title="permutation importance (R² drop, 25 % hold-out)")
    importance.add_column("feature")
    importance.add_column("mean ± std", justify="right")
    for item in report["permutation_importance"][:10]:
        importance.add_row(item["feature"], f"{item['mean']:.4f} ± {item['std']:.4f}")
    console.print(importance)


def train(args) -> int:
    from rich.console import Console

    from structsearch.predictors.workflow import train_predictor

    predictor, report, path = train_predictor(args.meta, args.model, args.target, args.out_dir, args.name,
                                              args.folds, args.repeats, args.seed, args.overwrite,
                                              args.features, args.exclude, args.group)
    console = Console()
    cv = report["cross_validation"]
    grouped = f", grouped by {args.group}" if args.group else ""
    console.print(f"{len(predictor.feature_list())} features: {', '.join(predictor.feature_list()[:8])}"
                  f"{', …' if len(predictor.feature_list()) > 8 else ''}")
    print_scores(console, f"{args.model} → {args.target} ({cv['folds']}-fold × {cv['repeats']}{grouped})", report)
    console.print(f"saved {path} and {path.with_suffix('.json')}")
    return 0


def evaluate(args) -> int:
    import json

    from structsearch.predictors import load_predictor
    from structsearch.predictors.workflow import evaluate_saved

    print(json.dumps(evaluate_saved(load_predictor(args.model), args.meta), indent=2))
    return 0


def show(args) -> int:
    import json

    from rich.console import Console

    from structsearch.predictors import load_predictor

    card = load_predictor(args.model).card
    console = Console()
    summary = {k: v for k, v in card.items() if k not in ("features", "evaluation")}
    summary["features"] = f"{len(card['features'])} ({', '.join(card['features'][:5])}, …)"
    console.print_json(json.dumps(summary))
    if "evaluation" in card:
        print_scores(console, f"{card['model']} → {card['target']}", card["evaluation"])
    return 0
