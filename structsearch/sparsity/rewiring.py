"""Rewiring while training: SET, SET-motif and RigL.

Each rule is a trainer callback with one job: after selected epochs it drops some connections of
every sparse layer and regrows as many elsewhere, keeping each layer's connection count.  The rules
differ only in :meth:`RewiringRule.select`, which names the connections to keep and the
positions to grow; the bookkeeping — rebuilding the CSR, initialising new weights, carrying the
optimizer state — is shared.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np
import torch

from structsearch import seeds
from structsearch.errors import ConfigError, check_range
from structsearch.graphs.density import expand_motifs, motif_groups
from structsearch.nn.sparse_linear import SparseLinear
from structsearch.registry import Registry, renamed
from structsearch.sparsity.optimizer_state import carry_optimizer_state
from structsearch.train_callbacks import Callback


def check_every(every: int) -> int:
    """``every`` (epochs between updates) if it is a positive integer."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ConfigError(f"every must be a positive number of epochs, got {every!r}")
    return every


def check_drop_fraction(drop_fraction: float) -> None:
    check_range("drop_fraction (zeta)", drop_fraction, low_open=True, high_open=True)


def sample_free_positions(
    total: int, occupied: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """``k`` distinct positions in ``range(total)`` outside the sorted array ``occupied``.

    Rejection sampling keeps the cost O(k + |occupied|) while the space is mostly free; when more
    than half of it is occupied the free positions are enumerated, which then costs no more than
    the connections themselves.
    """
    free_count = total - occupied.size
    if k > free_count:
        raise ValueError(f"cannot grow {k} connections into {free_count} free positions")
    if k == 0:
        return np.empty(0, dtype=np.int64)
    if occupied.size > total // 2:
        mask = np.ones(total, dtype=bool)
        mask[occupied] = False
        free = np.flatnonzero(mask)
        return np.sort(rng.choice(free, k, replace=False))
    chosen = np.empty(0, dtype=np.int64)
    while chosen.size < k:
        draw = np.sort(rng.integers(0, total, size=int((k - chosen.size) * 1.2) + 16, dtype=np.int64))
        if occupied.size:
            hit = np.minimum(np.searchsorted(occupied, draw), occupied.size - 1)
            draw = draw[occupied[hit] != draw]
        merged = np.sort(np.concatenate([chosen, draw]), kind="stable")
        chosen = merged[np.concatenate([[True], merged[1:] != merged[:-1]])] if merged.size else merged
    if chosen.size > k:
        chosen = np.sort(rng.choice(chosen, k, replace=False))
    return chosen




def smallest(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` smallest ``values`` in O(n) (ties broken arbitrarily)."""
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if k >= values.size:
        return np.arange(values.size)
    return np.argpartition(values, k - 1)[:k]


class RewiringRule(Callback, ABC):
    """Drop and regrow connections of every sparse layer after selected epochs.

    Parameters
    ----------
    drop_fraction : float
        ζ, the fraction of connections (or motifs) replaced at each update, in (0, 1).
    every : int
        Update after every ``every``-th epoch.
    start_epoch, end_epoch : int
        Update only after epochs ``start_epoch ≤ e < end_epoch`` (``None``: until the end).
    evolve_output_layer : bool
        SET evolves all layers; the SET-motif code kept the output layer static.
    regrow_init : {"zero", "random"}
        New weights start at zero or at small random values (1 % of the He scale of the layer).
    seed : int
        Seed of this rule's random choices.
    """

    name = "abstract"

    def __init__(self, drop_fraction: float = 0.3, every: int = 1, start_epoch: int = 0,
                 end_epoch: int | None = None, evolve_output_layer: bool = True,
                 regrow_init: str = "zero", seed: int = 0):
        check_drop_fraction(drop_fraction)
        check_every(every)
        if regrow_init not in ("zero", "random"):
            raise ConfigError(f"regrow_init must be 'zero' or 'random', got {regrow_init!r}")
        self.drop_fraction = drop_fraction
        self.every = every
        self.start_epoch = start_epoch
        self.end_epoch = end_epoch
        self.evolve_output_layer = evolve_output_layer
        self.regrow_init = regrow_init
        # a stream of its own: a model built from the same integer seed draws its initial positions
        # with the same calls, and this rule would then propose them again as "new" connections
        self.rng = seeds.generator(seed, "rule-draws")  # apart from a model built from the same seed
        self.updates = 0

    # --------------------------------------------------------------------- the hook

    def active(self, epoch: int, epochs: int) -> bool:
        end = self.end_epoch if self.end_epoch is not None else epochs
        # no update after the final epoch: it could never be trained
        return self.start_epoch <= epoch < min(end, epochs - 1) and (epoch - self.start_epoch) % self.every == 0

    def on_epoch_end(self, trainer, epoch: int) -> None:
        if not self.active(epoch, trainer.epochs):
            return
        with trainer.timer("evolution"):
            self.prepare(trainer)
            for layer in self.layers(trainer.model):
                self.evolve(layer, trainer.optimizer, self.current_fraction(epoch, trainer.epochs))
            self.updates += 1

    def layers(self, model) -> list[SparseLinear]:
        layers = list(model.sparse_layers())
        return layers if self.evolve_output_layer else layers[:-1]

    def current_fraction(self, epoch: int, epochs: int) -> float:
        return self.drop_fraction

    def prepare(self, trainer) -> None:
        """Work needed once per update before the layers are changed (RigL's gradients)."""

    # --------------------------------------------------------------------- the rule

    @abstractmethod
    def select(self, layer: SparseLinear, fraction: float) -> tuple[np.ndarray, np.ndarray]:
        """(indices of the connections to keep, sorted linear positions to grow)."""

    def evolve(self, layer: SparseLinear, optimizer, fraction: float) -> None:
        keep, grow = self.select(layer, fraction)
        self.apply(layer, optimizer, keep, grow)

    @torch.no_grad()
    def apply(self, layer: SparseLinear, optimizer, keep: np.ndarray, grow: np.ndarray) -> None:
        """Keep the connections ``keep``, add the linear positions ``grow``, carry optimizer state."""
        if grow.size == 0 and keep.size == layer.nnz:
            return
        device = layer.values.device
        keep_t = torch.as_tensor(keep, dtype=torch.int64, device=device)
        rows, cols = layer.connections()
        grow_t = torch.as_tensor(grow, dtype=torch.int64, device=device)
        new_rows = torch.cat([rows[keep_t], grow_t // layer.in_features])
        new_cols = torch.cat([cols[keep_t], grow_t % layer.in_features])
        new_values = torch.cat([layer.values[keep_t], self.initial_values(layer, grow_t.numel())])
        source = torch.cat([keep_t, torch.full((grow_t.numel(),), -1, dtype=torch.int64, device=device)])
        old_size = layer.nnz
        order = layer.set_connectivity(new_rows, new_cols, new_values)
        carry_optimizer_state(optimizer, layer.values, source[order], old_size)

    def initial_values(self, layer: SparseLinear, count: int) -> torch.Tensor:
        values = torch.zeros(count, dtype=layer.values.dtype, device=layer.values.device)
        if self.regrow_init == "random" and count:
            scale = 0.01 * math.sqrt(2.0 / max(1.0, layer.nnz / layer.out_features))
            noise = self.rng.standard_normal(count) * scale
            values.copy_(torch.as_tensor(noise, dtype=values.dtype))
        return values

    def occupied(self, layer: SparseLinear, keep: np.ndarray) -> np.ndarray:
        return np.sort(layer.linear_indices().cpu().numpy()[keep])


class SET(RewiringRule):
    """Sparse Evolutionary Training (Mocanu et al. 2018, Algorithm 1).

    Per layer, remove the fraction ζ of the smallest positive weights and of the largest negative
    weights (the ones closest to zero on each side), then regrow as many connections at random
    free positions.  The connection count is preserved exactly.

    Parameters
    ----------
    drop_fraction : float
        ζ, the fraction of connections replaced at each update, in (0, 1).
    every : int
        Update after every ``every``-th epoch.
    start_epoch, end_epoch : int
        Update only after epochs ``start_epoch ≤ e < end_epoch`` (``None``: until the end).
    evolve_output_layer : bool
        Whether the output layer is rewired too.
    regrow_init : {"zero", "random"}
        New weights start at zero or at small random values (1 % of the He scale of the layer).
    seed : int
        Seed of this rule's random choices.

    References
    ----------
    Mocanu et al. (2018), "Scalable training of artificial neural networks with adaptive sparse
    connectivity inspired by network science", Nature Communications 9, 2383.
    """

    name = "set"

    def select(self, layer, fraction):
        values = layer.values.detach().cpu().numpy()
        positive = np.flatnonzero(values >= 0)
        negative = np.flatnonzero(values < 0)
        drop_pos = positive[smallest(values[positive], int(round(fraction * positive.size)))]
        drop_neg = negative[smallest(-values[negative], int(round(fraction * negative.size)))]
        keep_mask = np.ones(values.size, dtype=bool)
        keep_mask[drop_pos] = False
        keep_mask[drop_neg] = False
        keep = np.flatnonzero(keep_mask)
        total = layer.in_features * layer.out_features
        grow = sample_free_positions(total, self.occupied(layer, keep), values.size - keep.size, self.rng)
        return keep, grow


class SETMotif(RewiringRule):
    """SET on motifs (Su 2022): the unit of pruning and regrowth is a motif of ``motif_size`` = m
    neighbouring source neurons (g·m, …, g·m + m − 1) that all feed one target neuron.

    A motif's score is the mean absolute value of its weights; the fraction ζ of motifs with the
    lowest score is removed and as many whole motifs are regrown at random free (target, group)
    places.  Connectivity stays a union of whole motifs.  When ``in_features`` is not a multiple of
    m, the last source group is narrower and the connection count may move by the difference.

    Parameters
    ----------
    drop_fraction : float
        ζ, the fraction of motifs replaced at each update, in (0, 1).
    motif_size : int
        m, the source neurons of one motif.
    **kwargs
        ``every``, ``start_epoch``, ``end_epoch``, ``evolve_output_layer``, ``regrow_init`` and
        ``seed``, as for :class:`SET`.

    References
    ----------
    Su (2022), SET-motif: sparse evolutionary training with motif-based pruning and regrowth.
    """

    name = "set-motif"

    def __init__(self, drop_fraction: float = 0.3, motif_size: int = 2, **kwargs):
        super().__init__(drop_fraction, **kwargs)
        if motif_size < 1:
            raise ConfigError(f"motif_size must be a positive integer, got {motif_size}")
        self.motif_size = motif_size

    def motif_keys(self, layer: SparseLinear) -> tuple[np.ndarray, int]:
        rows, cols = (t.cpu().numpy() for t in layer.connections())
        n_groups = motif_groups(layer.in_features, self.motif_size)
        return rows * n_groups + cols // self.motif_size, n_groups

    def select(self, layer, fraction):
        keys, n_groups = self.motif_keys(layer)
        motifs, member_of = np.unique(keys, return_inverse=True)
        magnitude = np.abs(layer.values.detach().cpu().numpy())
        score = np.bincount(member_of, weights=magnitude) / np.bincount(member_of)
        n_drop = int(round(fraction * motifs.size))
        dropped = smallest(score, n_drop)
        keep_motif = np.ones(motifs.size, dtype=bool)
        keep_motif[dropped] = False
        keep = np.flatnonzero(keep_motif[member_of])
        new_motifs = sample_free_positions(
            layer.out_features * n_groups, motifs[keep_motif], n_drop, self.rng
        )
        rows, cols = expand_motifs(
            new_motifs // n_groups, new_motifs % n_groups, layer.in_features, self.motif_size
        )
        return keep, np.sort(rows * layer.in_features + cols)


class RigL(RewiringRule):
    """Rigged Lottery (Evci et al. 2020): drop the smallest-magnitude connections, regrow where the
    dense gradient is largest, with the drop fraction decayed by a cosine:
    ζ_t = ζ/2 · (1 + cos(π t / T_end)).

    The dense gradient of a layer exists only inside :meth:`select`, computed for a block of
    ``block_rows`` target neurons at a time (the outer product of one batch's output gradients and
    inputs), so memory stays bounded for wide layers.

    Parameters
    ----------
    drop_fraction : float
        ζ at the start, in (0, 1); decayed by the cosine above.
    gradient_batch_size : int
        Samples of the batch whose dense gradient ranks the free positions.
    block_elements : int
        The most elements of one block of the dense gradient.
    **kwargs
        ``every``, ``start_epoch``, ``end_epoch``, ``evolve_output_layer``, ``regrow_init`` and
        ``seed``, as for :class:`SET`.

    References
    ----------
    Evci, Gale, Menick, Castro & Elsen (2020), "Rigging the lottery: making all tickets winners",
    ICML.
    """

    name = "rigl"

    def __init__(self, drop_fraction: float = 0.3, gradient_batch_size: int = 256,
                 block_elements: int = 1 << 22, **kwargs):
        super().__init__(drop_fraction, **kwargs)
        self.gradient_batch_size = gradient_batch_size
        self.block_elements = block_elements

    def current_fraction(self, epoch, epochs):
        end = self.end_epoch if self.end_epoch is not None else epochs
        return self.drop_fraction / 2 * (1 + math.cos(math.pi * epoch / max(1, end)))

    def prepare(self, trainer) -> None:
        layers = self.layers(trainer.model)
        for layer in layers:
            layer.capture = True
        try:
            trainer.gradient_step(self.gradient_batch_size, self.rng)
        finally:
            for layer in layers:
                layer.capture = False

    def select(self, layer, fraction):
        values = layer.values.detach()
        n_drop = int(round(fraction * values.numel()))
        drop_mask = np.zeros(values.numel(), dtype=bool)
        drop_mask[smallest(values.abs().cpu().numpy(), n_drop)] = True
        keep = np.flatnonzero(~drop_mask)
        occupied = self.occupied(layer, keep)
        grow = self.largest_gradients(layer, torch.as_tensor(occupied, device=values.device), n_drop)
        layer.captured = None
        return keep, grow

    def largest_gradients(self, layer: SparseLinear, occupied: torch.Tensor, k: int) -> np.ndarray:
        xt, grad_yt = layer.captured
        n_in = layer.in_features
        rows_per_block = max(1, self.block_elements // n_in)
        best_scores = torch.empty(0, dtype=xt.dtype, device=xt.device)
        best_positions = torch.empty(0, dtype=torch.int64, device=xt.device)
        for start in range(0, layer.out_features, rows_per_block):
            stop = min(layer.out_features, start + rows_per_block)
            scores = (grad_yt[start:stop] @ xt.t()).abs_().reshape(-1)
            lo, hi = torch.searchsorted(occupied, torch.tensor([start * n_in, stop * n_in], device=occupied.device))
            scores[occupied[lo:hi] - start * n_in] = -1.0  # never regrow onto a live connection
            take = min(k, scores.numel())
            top = torch.topk(scores, take, sorted=False)
            best_scores = torch.cat([best_scores, top.values])
            best_positions = torch.cat([best_positions, top.indices + start * n_in])
            if best_scores.numel() > k:
                top = torch.topk(best_scores, k, sorted=False)
                best_scores, best_positions = top.values, best_positions[top.indices]
        return np.sort(best_positions.cpu().numpy())


# "none": train without rewiring
REWIRING_RULES: Registry[type[RewiringRule] | None] = Registry(
    "rewiring rule", {"none": None, SET.name: SET, SETMotif.name: SETMotif, RigL.name: RigL})


def make_rewiring(name: str, **kwargs) -> RewiringRule | None:
    """The rewiring rule registered as ``name``.

    Parameters
    ----------
    name : {"none", "set", "set-motif", "rigl"}
        The rule.
    **kwargs
        Its parameters (see :class:`SET`, :class:`SETMotif`, :class:`RigL`).

    Returns
    -------
    RewiringRule or None
        The rule, a training callback; ``None`` for ``"none"``.
    """
    rule = REWIRING_RULES.lookup(name)
    return None if rule is None else rule(**kwargs)


# names of 0.2 → today's; each works until structsearch 0.3 with a DeprecationWarning
__getattr__ = renamed(globals(), {"TopologyEvolution": "RewiringRule", "EVOLUTION_RULES": "REWIRING_RULES",
                                  "make_evolution": "make_rewiring"}, __name__)
