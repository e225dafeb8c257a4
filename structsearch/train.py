"""The one trainer every candidate goes through.

``Trainer(model, task, config, callbacks).fit()`` trains with SGD (momentum, weight decay) or
Adam, validates after every epoch, keeps the weights of the best validation epoch, and reads the
test split exactly once, with those weights.  Time is split into training, evaluation and topology
evolution.  A diverging run (non-finite loss) ends as a ``diverged`` result rather than an
exception.
"""

from __future__ import annotations

import math
import resource
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from torch import nn

from structsearch.declare import Either, Interval, Options, Text, check_settings, document_settings, setting
from structsearch.errors import ConfigError
from structsearch.nn import kernels
from structsearch.registry import names_registry
from structsearch.tasks import Split, Task
from structsearch.threads import ThreadGovernor
from structsearch.train_callbacks import Callback, StopTraining

OPTIMIZERS = names_registry("optimizer", ("sgd", "adam"))


@document_settings
@dataclass
class TrainConfig:
    """Optimisation settings.  Checked by :meth:`validate`, which names the bad key and value."""

    epochs: int = setting(10, "training epochs", Interval(1, None, integer=True))
    batch_size: int = setting(64, "samples per training batch", Interval(1, None, integer=True))
    optimizer: str = setting("sgd", "the optimizer (sgd: with momentum and weight decay)", Options(lambda: OPTIMIZERS))
    lr: float = setting(0.05, "learning rate", Interval(0, None, low_open=True))
    momentum: float = setting(0.9, "SGD momentum", Interval(0, 1, high_open=True))
    weight_decay: float = setting(0.0, "L2 weight decay", Interval(0, None))
    grad_clip: float | None = setting(None, "clip the gradient norm at this value (unset: no clipping)",
                                      Either((None, Interval(0, None, low_open=True))))
    seed: int = setting(0, "the seed every random draw of the run derives from",
                        Interval(0, 2**63, high_open=True, integer=True))
    device: str = setting("cpu", "torch device (cpu, cuda, cuda:1, …); must exist on this machine",
                          Text("a torch device name"))
    eval_batch_size: int = setting(2048, "samples per evaluation batch", Interval(1, None, integer=True))
    lr_schedule: str = setting("constant", "constant, or cosine: epoch e of E trains at lr · ½(1 + cos(π e / E))",
                               Options(("constant", "cosine")))

    def validate(self) -> TrainConfig:
        check_settings(self, "training")
        check_device(self.device)  # a device this machine has
        return self


def epoch_lr(config: TrainConfig, epoch: int, epochs: int) -> float:
    """The learning rate of ``epoch`` (from 0) of ``epochs`` under the config's schedule."""
    if config.lr_schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
    return config.lr


def check_device(device) -> str:
    """``device`` if torch knows it and this machine has it; else a :class:`ConfigError`."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"device must be cpu, cuda or cuda:N, got {device!r}") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r}: this machine has no CUDA device (use cpu)")
    if parsed.type not in ("cpu", "cuda"):
        raise ConfigError(f"device must be cpu, cuda or cuda:N, got {device!r}")
    return device


@dataclass
class TrainResult:
    """What a training run measured."""

    status: str  # ok, diverged, failed or stopped-early
    reason: str = ""
    selected_epoch: int | None = None
    val_accuracy: float | None = None
    test_accuracy: float | None = None
    test_loss: float | None = None
    epochs_run: int = 0
    connections: list[int] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    peak_memory_mb: float = 0.0
    curves: dict[str, list] = field(default_factory=dict)
    proxies: dict[str, float | None] = field(default_factory=dict)  # zero-cost proxies at initialisation
    cost_macs: int = 0  # the training's compute (structsearch.compute.candidate_cost), set by its caller
    # parameter → its optimizer state at the selected epoch (Trainer(keep_optimizer=True)); not serialised
    optimizer_state: dict | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(replace(self, optimizer_state=None)).items() if k != "optimizer_state"}


def batch_inputs(split: Split, index: torch.Tensor | slice, device) -> tuple[tuple, torch.Tensor]:
    x = split.x[index].to(device, non_blocking=True)
    y = split.y[index].to(device, non_blocking=True)
    if split.lengths is None:
        return (x,), y
    return (x, split.lengths[index]), y


def peak_memory_mb(device: torch.device) -> float:
    """Peak resident memory of this process (and of the CUDA allocator when on a GPU), in MB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if device.type == "cuda":
        rss += torch.cuda.max_memory_allocated(device) / 2**20
    return rss


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=config.momentum,
            weight_decay=config.weight_decay,
        )
    return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


class Trainer:
    """Train ``model`` on ``task`` with ``config``; see the module docstring."""

    def __init__(self, model: nn.Module, task: Task, config: TrainConfig | None = None,
                 callbacks: Sequence[Callback | None] = (), keep_optimizer: bool = False):
        self.config = (config or TrainConfig()).validate()
        self.device = torch.device(self.config.device)
        self.model = model.to(self.device)
        self.task = task
        self.callbacks = [c for c in callbacks if c is not None]
        self.optimizer = make_optimizer(self.model, self.config)
        if self.device.type == "cpu":
            kernels.compiled()  # a first-use build happens here, outside the timed phases
        self.generator = torch.Generator().manual_seed(self.config.seed)
        # threads follow the cores other processes leave free (structsearch.threads)
        self.governor = ThreadGovernor(enabled=False if self.device.type != "cpu" else None)
        self.keep_optimizer = keep_optimizer  # the result then holds the optimizer state of the selected epoch
        self.history: dict[str, list] = defaultdict(list)
        self.phase_seconds: dict[str, float] = defaultdict(float)

    @property
    def epochs(self) -> int:
        return self.config.epochs

    @contextmanager
    def timer(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.phase_seconds[phase] += time.perf_counter() - start

    # ------------------------------------------------------------------ steps

    def loss_on(self, inputs: tuple, y: torch.Tensor) -> torch.Tensor:
        return self.task.loss_fn(self.model(*inputs), y)

    def batches(self) -> list[torch.Tensor]:
        """Shuffled batches of training rows.  For padded sequences, rows are grouped by length
        within windows of 16 batches (then the batches are shuffled), so a batch pads to a length
        close to its own rows' and recurrent models run fewer steps."""
        train, size = self.task.train, self.config.batch_size
        order = torch.randperm(len(train), generator=self.generator)
        if train.lengths is not None:
            window = size * 16
            chunks = []
            for start in range(0, len(order), window):
                chunk = order[start : start + window]
                chunks.append(chunk[torch.argsort(train.lengths[chunk], stable=True)])
            order = torch.cat(chunks)
        batches = list(torch.split(order, size))
        if train.lengths is not None:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=self.generator).tolist()]
        return batches

    def train_epoch(self) -> float:
        """One pass over the training split; returns the mean loss (NaN as soon as it diverges)."""
        self.model.train()
        train = self.task.train
        total, count = 0.0, 0
        for index in self.batches():
            self.governor.poll()
            inputs, y = batch_inputs(train, index, self.device)
            if self.task.augment is not None:
                inputs = (self.task.augment(inputs[0], self.generator), *inputs[1:])
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss_on(inputs, y)
            value = float(loss.detach())
            if not math.isfinite(value):
                return float("nan")
            loss.backward()
            if self.config.grad_clip is not None:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
            self.optimizer.step()
            total += value * y.shape[0]
            count += y.shape[0]
        return total / max(count, 1)

    def gradient_step(self, batch_size: int, rng: np.random.Generator) -> None:
        """Forward and backward on one random training batch without an optimizer step (RigL)."""
        self.model.train()
        train = self.task.train
        index = torch.as_tensor(rng.choice(len(train), min(batch_size, len(train)), replace=False))
        inputs, y = batch_inputs(train, index, self.device)
        self.model.zero_grad(set_to_none=True)
        self.loss_on(inputs, y).backward()
        self.model.zero_grad(set_to_none=True)

    @torch.no_grad()
    def evaluate(self, split: Split) -> tuple[float, float]:
        """(mean loss, accuracy) on ``split``; padded sequences are batched by length."""
        self.model.eval()
        order = None if split.lengths is None else torch.argsort(split.lengths, stable=True)
        loss_sum, correct = 0.0, 0.0
        # a model may ask for smaller batches (a CNN's activation maps fall out of the caches at 2048)
        batch = min(self.config.eval_batch_size, getattr(self.model, "eval_batch_size", self.config.eval_batch_size))
        for start in range(0, len(split), batch):
            self.governor.poll()
            index = slice(start, start + batch)
            inputs, y = batch_inputs(split, index if order is None else order[index], self.device)
            logits = self.model(*inputs)
            loss_sum += float(self.task.loss_fn(logits, y)) * y.shape[0]
            correct += self.task.metric_fn(logits, y) * y.shape[0]
        return loss_sum / len(split), correct / len(split)

    # ------------------------------------------------------------------ the run

    def connections(self) -> list[int]:
        layers = getattr(self.model, "sparse_layers", None)
        return [layer.nnz for layer in layers()] if layers else []

    def fit(self) -> TrainResult:
        torch.manual_seed(self.config.seed)  # dropout and other global draws
        started = time.perf_counter()
        best_accuracy, best_state, best_optimizer = -1.0, None, None
        status, reason = "ok", ""
        for callback in self.callbacks:
            callback.on_train_begin(self)
        self.governor.start()
        try:
            for epoch in range(self.epochs):
                for group in self.optimizer.param_groups:
                    group["lr"] = epoch_lr(self.config, epoch, self.epochs)
                with self.timer("train"):
                    train_loss = self.train_epoch()
                if not math.isfinite(train_loss):
                    status, reason = "diverged", f"non-finite training loss in epoch {epoch}"
                    break
                with self.timer("evaluation"):
                    val_loss, val_accuracy = self.evaluate(self.task.validation)
                self.history["epoch"].append(epoch)
                self.history["train_loss"].append(train_loss)
                self.history["val_loss"].append(val_loss)
                self.history["val_accuracy"].append(val_accuracy)
                if val_accuracy > best_accuracy:
                    best_accuracy = val_accuracy
                    best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                    if self.keep_optimizer:
                        best_optimizer = [{k: v.detach().clone() for k, v in self.optimizer.state[p].items()
                                           if torch.is_tensor(v)} for p in self.model.parameters()]
                    self.history["selected"] = [epoch]
                self.governor.poll()
                try:
                    for callback in self.callbacks:
                        callback.on_epoch_end(self, epoch)
                finally:
                    self.history["connections"].append(self.connections())
                    for phase in ("train", "evaluation", "evolution"):
                        self.history[f"{phase}_seconds"].append(round(self.phase_seconds[phase], 6))
        except StopTraining as stop:
            status, reason = stop.status, stop.reason
        finally:
            self.governor.stop()
            for callback in self.callbacks:
                callback.on_train_end(self)
        result = self.finish(status, reason, best_state, best_accuracy, started)
        if best_optimizer is not None:
            result.optimizer_state = dict(zip(self.model.parameters(), best_optimizer, strict=True))
        return result

    def finish(self, status, reason, best_state, best_accuracy, started) -> TrainResult:
        result = TrainResult(status=status, reason=reason, epochs_run=len(self.history["epoch"]))
        if best_state is not None:
            self.model.load_state_dict(best_state)
            with self.timer("evaluation"):
                result.test_loss, result.test_accuracy = self.evaluate(self.task.test)
            result.selected_epoch = self.history["selected"][0]
            result.val_accuracy = best_accuracy
        elif status == "ok":
            result.status, result.reason = "failed", "no epoch completed"
        result.connections = self.connections()
        result.seconds = {k: round(v, 6) for k, v in self.phase_seconds.items()}
        result.seconds["total"] = round(time.perf_counter() - started, 6)
        result.peak_memory_mb = round(peak_memory_mb(self.device), 1)
        result.curves = {k: v for k, v in self.history.items() if k != "selected"}
        return result


def train(model: nn.Module, task: Task, config: TrainConfig | None = None,
          callbacks: Sequence[Callback | None] = (), keep_optimizer: bool = False) -> TrainResult:
    """Train ``model`` on ``task``; see :class:`Trainer`."""
    return Trainer(model, task, config, callbacks, keep_optimizer).fit()
