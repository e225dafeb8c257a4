"""A fake evaluator: the real search without training, for tests and dry runs of a space.

:class:`StructureScoreExecutor` is an executor like the others (``run(jobs) -> results``), but a job's
result is a deterministic function of the candidate's structure instead of a training: the engine,
the store, deduplication, the gate, the budget, selection and resume all run as they do for real, in
milliseconds. The score rises with the logarithm of the connections (parameters of a convolutional
genotype) and falls a little with depth, with a small jitter fixed by the genotype's graph hash, so that
candidates are ranked, the gate has something to learn, and a seed gives the same search twice. With
``init_noise`` the score also moves by up to ± ``init_noise`` / 2 with the job's training seed, as a real
training's accuracy moves with its initialisation (``[evolution] reseeds`` has something to find).

It does not train, so it measures nothing about the structures: no weights (weight inheritance
needs a real executor), no proxies, no rewiring, no stopping rules. A result's ``cost_macs`` is the compute its training
would have cost (the job's ``planned_macs``), so that a ``max_macs`` budget acts as for real.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np

from structsearch.search.worker import Job, JobResult


def structure_score(genotype) -> float:
    """A stand-in validation accuracy in (0, 1) from structure alone (see the module's docstring)."""
    shape = genotype.describe()
    depth = shape.get("hidden_layers", shape.get("stages", 0))
    jitter = int(genotype.content_hash()[:8], 16) / 0xFFFFFFFF - 0.5  # the same for isomorphic genotypes
    raw = 1.0 - 1.0 / (1.0 + math.log1p(genotype.connections) / 3.0) - 0.01 * depth + 0.04 * jitter
    return min(0.999, max(0.001, raw))


class StructureScoreExecutor:
    """Scores each job with :func:`structure_score`, in this process, one after another."""

    workers = 1
    trains = False  # a search started on it is stored as a dry run (Search.start)

    def __init__(self, init_noise: float = 0.0):
        self.init_noise = init_noise

    def run(self, jobs: Iterable[str | None]) -> Iterator[str]:
        for text in jobs:
            if text is not None:
                yield self.evaluate(text)

    def evaluate(self, text: str) -> str:
        job = Job.from_json(text)
        score, epochs = structure_score(job.genotype), job.training.epochs
        if self.init_noise:
            luck = np.random.default_rng(job.seed).uniform(-0.5, 0.5)
            score = min(0.999, max(0.001, score + self.init_noise * luck))
        curve = [round(score * (1 - 0.5 ** (e + 1)), 6) for e in range(epochs)]
        metrics = {"val_accuracy": curve[-1], "test_accuracy": round(curve[-1] - 0.01, 6), "test_loss": 1 - curve[-1],
                   "selected_epoch": epochs - 1, "epochs_run": epochs, "connections": job.genotype.connections,
                   "trained_connections": job.genotype.connections, "nodes": job.genotype.n_nodes,
                   "peak_memory_mb": 0.0, "proxies": {}, "cost_macs": job.planned_macs}
        seconds = {"train": 0.0, "evaluation": 0.0, "evolution": 0.0, "total": 0.0, "proxies": 0.0}
        return JobResult(job.id, "ok", "", metrics, {"val_accuracy": curve, "train_loss": [1 - c for c in curve]},
                         seconds, worker={"fake": "structure-score"}).to_json()

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "structure-score (no training)"


__all__ = ["StructureScoreExecutor", "structure_score"]
