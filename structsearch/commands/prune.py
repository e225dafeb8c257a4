"""``structsearch prune``: prune a trained model (or train one first), retraining between steps."""

from __future__ import annotations

from dataclasses import replace

import torch
from rich.console import Console
from rich.table import Table

from structsearch.commands._options import (
    add_data_options,
    add_output_options,
    add_settings_options,
    settings_from,
)
from structsearch.commands.train import TRAIN_OPTIONS, add_train_options, train_config
from structsearch.errors import ConfigError
from structsearch.prune_run import PruneConfig, run_prune
from structsearch.runs import new_run_dir, write_json, write_rows


def add_parser(commands) -> None:
    parser = commands.add_parser("prune", help="prune a trained model (or train one first), retraining between steps")
    parser.add_argument("config", nargs="?", help="a train TOML file (the model is trained first)")
    parser.add_argument("--model", metavar="RUN", help="a `structsearch train --save-model` run directory instead")
    add_settings_options(parser, PruneConfig, skip=("seed",))  # --seed is the training's
    add_train_options(parser)
    add_data_options(parser)
    add_output_options(parser)


def run(args) -> int:
    console = Console(stderr=True)
    request = replace(settings_from(args, PruneConfig), seed=args.seed or 0).validate()
    if args.model:
        _refuse_ignored(args)
    config = None if args.model else train_config(args)[0]
    run_dir = new_run_dir(args.name, args.runs, prefix="prune-", overwrite=args.overwrite)
    result = run_prune(request, config, args.model, args.data_dir, announce=console.print)
    write_rows(run_dir / "pruning.csv", result.rows)
    write_json(run_dir / "config.json", result.config.to_dict())
    torch.save(result.model.state_dict(), run_dir / "model.pt")
    table = Table(title=f"{args.method}, {args.schedule}, {args.retrain_epochs} retraining epoch(s) per step")
    for column in ("step", "remaining", "test acc pruned", "test acc retrained"):
        table.add_column(column, justify="right")
    for row in result.rows:
        table.add_row(str(row["step"]), f"{row['remaining']:,} ({100 * row['remaining_fraction']:.1f} %)",
                      f"{row['test_accuracy_pruned']:.4f}", f"{row['test_accuracy_retrained']:.4f}")
    Console().print(table)
    console.print(f"results in {run_dir} (pruning.csv, model.pt)")
    return 0


def _refuse_ignored(args) -> None:
    """``--model RUN`` prunes the stored model with its stored settings: a train file or option
    that would be ignored is refused instead."""
    ignored = [f"--{option.replace('_', '-')}" for option in TRAIN_OPTIONS
               if option != "seed" and getattr(args, option, None) is not None]
    ignored += (["CONFIG"] if args.config else []) + (["--params"] if args.params else [])
    ignored += ["--task-option"] if args.task_option else []
    if ignored:
        raise ConfigError(f"--model {args.model} prunes the stored model with its stored settings; "
                          f"drop {', '.join(ignored)}")
