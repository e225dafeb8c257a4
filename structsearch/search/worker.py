"""Training one candidate, wherever it runs: a local worker process, a Dask worker, or in-process.

Jobs and results are typed (:class:`Job`, :class:`JobResult`) and cross process and machine
boundaries as JSON text (the genotype inside as base64 of its compressed arrays), never as pickled
objects.  Each worker process loads a task's
data once and keeps it for every later job on that task.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import traceback
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np
import torch

from structsearch.compute import candidate_cost, connection_counts
from structsearch.config import ModelConfig, RewiringConfig, TaskConfig, task_from_table, task_table
from structsearch.families import genotype_from_bytes
from structsearch.graphs import Genotype
from structsearch.nn.importance import input_importance
from structsearch.nn.mlp import SparseMLP
from structsearch.nn.weights import NodeWeights, extract, learned_graph, renumber, transfer
from structsearch.pipeline import ModelSpec, build_candidate
from structsearch.search.gate.curve import CurveGate, CurveStop
from structsearch.search.shared import b64, cached_task, candidate_proxies, median_curve  # noqa: F401 (0.2 names)
from structsearch.threads import settings
from structsearch.train import TrainConfig, train
from structsearch.train_callbacks import Callback, StopTraining


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


@dataclass
class Job:
    """One candidate to train, as it crosses to a worker (JSON, never pickle)."""

    id: int
    genotype: Genotype
    task: TaskConfig
    model: ModelConfig  # its ``cell`` decodes the genotype into a recurrent net
    rewiring: RewiringConfig
    training: TrainConfig
    seed: int
    data_dir: str | None = None
    medians: list[float] | None = None  # the median rule's curve, when it acts
    median_warmup: int = 1
    threads: int = 1
    curve_gate: CurveGate | None = None  # the gate's curve stage, when it acts (CurveStop)
    # weight inheritance: {"parents": [base64 weights files, by parent slot], "tags": the genotype's
    # node tags (structsearch.graphs.lineage)}; the training epochs are already the inherited ones
    inherit: dict | None = None
    # what a trained candidate keeps: {"optimizer": bool, "lamarckian": bool} (None: nothing)
    keep: dict | None = None
    family: str | None = None  # the genotype family that decodes it (None: the one its type and task call for)
    planned_macs: int = 0  # the compute of its full training, which the budget reserves (structsearch.compute)

    def to_json(self) -> str:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(genotype=b64(self.genotype.to_bytes()),
                    task=task_table(self.task), model=asdict(self.model), rewiring=asdict(self.rewiring),
                    training=asdict(self.training),
                    curve_gate=None if self.curve_gate is None else self.curve_gate.to_dict())
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Job:
        data = json.loads(text)
        data["genotype"] = genotype_from_bytes(base64.b64decode(data["genotype"]), f"candidate {data['id']}")
        data["task"] = task_from_table(data["task"], "job")
        for key, kind in (("model", ModelConfig), ("rewiring", RewiringConfig), ("training", TrainConfig)):
            data[key] = kind(**data[key])
        if data.get("curve_gate") is not None:
            data["curve_gate"] = CurveGate.from_dict(data["curve_gate"])
        return cls(**data)


@dataclass
class JobResult:
    """What a worker sends back for a :class:`Job`."""

    id: int
    status: str
    reason: str = ""
    metrics: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    worker: dict | None = None
    weights: str | None = None  # base64 of the kept weights file (structsearch.nn.weights)
    genotype: str | None = None  # base64 of the learned genotype (Lamarckian inheritance)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> JobResult:
        return cls(**json.loads(text))

    @classmethod
    def lost(cls, job_text: str, why: str) -> JobResult:
        """The result of a job whose worker died."""
        return cls(json.loads(job_text)["id"], "failed", why)


def warm_up(task: str | None, data_dir: str | None) -> None:
    """Load the task of a JSON task table into this process's cache ahead of its first job (a
    worker's start; a bad table is left for the job to report)."""
    if task is not None:
        cached_task(task_from_table(json.loads(task), "warm-up"), data_dir)


def evaluate(job_text: str) -> str:
    """Train the candidate of a JSON :class:`Job`; returns the JSON :class:`JobResult`.  Never
    raises for a bad candidate: an error becomes a ``failed`` result with the error in one line."""
    started = time.time()
    job_id = json.loads(job_text)["id"]
    # where and when it ran: the wall-clock start (seconds since the epoch, comparable with the search
    # process's clock on one machine) and the job's seconds in this process, for profiles of the workers
    where = {"host": socket.gethostname(), "pid": os.getpid(), "started": started}
    try:
        job = Job.from_json(job_text)
        torch.set_num_threads(max(1, job.threads))
        where["threads"] = settings()  # what this worker runs with, stored with the result
        result = _train(job)
        where["seconds"] = round(time.time() - started, 4)
        return replace(result, worker=where).to_json()
    except Exception as error:  # a broken candidate must not stop the search
        last = traceback.extract_tb(error.__traceback__)[-1]
        reason = f"{type(error).__name__}: {error} ({os.path.basename(last.filename)}:{last.lineno})"
        return JobResult(job_id, "failed", reason.replace("\n", " "), worker=where).to_json()


def train_candidate(graph, task, model: ModelConfig, rewiring: RewiringConfig, training: TrainConfig, seed: int,
                    callbacks=(), prepare=None, keep_optimizer: bool = False, family: str | None = None):
    """Decode ``graph`` with :func:`~structsearch.pipeline.build_candidate` and train it with the
    shared trainer and its rewiring rule; the TrainResult, with the trained ``network`` on it.
    ``prepare(network, rule)`` runs before training, after the zero-cost proxies (weight
    inheritance); its return value is the result's ``prepared``."""
    network, rule = build_candidate(graph, ModelSpec(model, rewiring), task, seed, family)
    proxies, seconds = candidate_proxies(network, task, training.batch_size)
    prepared = prepare(network, rule) if prepare is not None else None
    initial = connection_counts(network)
    result = train(network, task, replace(training, seed=seed), [rule, *callbacks], keep_optimizer=keep_optimizer)
    result.cost_macs = candidate_cost(network, task, rule, training.epochs, result.epochs_run,
                                      result.curves.get("connections"), initial)
    result.proxies, result.seconds["proxies"] = proxies, round(seconds, 6)
    result.network, result.prepared = network, prepared
    return result


def _inherit(job: Job):
    """The ``prepare`` hook that starts a child from its parents' weights (None without inheritance)."""
    if not job.inherit:
        return None
    def prepare(network, rule):
        parents = [NodeWeights.from_bytes(base64.b64decode(text), f"candidate {job.id}'s parent {k}")
                   for k, text in enumerate(job.inherit["parents"])]
        tagged = job.genotype.with_tags(job.inherit["tags"])
        return transfer(network, tagged, parents, rule.initial_values if rule is not None else None)

    return prepare


def _kept(job: Job, result) -> tuple[str | None, str | None, dict]:
    """(weights file, learned genotype, metrics) a trained candidate keeps, as base64."""
    if not job.keep or result.status not in ("ok", "stopped-early"):
        return None, None, {}
    weights = extract(result.network, job.genotype,
                      result.optimizer_state if job.keep.get("optimizer") else None, candidate=job.id)
    if not job.keep.get("lamarckian"):
        return b64(weights.to_bytes()), None, {}
    learned, removed = learned_graph(weights, job.genotype)
    weights = renumber(weights, learned)
    n = job.genotype.n_nodes  # the learned edges in the birth genotype's node ids (its tags)
    kept = np.intersect1d(learned.tags[learned.src] * n + learned.tags[learned.dst], job.genotype.edge_keys())
    learned = learned.with_tags(None)
    return (b64(weights.to_bytes()), b64(learned.to_bytes()),
            {"lamarckian": {"edges_moved": int(job.genotype.n_edges - kept.size), "neurons_removed": removed,
                            "birth_edges": job.genotype.n_edges, "learned_edges": learned.n_edges}})


def input_strengths(network) -> list[float] | None:
    """The trained candidate's input importance (QuickSelection's neuron strength, 6 significant
    digits) for a sparse MLP, else None."""
    if not isinstance(network, SparseMLP):
        return None
    return [float(f"{value:.6g}") for value in input_importance(network)]


def result_metrics(graph, result) -> dict:
    return {"val_accuracy": result.val_accuracy, "test_accuracy": result.test_accuracy,
            "test_loss": result.test_loss, "selected_epoch": result.selected_epoch,
            "epochs_run": result.epochs_run, "connections": graph.connections,
            "trained_connections": int(sum(result.connections)), "nodes": graph.n_nodes,
            "peak_memory_mb": result.peak_memory_mb, "proxies": result.proxies,
            "cost_macs": result.cost_macs}


def _train(job: Job) -> JobResult:
    task = cached_task(job.task, job.data_dir)
    callbacks = [MedianStopping(job.medians, job.median_warmup)] if job.medians else []
    if job.curve_gate:
        callbacks.append(CurveStop(job.curve_gate))
    result = train_candidate(job.genotype, task, job.model, job.rewiring, job.training, job.seed, callbacks,
                             _inherit(job), bool(job.keep and job.keep.get("optimizer")), job.family)
    metrics = result_metrics(job.genotype, result)
    importance = input_strengths(result.network)
    if importance is not None:  # what the input operators of its children read (drop-inputs, focus-inputs)
        metrics["input_importance"] = importance
    if result.prepared is not None:
        metrics["inheritance"] = {**result.prepared, "epochs": job.training.epochs}
    weights, genotype, kept = _kept(job, result)
    return JobResult(job.id, result.status, result.reason, {**metrics, **kept}, result.curves, result.seconds,
                     weights=weights, genotype=genotype)
