"""Training one candidate, wherever it runs: a local worker process, a Dask worker, or in-process.

Jobs and results cross process and machine boundaries as JSON text (the genotype inside as
base64 of its compressed arrays), never as pickled objects.  Each worker process loads a task's
data once and keeps it for every later job on that task.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import socket
import statistics
import traceback

import torch

from structsearch.train_callbacks import Callback, StopTraining

_TASKS: dict[str, object] = {}


def encode_genotype(graph) -> str:
    return base64.b64encode(graph.to_bytes()).decode("ascii")


def decode_genotype(text: str, source: str = "job"):
    from structsearch.graphs import LayeredGraph

    return LayeredGraph.from_bytes(base64.b64decode(text), source)


def cached_task(task: dict, data_dir: str | None):
    """The task named in ``task`` (``{"name": …, "options": {…}}``), loaded once per process."""
    key = json.dumps([task, data_dir], sort_keys=True)
    if key not in _TASKS:
        from structsearch.config import RunConfig, TaskConfig
        from structsearch.pipeline import load_configured_task

        _TASKS[key] = load_configured_task(RunConfig(task=TaskConfig(task["name"], dict(task["options"]))), data_dir)
    return _TASKS[key]


def median_curve(curves: list[list[float]]) -> list[float]:
    """Per epoch, the median over the curves long enough to have that epoch (of their running best)."""
    best = [list(itertools.accumulate(curve, max)) for curve in curves if curve]
    length = max((len(curve) for curve in best), default=0)
    return [statistics.median(c[i] for c in best if len(c) > i) for i in range(length)]


class MedianStopping(Callback):
    """Optuna's median rule: after ``warmup`` epochs, stop a candidate whose best validation accuracy
    so far is below the median of earlier candidates' best at the same epoch."""

    def __init__(self, medians: list[float], warmup: int = 1):
        self.medians, self.warmup = medians, warmup

    def on_epoch_end(self, trainer, epoch):
        if epoch + 1 <= self.warmup or epoch >= len(self.medians):
            return
        best = max(trainer.history["val_accuracy"])
        if best < self.medians[epoch]:
            raise StopTraining(f"median rule: best validation accuracy {best:.4f} below the median "
                               f"{self.medians[epoch]:.4f} at epoch {epoch}")


def build_candidate_model(graph, cell: str | None, task, model: dict, seed: int):
    """Decode a genotype: a sparse MLP, or a sparse recurrent net of ``cell``."""
    if cell:
        from structsearch.nn.recurrent import SparseRecurrentNet

        return SparseRecurrentNet.from_graph(graph, cell, task.vocabulary_size or 128, seed=seed)
    from structsearch.nn.mlp import SparseMLP

    generator = torch.Generator().manual_seed(seed)
    return SparseMLP(graph.to_blocks(), activation=model.get("activation", "relu"),
                     dropout=model.get("dropout", 0.0), generator=generator)


def evaluate(job_text: str) -> str:
    """Train the candidate of a JSON job; returns the JSON result.  Never raises for a bad candidate:
    an error becomes a ``failed`` result with the error in one line."""
    job = json.loads(job_text)
    torch.set_num_threads(max(1, int(job.get("threads", 1))))
    where = {"host": socket.gethostname(), "pid": os.getpid()}
    try:
        return json.dumps({**_train(job), "id": job["id"], "worker": where})
    except Exception as error:  # a broken candidate must not stop the search
        last = traceback.extract_tb(error.__traceback__)[-1]
        reason = f"{type(error).__name__}: {error} ({os.path.basename(last.filename)}:{last.lineno})"
        return json.dumps({"id": job["id"], "status": "failed", "reason": reason.replace("\n", " "),
                           "metrics": {}, "curves": {}, "seconds": {}, "worker": where})


def train_candidate(graph, cell: str | None, task, model: dict, training: dict, rewiring: dict, seed: int,
                    callbacks=()):
    """Decode ``graph`` and train it with the shared trainer and the rewiring rule; the TrainResult."""
    from structsearch.config import EvolutionConfig
    from structsearch.sparsity.evolution import make_evolution
    from structsearch.train import TrainConfig, train

    network = build_candidate_model(graph, cell, task, model, seed)
    evolution = make_evolution(rewiring["rule"], **EvolutionConfig(**rewiring).rule_options(seed + 1)) \
        if rewiring["rule"] != "none" else None
    return train(network, task, TrainConfig(**{**training, "seed": seed}), [evolution, *callbacks])


def result_metrics(graph, result) -> dict:
    return {"val_accuracy": result.val_accuracy, "test_accuracy": result.test_accuracy,
            "test_loss": result.test_loss, "selected_epoch": result.selected_epoch,
            "epochs_run": result.epochs_run, "connections": graph.n_edges,
            "trained_connections": int(sum(result.connections)), "nodes": graph.n_nodes,
            "peak_memory_mb": result.peak_memory_mb}


def _train(job: dict) -> dict:
    task = cached_task(job["task"], job.get("data_dir"))
    graph = decode_genotype(job["genotype"], f"candidate {job['id']}")
    callbacks = [MedianStopping(job["medians"], job.get("median_warmup", 1))] if job.get("medians") else []
    result = train_candidate(graph, job.get("cell"), task, job["model"], job["training"], job["rewiring"],
                             int(job["seed"]), callbacks)
    return {"status": result.status, "reason": result.reason, "metrics": result_metrics(graph, result),
            "curves": result.curves, "seconds": result.seconds}
