"""The ``structsearch`` command.

Errors reach the user as one line: usage errors exit with 2, runtime errors with 1.  ``--debug``
shows the traceback of a runtime error instead.
"""

from __future__ import annotations

import argparse
import sys

from structsearch import __version__
from structsearch.errors import StructsearchError


class UsageError(Exception):
    """A command line that cannot be parsed (exit code 2)."""


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise UsageError(f"{self.prog}: {message}")


def _key_value(text: str) -> tuple[str, object]:
    """``key=value`` with the value read as TOML (numbers, booleans, strings)."""
    import tomllib

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


# ------------------------------------------------------------------------------------ commands


def cmd_tasks(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from structsearch.errors import DataError
    from structsearch.tasks import load_task, task_entry, task_names

    table = Table(title="tasks")
    for column in ("task", "input shape", "classes", "train", "validation", "test"):
        table.add_column(column)
    notes = []
    for name in task_names():
        entry = task_entry(name)
        options = {}
        if entry.needs_files:
            options["data_dir"] = args.data_dir
            if name in ("mnist", "fashion-mnist"):
                options["download"] = False
        try:
            task = load_task(name, **options)
        except DataError as error:
            table.add_row(name, "needs files", "", "", "", "")
            notes.append(f"{name}: {error}")
            continue
        shape = "×".join(map(str, task.input_shape)) + (" (sequence)" if task.sequence else "")
        table.add_row(name, shape, str(task.n_classes), f"{len(task.train):,}",
                      f"{len(task.validation):,}", f"{len(task.test):,}")
    console = Console()
    console.print(table)
    for name in task_names():
        console.print(f"[bold]{name}[/bold]: {task_entry(name).summary}")
    for note in notes:
        console.print(f"[dim]{note}[/dim]")
    return 0


def _train_config(args):
    """The run configuration from the TOML file and options, and the (section, key) pairs given."""
    from structsearch.config import RunConfig, load_config, read_toml, update_section

    config = load_config(args.config) if args.config else RunConfig()
    given = {(section, key) for section, values in (read_toml(args.config) if args.config else {}).items()
             if isinstance(values, dict) for key in values}
    if args.params:
        from structsearch.studies import TRAIN_TARGETS, read_params

        for name, value in read_params(args.params).items():
            section, key = TRAIN_TARGETS[name]
            update_section(getattr(config, section), section, {key: value})
            given.add((section, key))
    if args.task:
        config.task.name = args.task
    config.task.options.update(dict(args.task_option or []))
    sections = {
        "model": {"architecture": args.architecture, "genotype": args.genotype, "cell": args.cell,
                  "epsilon": args.epsilon,
                  "density_scheme": args.density_scheme, "density": args.density,
                  "activation": args.activation, "dropout": args.dropout},
        "evolution": {"rule": args.evolution, "drop_fraction": args.drop_fraction,
                      "motif_size": args.motif_size, "every": args.evolve_every},
        "training": {"epochs": args.epochs, "batch_size": args.batch_size, "optimizer": args.optimizer,
                     "lr": args.lr, "momentum": args.momentum, "weight_decay": args.weight_decay,
                     "seed": args.seed, "device": args.device},
    }
    for section, values in sections.items():
        chosen = {k: v for k, v in values.items() if v is not None}
        update_section(getattr(config, section), section, chosen)
        given |= {(section, key) for key in chosen}
    return config.validate(), given


def cmd_train(args) -> int:
    from rich.console import Console

    from structsearch.pipeline import apply_sequence_defaults, load_configured_task, run_training
    from structsearch.runs import new_run_dir, write_curves, write_json
    from structsearch.train_callbacks import ProgressBar

    config, given = _train_config(args)
    task = load_configured_task(config, args.data_dir)
    if task.sequence:
        apply_sequence_defaults(config, given)
    config.task.options = {k: v for k, v in task.options.items()}
    console = Console(stderr=True)
    progress = None if args.no_progress else ProgressBar(f"{task.name} · {config.evolution.rule}")
    run_dir = new_run_dir(args.name, args.runs, prefix="train-")
    write_json(run_dir / "config.json", config.to_dict())
    model, result = run_training(config, task, [progress])
    write_json(run_dir / "result.json", result.to_dict())
    write_curves(run_dir / "curves.csv", result.curves)
    if args.save_model:
        import torch

        torch.save(model.state_dict(), run_dir / "model.pt")
    summary = (
        f"{result.status}: test accuracy {result.test_accuracy:.4f} at epoch {result.selected_epoch} "
        f"(validation {result.val_accuracy:.4f}), {sum(result.connections):,} connections, "
        f"{result.seconds.get('total', 0):.1f} s"
        if result.test_accuracy is not None else f"{result.status}: {result.reason}"
    )
    console.print(summary)
    console.print(f"results in {run_dir}")
    return 0 if result.status in ("ok", "stopped-early") else 1


def _prior_parameters(pairs) -> dict:
    return dict(pairs or [])


def cmd_genotype_sample(args) -> int:
    import numpy as np
    from rich.console import Console

    from structsearch.graphs import prior

    make = prior(args.prior)
    parameters = _prior_parameters(args.param)
    rng = np.random.default_rng(args.seed)
    try:
        graph = make(**parameters, rng=rng)
    except TypeError as error:
        import inspect

        allowed = [p for p in inspect.signature(make).parameters if p != "rng"]
        raise UsageError(f"prior {args.prior!r}: {error}; its parameters are {', '.join(allowed)}") from None
    graph.validate()
    path = graph.save(args.out)
    Console(stderr=True).print(f"{graph!r} → {path}")
    return 0


def cmd_genotype_show(args) -> int:
    import json

    from rich.console import Console
    from rich.table import Table

    from structsearch.graphs import LayeredGraph
    from structsearch.graphs.features import compute_features

    graph = LayeredGraph.load(args.file)
    features, meta = compute_features(graph)
    if args.json:
        print(json.dumps({"describe": graph.describe(), "features": features, "feature_meta": meta}))
        return 0
    console = Console()
    console.print(graph.describe())
    how = "exact" if meta["exact"] else f"{meta['bfs_sources']} sampled BFS sources"
    table = Table(title=f"features ({how})")
    table.add_column("feature")
    table.add_column("value", justify="right")
    for name, value in features.items():
        table.add_row(name, f"{value:.6g}")
    console.print(table)
    return 0


def cmd_meta_export(args) -> int:
    from rich.console import Console

    from structsearch.meta import export

    path, rows = export(args.runs, args.out, include_all=args.all)
    Console(stderr=True).print(f"{rows} rows from {len(args.runs)} run(s) → {path}")
    return 0


def _print_scores(console, title: str, report: dict) -> None:
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


def cmd_predictor_train(args) -> int:
    from rich.console import Console

    from structsearch.predictors.workflow import train_predictor

    _, report, path = train_predictor(args.meta, args.model, args.target, args.out_dir, args.name,
                                      args.folds, args.repeats, args.seed)
    console = Console()
    cv = report["cross_validation"]
    _print_scores(console, f"{args.model} → {args.target} ({cv['folds']}-fold × {cv['repeats']})", report)
    console.print(f"saved {path} and {path.with_suffix('.json')}")
    return 0


def cmd_predictor_evaluate(args) -> int:
    import json

    from structsearch.predictors import load_predictor
    from structsearch.predictors.workflow import evaluate_saved

    print(json.dumps(evaluate_saved(load_predictor(args.model), args.meta), indent=2))
    return 0


def cmd_predictor_show(args) -> int:
    import json

    from rich.console import Console

    from structsearch.predictors import load_predictor

    card = load_predictor(args.model).card
    console = Console()
    summary = {k: v for k, v in card.items() if k not in ("features", "evaluation")}
    summary["features"] = f"{len(card['features'])} ({', '.join(card['features'][:5])}, …)"
    console.print_json(json.dumps(summary))
    if "evaluation" in card:
        _print_scores(console, f"{card['model']} → {card['target']}", card["evaluation"])
    return 0


def cmd_evolve(args) -> int:
    from structsearch.search.command import run_evolve
    from structsearch.search.space import DEFAULT_SPACE

    args.space_given = args.space is not None
    args.space = args.space or DEFAULT_SPACE
    return run_evolve(args)


def cmd_study(args) -> int:
    from structsearch.studies import run_study_command

    return run_study_command(args)


def cmd_prune(args) -> int:
    from structsearch.prune_run import run_prune_command

    return run_prune_command(args)


def cmd_motifs(args) -> int:
    from structsearch.motifs.command import run_motifs_command

    return run_motifs_command(args)


def cmd_spaces(args) -> int:
    from structsearch.search.command import run_spaces

    return run_spaces(args)


def _fraction(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _study(module: str, function: str):
    """A command that runs ``structsearch.experiments.<module>.<function>(args)``, imported lazily."""

    def command(args) -> int:
        import importlib

        getattr(importlib.import_module(f"structsearch.experiments.{module}"), function)(args)
        return 0

    return command


# ------------------------------------------------------------------------------------ parser


def add_train_options(parser: argparse.ArgumentParser) -> None:
    from structsearch.sparsity.evolution import EVOLUTION_NAMES

    parser.add_argument("--task", help="task name (see `structsearch tasks`); default digits")
    parser.add_argument("--task-option", action="append", type=_key_value, metavar="KEY=VALUE",
                        help="a task option, e.g. train_size=5000 (repeatable)")
    parser.add_argument("--architecture", help="layer sizes such as 784-300-100-10")
    parser.add_argument("--genotype", help="a genotype file (.json or .npz) to decode instead of --architecture")
    parser.add_argument("--cell", help="recurrent cell for sequence tasks: rnn_tanh | rnn_relu | lstm | gru")
    parser.add_argument("--epsilon", type=float, help="Erdős–Rényi ε (default 20)")
    parser.add_argument("--density-scheme", help="er | erk | uniform")
    parser.add_argument("--density", type=float, help="overall density for erk or uniform")
    parser.add_argument("--activation", help="relu | tanh | srelu | all-relu")
    parser.add_argument("--dropout", type=float)
    parser.add_argument("--evolution", help=f"topology evolution: {' | '.join(EVOLUTION_NAMES)}")
    parser.add_argument("--drop-fraction", type=float, help="ζ, fraction replaced per update")
    parser.add_argument("--motif-size", type=int, help="SET-motif motif size m (default 2)")
    parser.add_argument("--evolve-every", type=int, help="epochs between topology updates")
    parser.add_argument("--optimizer", help="sgd | adam")
    parser.add_argument("--lr", type=float)
    parser.add_argument("--momentum", type=float)
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device", help="cpu or cuda")


def add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="folder with the datasets (default $STRUCTSEARCH_DATA)")


def add_run_options(parser: argparse.ArgumentParser, resumable: bool = False) -> None:
    """Seed and where the run directory goes (and, for resumable studies, --resume)."""
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", default="runs", help="parent folder of run directories")
    parser.add_argument("--name", help="run directory name (default: a timestamp)")
    if resumable:
        parser.add_argument("--resume", help="a run directory of this study to continue")


def add_su_setting_options(parser: argparse.ArgumentParser) -> None:
    """Su (2022)'s training setting: 10 epochs of SGD (lr 0.05), batch 40, 5,000/1,000 images."""
    parser.add_argument("--epochs", type=_positive_int, default=10)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--batch-size", type=_positive_int, default=40)
    parser.add_argument("--train-size", type=_positive_int, default=5000)
    parser.add_argument("--test-size", type=_positive_int, default=1000)


def add_structure_sampling_options(parser: argparse.ArgumentParser) -> None:
    """Which priors, how many networks per prior and their node range (Stier et al.: n in [10, 50])."""
    parser.add_argument("--priors", default="watts-strogatz,barabasi-albert",
                        help="comma-separated; a network depends only on (seed, prior, index), so processes "
                             "given different priors can fill one run directory side by side")
    parser.add_argument("--per-prior", type=_positive_int, default=30)
    parser.add_argument("--repeats", type=_positive_int, default=1,
                        help="trainings per network from different initial weights; its accuracies are "
                             "their means (a resumed study adds the missing trainings)")
    parser.add_argument("--min-nodes", type=int, default=10)
    parser.add_argument("--max-nodes", type=int, default=50)


def _group(commands, name: str, help: str, metavar: str = "ACTION"):
    """A command with sub-commands of its own (``structsearch NAME ACTION …``)."""
    parser = commands.add_parser(name, help=help)
    return parser.add_subparsers(dest=f"{name}_command", metavar=metavar, parser_class=ArgumentParser,
                                 required=True)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="structsearch", description="Search for good sparse neural-network structures.")
    parser.add_argument("--version", action="version", version=f"structsearch {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)

    tasks = commands.add_parser("tasks", help="list the tasks with their shapes and sizes")
    add_data_options(tasks)
    tasks.set_defaults(func=cmd_tasks)

    train = commands.add_parser("train", help="train one sparse network (SET, SET-motif, RigL or static)")
    train.add_argument("config", nargs="?", help="a TOML file with [task] [model] [evolution] [training]")
    train.add_argument("--params", help="a [params] file written by `structsearch study` (options override it)")
    add_train_options(train)
    add_data_options(train)
    train.add_argument("--runs", default="runs", help="parent folder of run directories")
    train.add_argument("--name", help="run directory name (default: a timestamp)")
    train.add_argument("--save-model", action="store_true", help="also write model.pt (state_dict)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    evolve = commands.add_parser("evolve", help="the genetic structure search (default: the digits-small space)")
    evolve.add_argument("space", nargs="?", help="a built-in space (see `structsearch spaces`) or a TOML file")
    evolve.add_argument("--resume", metavar="RUN", help="continue the search in this run directory")
    evolve.add_argument("--workers", type=_positive_int, help="local worker processes (default: the cores)")
    evolve.add_argument("--scheduler", metavar="URL", help="a Dask scheduler, e.g. tcp://host:8786")
    evolve.add_argument("--dask-local", type=_positive_int, metavar="N",
                        help="start a Dask LocalCluster of N worker processes")
    evolve.add_argument("--set", action="append", type=_key_value, metavar="TABLE.KEY=VALUE",
                        help="override a key of the space, e.g. evolution.population=16 (repeatable)")
    evolve.add_argument("--params", help="a [params] file written by `structsearch study`")
    evolve.add_argument("--population", type=int)
    evolve.add_argument("--generations", type=int)
    evolve.add_argument("--selection", help="tournament | aging | nsga2")
    evolve.add_argument("--epochs", type=int, help="training epochs per candidate")
    evolve.add_argument("--predictor", help="the gate: none | online | a .skops predictor file")
    evolve.add_argument("--estimation-fraction", type=_fraction, help="fraction of new offspring the gate drops, in [0, 1)")
    evolve.add_argument("--max-candidates", type=int, help="stop after this many trained candidates")
    evolve.add_argument("--max-hours", type=_fraction, help="stop after this many hours")
    evolve.add_argument("--seed", type=int)
    evolve.add_argument("--runs", default="runs", help="parent folder of run directories")
    evolve.add_argument("--name", help="run directory name (default: a timestamp)")
    evolve.add_argument("--quiet", action="store_true", help="no live view")
    add_data_options(evolve)
    evolve.set_defaults(func=cmd_evolve)
    study = commands.add_parser("study", help="tune a search space's [study] hyperparameters with Optuna")
    study.add_argument("space", help="a built-in space (see `structsearch spaces`) or a TOML file")
    study.add_argument("--trials", type=int, required=True, help="trials to run (over all --jobs)")
    study.add_argument("--storage", metavar="URL",
                       help="sqlite:///…, postgresql://…, or a .journal file (default runs/studies/NAME.journal)")
    study.add_argument("--study-name", help="default: the space's name; an existing study is continued")
    study.add_argument("--pruner", default="median", help="median | hyperband | none")
    study.add_argument("--jobs", type=_positive_int, default=1, help="worker processes on this machine")
    study.add_argument("--timeout", type=_fraction, help="stop starting trials after this many seconds")
    study.add_argument("--genotype", help="a fixed genotype file instead of the space's priors")
    study.add_argument("--heartbeat", type=_positive_int, default=10,
                       help="database storage: seconds between heartbeats; a trial silent for 3 is failed and retried")
    study.add_argument("--set", action="append", type=_key_value, metavar="TABLE.KEY=VALUE",
                       help="override a key of the space (repeatable)")
    study.add_argument("--out", help="where the best parameters go (default runs/studies/NAME-best.toml)")
    study.add_argument("--runs", default="runs", help="parent folder of run directories")
    add_data_options(study)
    study.set_defaults(func=cmd_study, params=None, **{option: None for option in (
        "seed", "population", "generations", "selection", "epochs", "predictor", "estimation_fraction",
        "max_candidates", "max_hours")})

    spaces = commands.add_parser("spaces", help="list the built-in search spaces")
    spaces.set_defaults(func=cmd_spaces)

    prune = commands.add_parser("prune", help="prune a trained model (or train one first), retraining between steps")
    prune.add_argument("config", nargs="?", help="a train TOML file (the model is trained first)")
    prune.add_argument("--model", metavar="RUN", help="a `structsearch train --save-model` run directory instead")
    prune.add_argument("--method", default="magnitude-blinded",
                       help="random | magnitude-blinded | magnitude-uniform | magnitude-distributed | obd")
    prune.add_argument("--schedule", default="one-shot", help="one-shot | iterative-fixed | iterative-relative | bucket")
    prune.add_argument("--amount", type=_fraction, help="fraction of the live weights to remove, in [0, 1]")
    prune.add_argument("--count", type=int, help="number of weights to remove (instead of --amount)")
    prune.add_argument("--steps", type=_positive_int, default=5, help="steps of the iterative schedules")
    prune.add_argument("--retrain-epochs", type=int, default=1, help="retraining epochs after each step")
    prune.add_argument("--params", help="a [params] file written by `structsearch study`")
    add_train_options(prune)
    add_data_options(prune)
    prune.add_argument("--runs", default="runs", help="parent folder of run directories")
    prune.add_argument("--name", help="run directory name (default: a timestamp)")
    prune.set_defaults(func=cmd_prune)

    motifs = commands.add_parser("motifs", help="motif census of a genotype or a trained model against a null model")
    motifs.add_argument("target", help="a genotype file, or a run directory (model.pt, or best-genotype.json)")
    motifs.add_argument("--samples", type=int, default=100, help="null graphs N (degree-preserving per layer pair)")
    motifs.add_argument("--seed", type=int, default=0)
    motifs.add_argument("--out", help="write the census as JSON (input of the motif-informed prior)")
    motifs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_data_options(motifs)
    motifs.set_defaults(func=cmd_motifs)

    genotype_commands = _group(commands, "genotype", "sample, describe and inspect layered-graph genotypes")
    sample = genotype_commands.add_parser("sample", help="draw a genotype from a prior into a file")
    sample.add_argument("prior", help="erdos-renyi | watts-strogatz | barabasi-albert | configuration-model | motif-composed")
    sample.add_argument("--param", action="append", type=_key_value, metavar="KEY=VALUE",
                        help="a prior parameter (TOML value), e.g. n=30, layer_sizes=[64,100,10]")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", required=True, help="genotype file (.json or .npz)")
    sample.set_defaults(func=cmd_genotype_sample)
    show = genotype_commands.add_parser("show", help="describe a genotype file and list its graph features")
    show.add_argument("file")
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show.set_defaults(func=cmd_genotype_show)

    meta_commands = _group(commands, "meta", "meta-datasets of trained candidates")
    export = meta_commands.add_parser("export", help="merge runs' stores into one CSV or Parquet file")
    export.add_argument("runs", nargs="+", help="run directories (each with run.db)")
    export.add_argument("--out", required=True, help="FILE.csv or FILE.parquet")
    export.add_argument("--all", action="store_true", help="also rows whose training did not end ok")
    export.set_defaults(func=cmd_meta_export)

    predictor_commands = _group(commands, "predictor", "train, evaluate and inspect performance predictors")
    ptrain = predictor_commands.add_parser("train", help="fit a predictor on a meta-dataset and evaluate it")
    ptrain.add_argument("meta", help="meta-dataset (.csv or .parquet)")
    ptrain.add_argument("--model", default="rf", help="rf | adaboost | bayesian-ridge | gbr")
    ptrain.add_argument("--target", default="test_accuracy")
    ptrain.add_argument("--name", help="file name (default META-MODEL-TARGET)")
    ptrain.add_argument("--out-dir", default="predictors")
    ptrain.add_argument("--folds", type=_positive_int, default=5)
    ptrain.add_argument("--repeats", type=_positive_int, default=3)
    ptrain.add_argument("--seed", type=int, default=0)
    ptrain.set_defaults(func=cmd_predictor_train)
    pevaluate = predictor_commands.add_parser("evaluate", help="score a saved predictor on a meta-dataset")
    pevaluate.add_argument("model", help="predictor file (.skops, with its .json card)")
    pevaluate.add_argument("meta")
    pevaluate.set_defaults(func=cmd_predictor_evaluate)
    pshow = predictor_commands.add_parser("show", help="print a saved predictor's model card")
    pshow.add_argument("model")
    pshow.set_defaults(func=cmd_predictor_show)

    studies = _group(commands, "experiment", "reproduce a study from the literature", metavar="STUDY")
    svm = studies.add_parser("set-vs-motif", help="SET vs SET-motif A/B over ε (Su 2022)")
    svm.add_argument("--task", default="fashion-mnist")
    svm.add_argument("--hidden", default="1000-1000-1000", help="hidden layer sizes")
    svm.add_argument("--epsilons", default="20", help="comma-separated ε values")
    svm.add_argument("--repeats", type=_positive_int, default=1)
    add_su_setting_options(svm)
    svm.add_argument("--drop-fraction", type=float, default=0.3)
    add_run_options(svm)
    add_data_options(svm)
    svm.set_defaults(func=_study("set_vs_motif", "run_set_vs_motif"))
    rs = studies.add_parser("random-structures",
                            help="train N Watts–Strogatz and Barabási–Albert networks into a run store (Stier et al. §4.3)")
    rs.add_argument("--task", default="digits")
    rs.add_argument("--task-option", action="append", type=_key_value, metavar="KEY=VALUE")
    add_structure_sampling_options(rs)
    rs.add_argument("--epochs", type=_positive_int, default=5)
    rs.add_argument("--optimizer", default="adam")
    rs.add_argument("--lr", type=float, default=1e-2)
    rs.add_argument("--batch-size", type=_positive_int, default=64)
    add_run_options(rs, resumable=True)
    add_data_options(rs)
    rs.set_defaults(func=_study("random_structures", "run_study_command"))
    rp = studies.add_parser("reber-priors",
                            help="random-structure study on Reber with recurrent cells (Stier et al. §4.3)")
    rp.add_argument("--cells", default="gru", help="comma-separated: rnn_tanh,rnn_relu,lstm,gru")
    add_structure_sampling_options(rp)
    rp.add_argument("--epochs", type=_positive_int, default=15)
    rp.add_argument("--n-strings", type=_positive_int, default=25_000)
    rp.add_argument("--embedding", type=_positive_int, default=8)
    rp.add_argument("--lr", type=float, default=1e-3)
    rp.add_argument("--batch-size", type=_positive_int, default=64)
    add_run_options(rp, resumable=True)
    rp.set_defaults(func=_study("random_structures", "run_reber_priors_command"))
    pr = studies.add_parser("reber-pruning",
                            help="magnitude pruning of input/hidden weights of Reber models (Stier et al. §4.2)")
    pr.add_argument("--cells", default="rnn_tanh,rnn_relu,lstm,gru")
    pr.add_argument("--hidden", default="50-50-50", help="recurrent layer sizes of the base model")
    pr.add_argument("--embedding", type=_positive_int, default=8)
    pr.add_argument("--epochs", type=_positive_int, default=2, help="base model training epochs")
    pr.add_argument("--n-strings", type=_positive_int, default=25_000)
    pr.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (base model and retraining)")
    pr.add_argument("--batch-size", type=_positive_int, default=32)
    add_run_options(pr)
    pr.set_defaults(func=_study("reber_pruning", "run_reber_pruning"))
    mp = studies.add_parser("mnist-pruning", help="pruning methods on MNIST 784-100-10 and 784-300-100-10 (Stier et al. §4.1)")
    mp.add_argument("--task", default="mnist")
    mp.add_argument("--networks", default="784-100-10,784-300-100-10")
    mp.add_argument("--methods", default="random,magnitude-blinded,magnitude-uniform,magnitude-distributed,obd")
    mp.add_argument("--compressions", default="10,20,30,40,50,60,70,80,90,95", help="percent of weights removed")
    mp.add_argument("--epochs", type=_positive_int, default=10, help="base model training epochs")
    mp.add_argument("--retrain-epochs", type=int, default=2)
    mp.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (momentum 0.9)")
    mp.add_argument("--batch-size", type=_positive_int, default=64)
    mp.add_argument("--train-size", type=_positive_int, help="a stratified subset of the training images")
    mp.add_argument("--obd-samples", type=_positive_int, default=10_000, help="samples of OBD's Fisher estimate")
    add_run_options(mp)
    add_data_options(mp)
    mp.set_defaults(func=_study("mnist_pruning", "run_mnist_pruning"))
    me = studies.add_parser("motif-emergence",
                            help="motif censuses along SET training, then the motif-informed prior against ER")
    me.add_argument("--task", default="fashion-mnist")
    me.add_argument("--architecture", default="784-256-256-10")
    me.add_argument("--epsilon", type=float, default=10.0)
    me.add_argument("--rule", default="set", help="set | set-motif | rigl")
    me.add_argument("--zeta", type=float, default=0.3)
    add_su_setting_options(me)
    me.add_argument("--samples", type=int, default=20, help="null graphs per census during training")
    me.add_argument("--final-samples", type=int, default=100, help="null graphs of the final census")
    me.add_argument("--seeds", type=int, default=5, help="seeds of the prior comparison")
    add_run_options(me)
    add_data_options(me)
    me.set_defaults(func=_study("motif_emergence", "run_motif_emergence"))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            build_parser().print_help()
            return 0
        return args.func(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except StructsearchError as error:
        if debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: one line unless --debug
        if debug:
            raise
        print(f"error: {type(error).__name__}: {error} (run with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
