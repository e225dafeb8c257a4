"""Pruning a trained model with the shared trainer: ``structsearch prune`` and the pruning curves
of the MNIST study.

After every pruning step the model is evaluated as pruned, then retrained for the configured
epochs (the pruned connections stay removed) and evaluated again.  Accuracy is measured on the
validation split and, as in Stier et al.'s curves, on the test split.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from structsearch import seeds
from structsearch.config import RunConfig
from structsearch.declare import Either, Interval, Options, check_settings, document_settings, setting
from structsearch.errors import ConfigError, DataError
from structsearch.pipeline import load_configured_task, load_trained_model, run_training
from structsearch.sparsity.pruning import (
    METHODS,
    SCHEDULES,
    PruningContext,
    check_count,
    check_fraction,
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
            config = dataclasses.replace(
                training, epochs=retrain_epochs, seed=seeds.derive(training.seed, "retrain", step)
            )
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


@document_settings
@dataclass
class PruneConfig:
    """What ``structsearch prune`` removes: a method, a schedule and exactly one of ``amount`` (a
    fraction of the live weights) and ``count``, with ``retrain_epochs`` after each of ``steps``.
    Its options' help, types and defaults come from these declarations."""

    method: str = setting("magnitude-blinded", "how the weights to remove are chosen", Options(lambda: METHODS))
    schedule: str = setting("one-shot", "one-shot, or iterative schedules of --steps steps", Options(lambda: SCHEDULES))
    amount: float | None = setting(None, "fraction of the live weights to remove",
                                   Either((None, Interval(0, 1))))
    count: int | None = setting(None, "number of weights to remove (instead of --amount)",
                                Either((None, Interval(1, None, integer=True))))
    steps: int = setting(5, "steps of the iterative schedules", Interval(1, None, integer=True))
    retrain_epochs: int = setting(1, "retraining epochs after each step", Interval(0, None, integer=True))
    seed: int = setting(0, "the seed of the retraining", Interval(0, None, integer=True))

    def validate(self) -> PruneConfig:
        check_settings(self, "--")  # a command's options
        if (self.amount is None) == (self.count is None):
            raise ConfigError("give exactly one of --amount FRACTION and --count N")
        return self


@dataclass
class PruneResult:
    rows: list[dict]  # one per step (see :func:`pruning_curve`)
    model: object  # the pruned, retrained model
    config: RunConfig  # the model's training configuration
    task: object


def run_prune(prune: PruneConfig, config: RunConfig | None = None, model_dir: str | Path | None = None,
              data_dir: str | None = None, announce=None) -> PruneResult:
    """Prune the trained model of ``model_dir`` (``structsearch train --save-model``), or train
    ``config`` first (``announce(text)`` is told before that training starts)."""
    prune.validate()
    if model_dir is not None:
        config, task, model = load_trained_model(model_dir, data_dir)
    else:
        config = config or RunConfig()
        task = load_configured_task(config, data_dir)
        if announce is not None:
            announce(f"training {task.name} first ({config.training.epochs} epochs)…")
        model, result = run_training(config, task)
        if result.status != "ok":
            raise DataError(f"training before pruning ended {result.status}: {result.reason}")
    total = live_count(model)
    if prune.count is not None:
        check_count(prune.count, total)
        target = prune.count / total
    else:
        check_fraction(prune.amount)
        target = prune.amount
    rows = pruning_curve(model, task, prune.method, prune.schedule, target, prune.steps, prune.retrain_epochs,
                         config.training, prune.seed)
    return PruneResult(rows, model, config, task)
