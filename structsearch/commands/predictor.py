"""``structsearch predictor train|evaluate|show``: performance predictors on meta-datasets."""

from __future__ import annotations

from structsearch.commands._options import group, nonnegative_int, positive_int


def add_parser(commands) -> None:
    from structsearch.predictors.model import MODELS

    actions = group(commands, "predictor", "train, evaluate and inspect performance predictors")
    train = actions.add_parser("train", help="fit a predictor on a meta-dataset and evaluate it")
    train.add_argument("meta", help="meta-dataset (.csv or .parquet)")
    train.add_argument("--model", default="rf", help=MODELS.help)
    train.add_argument("--target", default="test_accuracy")
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
        table.add_row(metric, f"{cv[metric]['mean']:.4f} ± {cv[metric]['std']:.4f}", f"{single[metric]:.4f}")
    console.print(table)
    importance = Table(title="permutation importance (R² drop, 25 % hold-out)")
    importance.add_column("feature")
    importance.add_column("mean ± std", justify="right")
    for item in report["permutation_importance"][:10]:
        importance.add_row(item["feature"], f"{item['mean']:.4f} ± {item['std']:.4f}")
    console.print(importance)


def train(args) -> int:
    from rich.console import Console

    from structsearch.predictors.workflow import train_predictor

    _, report, path = train_predictor(args.meta, args.model, args.target, args.out_dir, args.name,
                                      args.folds, args.repeats, args.seed, args.overwrite)
    console = Console()
    cv = report["cross_validation"]
    print_scores(console, f"{args.model} → {args.target} ({cv['folds']}-fold × {cv['repeats']})", report)
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
