"""Pruning a trained model with the shared trainer: ``structsearch prune`` and the pruning curves
of the MNIST study.

After every pruning step the model is evaluated as pruned, then retrained for the configured
epochs (the pruned connections stay removed) and evaluated again.  Accuracy is measured on the
validation split and, as in Stier et al.'s curves, on the test split.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import torch

from structsearch.errors import ConfigError, DataError
from structsearch.sparsity.pruning import (
    SCHEDULES,
    PruningContext,
    live_count,
    make_method,
    run_schedule,
)
from structsearch.train import TrainConfig, Trainer


def accuracy(model, task, split) -> float:
    return Trainer(model, task, TrainConfig(epochs=1)).evaluate(split)[1]


def context_for(model, task, samples: int = 10_000, batch_size: int = 32) -> PruningContext:
    inputs = (task.train.x,) if task.train.lengths is None else (task.train.x, task.train.lengths)
    return PruningContext(model, task.loss_fn, inputs, samples=samples, batch_size=batch_size)


def pruning_curve(model, task, method: str, schedule: str, target: float, steps: int, retrain_epochs: int,
                  training: TrainConfig, seed: int = 0, samples: int = 10_000) -> list[dict]:
    """Prune ``model`` in place; one row per step (see the module docstring)."""
    if retrain_epochs < 0:
        raise ConfigError(f"retrain epochs must be ≥ 0, got {retrain_epochs}")
    initial = live_count(model)
    rows = [{"step": 0, "method": method, "schedule": schedule, "removed": 0, "remaining": initial,
             "remaining_fraction": 1.0, "val_accuracy_pruned": accuracy(model, task, task.validation),
             "test_accuracy_pruned": accuracy(model, task, task.test)}]
    rows[0].update({"val_accuracy_retrained": rows[0]["val_accuracy_pruned"],
                    "test_accuracy_retrained": rows[0]["test_accuracy_pruned"], "seconds": 0.0})
    clock = [time.perf_counter()]

    def between(step: int, removed: int) -> None:
        row = {"step": step + 1, "method": method, "schedule": schedule, "removed": removed,
               "remaining": initial - removed, "remaining_fraction": (initial - removed) / initial,
               "val_accuracy_pruned": accuracy(model, task, task.validation),
               "test_accuracy_pruned": accuracy(model, task, task.test)}
        if retrain_epochs:
            config = dataclasses.replace(training, epochs=retrain_epochs, seed=training.seed + step + 1)
            result = Trainer(model, task, config).fit()
            if result.status not in ("ok", "stopped-early"):
                raise DataError(f"retraining after step {step + 1} {result.status}: {result.reason}")
        row["val_accuracy_retrained"] = accuracy(model, task, task.validation)
        row["test_accuracy_retrained"] = accuracy(model, task, task.test)
        row["seconds"] = round(time.perf_counter() - clock[0], 3)
        clock[0] = time.perf_counter()
        rows.append(row)

    pruner = make_method(method, seed)
    context = context_for(model, task, samples) if pruner.needs_data else None
    run_schedule(model, pruner, schedule, target, steps, context, between)
    return rows


def load_trained_model(run_dir, data_dir=None):
    """(config, task, model) of a ``structsearch train --save-model`` (or ``prune``) run directory."""
    from structsearch.config import config_from_dict
    from structsearch.pipeline import build_model, load_configured_task

    source = Path(run_dir)
    config_path, weights = source / "config.json", source / "model.pt"
    if not config_path.is_file() or not weights.is_file():
        raise DataError(f"{source}: not a trained model's run directory (needs config.json and model.pt "
                        "from `structsearch train --save-model`)")
    try:
        stored = json.loads(config_path.read_text())
        stored["task"] = {"name": stored["task"]["name"], **stored["task"].get("options", {})}
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise DataError(f"{config_path}: not a run configuration ({error})") from None
    config = config_from_dict(stored, str(config_path)).validate()
    task = load_configured_task(config, data_dir)
    model = build_model(config, task)
    try:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    except (RuntimeError, OSError, KeyError) as error:
        raise DataError(f"{weights}: does not fit the model of {config_path} ({error})") from None
    return config, task, model


def run_prune_command(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from structsearch.cli import _train_config
    from structsearch.pipeline import load_configured_task, run_training
    from structsearch.runs import new_run_dir, write_json, write_rows

    if args.schedule not in SCHEDULES:
        raise ConfigError(f"unknown pruning schedule {args.schedule!r}; known: {', '.join(SCHEDULES)}")
    make_method(args.method)
    console = Console(stderr=True)
    if args.model:
        config, task, model = load_trained_model(args.model, args.data_dir)
    else:
        config, _ = _train_config(args)
        task = load_configured_task(config, args.data_dir)
        console.print(f"training {task.name} first ({config.training.epochs} epochs)…")
        model, result = run_training(config, task)
        if result.status != "ok":
            raise DataError(f"training before pruning ended {result.status}: {result.reason}")
    from structsearch.sparsity.pruning import check_count, check_fraction

    if (args.amount is None) == (args.count is None):
        raise ConfigError("give exactly one of --amount FRACTION and --count N")
    total = live_count(model)
    if args.count is not None:
        check_count(args.count, total)
        target = args.count / total
    else:
        check_fraction(args.amount)
        target = args.amount
    rows = pruning_curve(model, task, args.method, args.schedule, target, args.steps, args.retrain_epochs,
                         config.training, args.seed or 0)
    run_dir = new_run_dir(args.name, args.runs, prefix="prune-")
    write_rows(run_dir / "pruning.csv", rows)
    write_json(run_dir / "config.json", config.to_dict())
    torch.save(model.state_dict(), run_dir / "model.pt")
    table = Table(title=f"{args.method}, {args.schedule}, {args.retrain_epochs} retraining epoch(s) per step")
    for column in ("step", "remaining", "test acc pruned", "test acc retrained"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(str(row["step"]), f"{row['remaining']:,} ({100 * row['remaining_fraction']:.1f} %)",
                      f"{row['test_accuracy_pruned']:.4f}", f"{row['test_accuracy_retrained']:.4f}")
    Console().print(table)
    console.print(f"results in {run_dir} (pruning.csv, model.pt)")
    return 0
