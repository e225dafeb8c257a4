"""Pruning: methods that pick which connections to remove, and schedules that say how many and when.

A model's prunable weights come as :class:`WeightGroup` s: the values of every
:class:`~structsearch.nn.sparse_linear.SparseLinear` (removing a connection shrinks its CSR) and
the hidden-to-hidden matrices of recurrent layers (removing one clears its mask entry, which keeps
it at zero through later training).

Methods (Stier et al. 2021, §2), each removing exactly the requested count:

* ``random`` — uniformly among all live weights;
* ``magnitude-blinded`` — smallest |w| under one global threshold;
* ``magnitude-uniform`` — smallest |w| of each group, the same fraction in every group;
* ``magnitude-distributed`` — |w| divided by its group's standard deviation, one global threshold;
* ``obd`` — Optimal Brain Damage (LeCun et al. 1990): saliency ½·h_ii·w_i², with h_ii the Fisher
  (for softmax cross-entropy, Gauss–Newton) diagonal estimated from gradients of labels sampled
  from the model, a few backward passes per step.  For ReLU networks the Hessian's diagonal equals
  the Gauss–Newton one, so :func:`exact_hessian_diagonal` (central differences of the gradient,
  two backward passes per weight — tiny networks only) validates the estimate.

Schedules (each ends at the same target): ``one-shot``; ``iterative-fixed`` (the same number of
weights every step); ``iterative-relative`` (the same share of what remains every step);
``bucket`` (rank once, then remove the ranked weights bucket by bucket, without re-ranking).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from structsearch.errors import ConfigError, check_range
from structsearch.nn.sparse_linear import SparseLinear
from structsearch.registry import Registry, names_registry
from structsearch.sparsity.optimizer_state import carry_optimizer_state
from structsearch.sparsity.rewiring import smallest


def check_fraction(fraction: float) -> None:
    check_range("pruning fraction", fraction)


# ------------------------------------------------------------------------------ weight groups


@dataclass
class WeightGroup:
    """One prunable weight tensor: a sparse layer's values, or a masked dense matrix."""

    name: str
    sparse: SparseLinear | None = None
    owner: torch.nn.Module | None = None  # a recurrent layer, for its hh_weight / hh_mask

    @property
    def parameter(self) -> torch.nn.Parameter:
        return self.sparse.values if self.sparse is not None else self.owner.hh_weight

    def live_positions(self) -> torch.Tensor | None:
        """Flat positions of the live entries of a dense matrix (None for a sparse layer)."""
        if self.sparse is not None:
            return None
        mask = self.owner.hh_mask
        live = torch.ones(self.owner.hh_weight.numel(), dtype=torch.bool, device=self.parameter.device) \
            if mask is None else mask.reshape(-1).bool()
        return torch.nonzero(live).squeeze(1)

    @property
    def count(self) -> int:
        return self.sparse.nnz if self.sparse is not None else int(self.live_positions().numel())

    def live(self, tensor: torch.Tensor) -> torch.Tensor:
        """The live entries of ``tensor`` (shaped like the parameter) as a 1-D tensor."""
        positions = self.live_positions()
        return tensor.reshape(-1) if positions is None else tensor.reshape(-1)[positions]

    def values(self) -> np.ndarray:
        return self.live(self.parameter.detach()).cpu().numpy().astype(np.float64)

    @torch.no_grad()
    def remove(self, drop: np.ndarray, optimizer=None) -> int:
        """Remove the live weights at indices ``drop`` (into :meth:`values`); returns how many."""
        drop = np.unique(np.asarray(drop, dtype=np.int64))
        if drop.size == 0:
            return 0
        if self.sparse is not None:
            layer = self.sparse
            keep_mask = np.ones(layer.nnz, dtype=bool)
            keep_mask[drop] = False
            keep = torch.as_tensor(np.flatnonzero(keep_mask), device=layer.values.device)
            rows, cols = layer.connections()
            old_size = layer.nnz
            order = layer.set_connectivity(rows[keep], cols[keep], layer.values[keep])
            carry_optimizer_state(optimizer, layer.values, keep[order], old_size)
            return int(drop.size)
        positions = self.live_positions()
        mask = torch.ones(self.owner.hh_weight.numel(), dtype=torch.bool, device=positions.device) \
            if self.owner.hh_mask is None else self.owner.hh_mask.reshape(-1).bool().clone()
        mask[positions[torch.as_tensor(drop, device=positions.device)]] = False
        self.owner.make_hidden_sparse(mask.reshape(self.owner.hh_weight.shape))
        return int(drop.size)


def weight_groups(model: torch.nn.Module, targets: tuple[str, ...] = ("sparse", "hidden")) -> list[WeightGroup]:
    """The prunable groups of ``model``: ``sparse`` (every SparseLinear) and ``hidden`` (recurrent
    hidden-to-hidden matrices)."""
    groups = []
    for name, module in model.named_modules():
        if isinstance(module, SparseLinear) and "sparse" in targets:
            groups.append(WeightGroup(name or "layer", sparse=module))
        elif hasattr(module, "hh_weight") and "hidden" in targets:
            groups.append(WeightGroup(f"{name}.hidden", owner=module))
    return groups


def split(flat_indices: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """Indices into the concatenation of groups → one index array per group."""
    starts = np.concatenate([[0], np.cumsum(sizes)])
    flat_indices = np.sort(flat_indices)
    return [
        flat_indices[(flat_indices >= a) & (flat_indices < b)] - a for a, b in zip(starts[:-1], starts[1:], strict=True)
    ]


# ------------------------------------------------------------------------------ methods


class PruningMethod:
    """Pick ``count`` live weights to remove; :meth:`scores` gives per-group scores (low = pruned)."""

    name = "abstract"
    needs_data = False

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def scores(self, groups: list[WeightGroup], context: PruningContext | None) -> list[np.ndarray]:
        raise NotImplementedError

    def select(self, groups: list[WeightGroup], count: int, context: PruningContext | None = None,
               scores: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """Per group, the live indices to remove (``scores``: precomputed :meth:`scores`)."""
        sizes = [g.count for g in groups]
        check_count(count, sum(sizes))
        scores = self.scores(groups, context) if scores is None else scores
        return split(smallest(np.concatenate(scores), count), sizes)


class RandomPruning(PruningMethod):
    name = "random"

    def scores(self, groups, context):
        return [self.rng.random(g.count) for g in groups]


class MagnitudeBlinded(PruningMethod):
    name = "magnitude-blinded"

    def scores(self, groups, context):
        return [np.abs(g.values()) for g in groups]


class MagnitudeDistributed(PruningMethod):
    name = "magnitude-distributed"

    def scores(self, groups, context):
        scores = []
        for g in groups:
            values = g.values()
            std = values.std() if values.size > 1 else 1.0
            scores.append(np.abs(values) / (std if std > 0 else 1.0))
        return scores


class MagnitudeUniform(PruningMethod):
    """The same fraction of every group (largest remainders make the total exact)."""

    name = "magnitude-uniform"

    def scores(self, groups, context):
        return [np.abs(g.values()) for g in groups]

    def select(self, groups, count, context=None, scores=None):
        sizes = np.array([g.count for g in groups])
        check_count(count, int(sizes.sum()))
        scores = self.scores(groups, context) if scores is None else scores
        share = count * sizes / max(sizes.sum(), 1)
        per_group = np.floor(share).astype(np.int64)
        for index in np.argsort(-(share - per_group), kind="stable")[: count - int(per_group.sum())]:
            per_group[index] += 1
        return [smallest(group_scores, int(k)) for group_scores, k in zip(scores, per_group, strict=True)]


class OptimalBrainDamage(PruningMethod):
    """Saliency ½·h_ii·w_i² with a Monte-Carlo Fisher diagonal (see the module docstring)."""

    name = "obd"
    needs_data = True

    def scores(self, groups, context):
        if context is None:
            raise ConfigError("obd needs training data to estimate the Hessian diagonal")
        diagonal = fisher_diagonal(context.model, groups, context.batches(), context.loss_fn, self.rng)
        return [0.5 * h * g.values() ** 2 for g, h in zip(groups, diagonal, strict=True)]


METHODS = Registry("pruning method", {cls.name: cls for cls in (
    RandomPruning, MagnitudeBlinded, MagnitudeUniform, MagnitudeDistributed, OptimalBrainDamage)})


def make_method(name: str, seed: int = 0) -> PruningMethod:
    return METHODS.lookup(name)(seed)


def check_count(count: int, available: int) -> None:
    if count < 0:
        raise ConfigError(f"cannot prune a negative number of weights ({count})")
    if count > available:
        raise ConfigError(f"cannot prune {count} weights: only {available} remain")


@dataclass
class PruningContext:
    """What data-driven methods need: the model, the loss, and batches of training inputs."""

    model: torch.nn.Module
    loss_fn: Callable
    inputs: tuple[torch.Tensor, ...]
    samples: int = 10_000
    batch_size: int = 32

    def batches(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n = min(self.samples, len(self.inputs[0]))
        for start in range(0, n, self.batch_size):
            yield tuple(x[start : min(start + self.batch_size, n)] for x in self.inputs)


def fisher_diagonal(model, groups: list[WeightGroup], batches, loss_fn, rng: np.random.Generator) -> list[np.ndarray]:
    """Per live weight, the mean over samples of the Fisher diagonal E_y~p(y|x)[(∂ log p(y|x)/∂w)²],
    from one backward pass per batch with labels drawn from the model.  With labels drawn from the
    model the per-sample gradients have mean zero, so batch size × (batch gradient)² is an
    unbiased estimate of the batch's mean per-sample square."""
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    parameters = [g.parameter for g in groups]
    totals = [torch.zeros_like(p) for p in parameters]
    samples = 0
    was_training = model.training
    model.eval()
    try:
        for batch in batches:
            model.zero_grad(set_to_none=True)
            logits = model(*batch)
            with torch.no_grad():
                labels = torch.multinomial(torch.softmax(logits.detach(), dim=1), 1, generator=generator).squeeze(1)
            loss = torch.nn.functional.cross_entropy(logits, labels, reduction="mean")
            grads = torch.autograd.grad(loss, parameters, allow_unused=True)
            size = labels.shape[0]
            for total, grad in zip(totals, grads, strict=True):
                if grad is not None:
                    total.add_(grad.detach() ** 2, alpha=size * size)
            samples += size
    finally:
        model.train(was_training)
    return [
        g.live(total / max(samples, 1)).cpu().numpy().astype(np.float64)
        for g, total in zip(groups, totals, strict=True)
    ]


def exact_hessian_diagonal(model, groups: list[WeightGroup], inputs: tuple, targets: torch.Tensor, loss_fn,
                           eps: float = 1e-4) -> list[np.ndarray]:
    """∂²L/∂w_i² of the mean loss on (inputs, targets) for every live weight, by central differences
    of the gradient (two backward passes per weight; for validating estimates on tiny networks —
    use float64 models)."""
    parameters = [g.parameter for g in groups]
    result = []
    for group, parameter in zip(groups, parameters, strict=True):
        positions = group.live_positions()
        flat = torch.arange(parameter.numel()) if positions is None else positions
        values = np.empty(flat.numel())
        for k, position in enumerate(flat.tolist()):
            derivative = []
            for sign in (1.0, -1.0):
                with torch.no_grad():
                    parameter.view(-1)[position] += sign * eps
                model.zero_grad(set_to_none=True)
                loss = loss_fn(model(*inputs), targets)
                grad = torch.autograd.grad(loss, parameter)[0]
                derivative.append(float(grad.reshape(-1)[position]))
                with torch.no_grad():
                    parameter.view(-1)[position] -= sign * eps
            values[k] = (derivative[0] - derivative[1]) / (2 * eps)
        result.append(values)
    return result


def prune(model, method: PruningMethod, count: int, context: PruningContext | None = None, optimizer=None,
          targets: tuple[str, ...] = ("sparse", "hidden")) -> int:
    """Remove exactly ``count`` live weights of ``model`` chosen by ``method``; returns the count."""
    groups = weight_groups(model, targets)
    chosen = method.select(groups, count, context)
    return sum(group.remove(drop, optimizer) for group, drop in zip(groups, chosen, strict=True))


def live_count(model, targets: tuple[str, ...] = ("sparse", "hidden")) -> int:
    return sum(g.count for g in weight_groups(model, targets))


# ------------------------------------------------------------------------------ schedules


def schedule_counts(schedule: str, total: int, target: float, steps: int = 5) -> list[int]:
    """How many weights each step removes so that ``target`` (a fraction of ``total``) is removed."""
    check_fraction(target)
    if steps < 1:
        raise ConfigError(f"pruning steps must be a positive integer, got {steps}")
    goal = int(round(target * total))
    if schedule == "one-shot":
        return [goal] if goal else []
    if schedule in ("iterative-fixed", "bucket"):
        edges = [int(round(goal * i / steps)) for i in range(steps + 1)]
        return [b - a for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]
    if schedule == "iterative-relative":
        # remove the same share r of what remains each step: (1 − r)^steps = 1 − target
        share = 1.0 - (1.0 - target) ** (1.0 / steps) if target < 1 else 1.0
        counts, remaining, removed = [], total, 0
        for step in range(steps):
            count = goal - removed if step == steps - 1 else min(int(round(share * remaining)), goal - removed)
            if count > 0:
                counts.append(count)
            removed += max(count, 0)
            remaining = total - removed
        return counts
    SCHEDULES.lookup(schedule)  # raises: an unknown schedule


SCHEDULES = names_registry("pruning schedule", ("one-shot", "iterative-fixed", "iterative-relative", "bucket"))


def run_schedule(model, method: PruningMethod, schedule: str, target: float, steps: int = 5,
                 context: PruningContext | None = None, between: Callable[[int, int], None] | None = None,
                 targets: tuple[str, ...] = ("sparse", "hidden")) -> list[int]:
    """Prune ``model`` to remove ``target`` of its live weights following ``schedule``; after each
    step ``between(step, removed_so_far)`` runs (retraining, evaluation).  Returns the counts."""
    SCHEDULES.check(schedule)
    counts = schedule_counts(schedule, live_count(model, targets), target, steps)
    if schedule == "bucket":  # rank once: the whole selection, removed lowest score first
        groups = weight_groups(model, targets)
        sizes = [g.count for g in groups]
        starts = np.concatenate([[0], np.cumsum(sizes)])[:-1]
        scores = method.scores(groups, context)
        chosen = method.select(groups, sum(counts), context, scores)
        flat = np.concatenate([start + drop for start, drop in zip(starts, chosen, strict=True)])
        order = flat[np.argsort(np.concatenate(scores)[flat], kind="stable")]
        ids = [np.arange(size) for size in sizes]  # the original live indices still alive
    removed = 0
    for step, count in enumerate(counts):
        if schedule == "bucket":
            bucket, order = order[:count], order[count:]
            for g, (group, drop) in enumerate(zip(weight_groups(model, targets), split(bucket, sizes), strict=True)):
                current = np.searchsorted(ids[g], drop)  # original index → current live index
                group.remove(current)
                ids[g] = np.delete(ids[g], current)
            removed += count
        else:
            removed += prune(model, method, count, context, targets=targets)
        if between is not None:
            between(step, removed)
    return counts


@torch.no_grad()
def prune_smallest(group: WeightGroup, fraction: float, optimizer=None) -> int:
    """Remove the ``fraction`` of ``group``'s live weights with the smallest |w|; returns how many
    (the Reber study prunes input and hidden weights of each layer this way)."""
    check_fraction(fraction)
    count = int(round(fraction * group.count))
    return group.remove(smallest(np.abs(group.values()), count), optimizer) if count else 0
