"""Helpers the search process and the training workers both use: the per-process task cache, the
median curve of the stopping rule, base64 text for bytes that cross as JSON, a candidate's zero-cost
proxies and its planned training compute."""

from __future__ import annotations

import base64
import itertools
import json
import math
import statistics

from structsearch.compute import planned_cost
from structsearch.config import RunConfig, TaskConfig, task_table
from structsearch.nn.proxies import score
from structsearch.pipeline import ModelSpec, build_candidate, load_configured_task
from structsearch.train import batch_inputs

_TASKS: dict[str, object] = {}


def cached_task(task: TaskConfig, data_dir: str | None):
    """The task of ``task``, loaded once per process."""
    key = json.dumps([task_table(task), data_dir], sort_keys=True)
    if key not in _TASKS:
        _TASKS[key] = load_configured_task(RunConfig(task=task), data_dir)
    return _TASKS[key]


def median_curve(curves: list[list[float]]) -> list[float]:
    """Per epoch, the median over the curves long enough to have that epoch (of their running best)."""
    best = [list(itertools.accumulate(curve, max)) for curve in curves if curve]
    length = max((len(curve) for curve in best), default=0)
    return [statistics.median(c[i] for c in best if len(c) > i) for i in range(length)]


def stopping_medians(store, stopping, generation: int) -> list[float] | None:
    """The median rule's curve for ``generation``: over the earlier generations' finished candidates,
    once there are ``stopping.startup`` of them; None when the rule does not act."""
    if not stopping.median:
        return None
    curves = [c.curves.get("val_accuracy", []) for c in store.candidates()
              if c.generation < generation and c.status in ("ok", "stopped-early")
              and not c.metrics.get("duplicate_of")]
    return median_curve(curves) if len(curves) >= stopping.startup else None


def b64(blob: bytes) -> str:
    """``blob`` as base64 text, for JSON."""
    return base64.b64encode(blob).decode("ascii")


def candidate_proxies(network, task, batch_size: int, names=None) -> tuple[dict, float]:
    """The zero-cost proxies (:mod:`structsearch.nn.proxies`) of an untrained candidate on the first
    ``batch_size`` training rows, non-finite ones as None, and the seconds they took.  They draw no
    random numbers the training would see (the trainer seeds its own)."""
    device = next(network.parameters()).device
    inputs, y = batch_inputs(task.train, slice(0, batch_size), device)
    values, seconds = score(network, inputs, y, task.loss_fn, *([names] if names else []))
    return {name: value if math.isfinite(value) else None for name, value in values.items()}, seconds


def planned_macs(genotype, model, rewiring, training, task, family: str | None = None) -> int:
    """The MACs of training ``genotype``'s network for all ``training.epochs``
    (:func:`structsearch.compute.planned_cost`): what the budget reserves for it while it trains."""
    network, rule = build_candidate(genotype, ModelSpec(model, rewiring), task, 0, family)
    return planned_cost(network, task, rule, training.epochs)
