"""``structsearch train``: train one sparse network (SET, SET-motif, RigL or static)."""

from __future__ import annotations

import torch
from rich.console import Console

from structsearch.commands._options import (
    Deprecated,
    add_data_options,
    add_declared_options,
    add_memory_option,
    add_output_options,
    key_value,
    option_changes,
)
from structsearch.config import LEGACY_TABLES, TRAIN_TABLES, config_from_dict, read_toml
from structsearch.families import family_of, load_genotype
from structsearch.nn.importance import ImportanceTrace, input_importance
from structsearch.overrides import apply_changes, dotted_keys, parameter_changes, read_params, short_names
from structsearch.pipeline import apply_sequence_defaults, load_configured_task, run_training
from structsearch.runs import new_run_dir, write_curves, write_json
from structsearch.train_callbacks import ProgressBar

# option → the dotted key of a train file it sets
# option → the dotted key of a train file it sets (named by the key's last part, or its rename)
TRAIN_OPTIONS = short_names([
    "task.name", "model.architecture", "model.genotype", "model.cell", "model.epsilon", "model.density_scheme",
    "model.density", "model.activation", "model.dropout", "rewiring.rule", "rewiring.drop_fraction",
    "rewiring.motif_size", "rewiring.every", "training.epochs", "training.batch_size", "training.optimizer",
    "training.lr", "training.momentum", "training.weight_decay", "training.seed", "training.device",
    "training.lr_schedule",
], renames={"task.name": "task", "rewiring.every": "evolve_every"})


def add_train_options(parser) -> None:
    """The options of a train file's keys (``structsearch train`` and ``structsearch prune``): each
    option's type, help, allowed values and default come from the key's declaration."""
    parser.add_argument("--params", help="a [params] file written by `structsearch study` (options override it)")
    parser.add_argument("--task-option", action="append", type=key_value, metavar="KEY=VALUE",
                        help="a task option, e.g. train_size=5000 (repeatable)")
    add_declared_options(parser, TRAIN_OPTIONS, TRAIN_TABLES)
    parser.add_argument("--evolution", dest="rule", action=Deprecated, new="--rule", help="old name of --rule")
    add_memory_option(parser)


def train_config(args):
    """The run configuration of the TOML file, ``--params`` and the options; and the dotted keys given."""
    data = read_toml(args.config) if args.config else {}
    changes = parameter_changes(read_params(args.params)) if args.params else []
    changes += [(f"task.{key}", value) for key, value in args.task_option or []]
    changes += option_changes(args, TRAIN_OPTIONS)
    data = apply_changes(data, changes, "option", renames=LEGACY_TABLES)
    source = str(args.config) if args.config else "options"
    config = config_from_dict(data, source)
    return config.validate(), dotted_keys(data)


def add_parser(commands) -> None:
    parser = commands.add_parser("train", help="train one sparse network (SET, SET-motif, RigL or static)")
    parser.add_argument("config", nargs="?", help="a TOML file with [task] [model] [rewiring] [training]")
    add_train_options(parser)
    add_data_options(parser)
    add_output_options(parser)
    parser.add_argument("--save-model", action="store_true", help="also write model.pt (state_dict)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    config, given = train_config(args)
    task = load_configured_task(config, args.data_dir)
    if task.sequence:
        apply_sequence_defaults(config, given)
    if config.model.genotype is not None and "rewiring.rule" not in given:
        if not family_of(load_genotype(config.model.genotype), task).rewiring:
            config.rewiring.rule = "none"  # e.g. convolutional networks train without rewiring
    config.task.options = dict(task.options)
    console = Console(stderr=True)
    progress = None if args.no_progress else ProgressBar(f"{task.name} · {config.rewiring.rule}")
    run_dir = new_run_dir(args.name, args.runs, prefix="train-", overwrite=args.overwrite)
    write_json(run_dir / "config.json", config.to_dict())

    trace = ImportanceTrace(k=min(20, task.n_inputs))  # an MLP's top inputs after every epoch's rewiring
    model, result = run_training(config, task, [progress, trace])
    write_json(run_dir / "result.json", result.to_dict())
    if trace.tops:
        write_json(run_dir / "input_importance.json", {**trace.to_dict(),
                                                       "strength": input_importance(model).tolist(),
                                                       "degree": input_importance(model, "degree").tolist()})
    write_curves(run_dir / "curves.csv", result.curves)
    if args.save_model:
        torch.save(model.state_dict(), run_dir / "model.pt")
    summary = (
        f"{result.status}: test accuracy {result.test_accuracy:.4f} at epoch {result.selected_epoch} "
        f"(validation {result.val_accuracy:.4f}), "
        + (f"{sum(result.connections):,} connections, " if result.connections
           else f"{sum(p.numel() for p in model.parameters()):,} parameters, ")
        + f"{result.seconds.get('total', 0):.1f} s"
        if result.test_accuracy is not None else f"{result.status}: {result.reason}"
    )
    console.print(summary)
    console.print(f"results in {run_dir}")
    return 0 if result.status in ("ok", "stopped-early") else 1
