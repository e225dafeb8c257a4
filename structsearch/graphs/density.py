"""How many connections a sparse layer gets, and where they go.

Nothing here allocates an ``n × m`` array: positions are drawn as ``k`` distinct linear indices
directly (rejection on the sparse side, the complement on the dense side), so the cost grows with
the number of connections.
"""

from __future__ import annotations

import math

import numpy as np

from structsearch.errors import ConfigError
from structsearch.registry import names_registry


def check_epsilon(epsilon: float) -> None:
    if not (isinstance(epsilon, int | float) and math.isfinite(epsilon) and epsilon > 0):
        raise ConfigError(f"epsilon must be a positive number, got {epsilon}")


def erdos_renyi_density(n_in: int, n_out: int, epsilon: float) -> float:
    """Erdős–Rényi density ε(n_in + n_out) / (n_in · n_out), capped at 1 (Mocanu et al. 2018, Eq. 1)."""
    check_epsilon(epsilon)
    return min(1.0, epsilon * (n_in + n_out) / (n_in * n_out))


def erk_densities(shapes: list[tuple[int, int]], density: float) -> list[float]:
    """Erdős–Rényi-Kernel densities (Evci et al. 2020, §3): per layer ∝ (n_in + n_out)/(n_in · n_out),
    scaled so that the whole network has ``density``; layers that would exceed 1 are made dense and
    the rest rescaled."""
    if not 0.0 < density <= 1.0:
        raise ConfigError(f"density must lie in (0, 1], got {density}")
    sizes = np.array([n_in * n_out for n_in, n_out in shapes], dtype=np.float64)
    raw = np.array([(n_in + n_out) / (n_in * n_out) for n_in, n_out in shapes])
    dense = np.zeros(len(shapes), dtype=bool)
    while True:
        budget = density * sizes.sum() - sizes[dense].sum()
        scale = budget / (raw[~dense] * sizes[~dense]).sum()
        layer_density = np.where(dense, 1.0, raw * scale)
        over = (layer_density > 1.0) & ~dense
        if not over.any():
            return layer_density.tolist()
        dense |= over


def sample_positions(
    n_out: int, n_in: int, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``k`` distinct (row, col) positions of an ``n_out × n_in`` matrix, uniformly at random,
    sorted row-major."""
    total = n_out * n_in
    if not 0 <= k <= total:
        raise ConfigError(f"cannot place {k} connections in a {n_out}×{n_in} layer")
    linear = sample_distinct(total, k, rng)
    return linear // n_in, linear % n_in


def sample_distinct(total: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` distinct sorted integers from ``range(total)``, in O(k) memory when k ≤ total/2."""
    if k > total // 2:
        # draw the complement instead; the result has ≥ total/2 entries anyway
        excluded = sample_distinct(total, total - k, rng)
        keep = np.ones(total, dtype=bool)
        keep[excluded] = False
        return np.flatnonzero(keep)
    chosen = np.empty(0, dtype=np.int64)
    while chosen.size < k:
        need = k - chosen.size
        draw = rng.integers(0, total, size=int(need * 1.1) + 16, dtype=np.int64)
        chosen = np.union1d(chosen, draw)
    if chosen.size > k:
        chosen = np.sort(rng.choice(chosen, k, replace=False))
    return chosen


def connections_for(n_in: int, n_out: int, density: float) -> int:
    """The connection count for a density, at least one per layer."""
    return max(1, min(n_in * n_out, int(round(density * n_in * n_out))))


DENSITY_SCHEMES = names_registry("density scheme", ("er", "erk", "uniform"))


def layer_densities(
    shapes: list[tuple[int, int]], scheme: str = "er", epsilon: float = 20.0,
    density: float | None = None,
) -> list[float]:
    """Per-layer densities for ``shapes`` = [(n_in, n_out), …].

    ``er``: Erdős–Rényi with ``epsilon`` (Mocanu et al. 2018); ``erk``: Erdős–Rényi-Kernel with
    overall ``density`` (Evci et al. 2020); ``uniform``: ``density`` in every layer.
    """
    DENSITY_SCHEMES.check(scheme)
    if scheme == "er":
        return [erdos_renyi_density(n_in, n_out, epsilon) for n_in, n_out in shapes]
    if density is None or not 0.0 < density <= 1.0:
        raise ConfigError(f"the {scheme} scheme needs a density in (0, 1], got {density}")
    return erk_densities(shapes, density) if scheme == "erk" else [density] * len(shapes)


def motif_groups(n_in: int, motif_size: int) -> int:
    """Number of source groups of ``motif_size`` neighbouring neurons (the last may be narrower)."""
    return -(-n_in // motif_size)


def expand_motifs(
    targets: np.ndarray, groups: np.ndarray, n_in: int, motif_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The connections of motifs (target j, group g): j ← g·m, …, g·m + m − 1 (clipped at n_in)."""
    offsets = np.arange(motif_size)
    cols = groups[:, None] * motif_size + offsets[None, :]
    rows = np.broadcast_to(targets[:, None], cols.shape)
    valid = cols < n_in
    return rows[valid], cols[valid]


def sample_motif_positions(
    n_out: int, n_in: int, k: int, motif_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """About ``k`` connections placed as whole SET-motif motifs (Su 2022): ``round(k / m)`` distinct
    (target, source-group) pairs, each expanded to its ``m`` connections."""
    n_groups = motif_groups(n_in, motif_size)
    n_motifs = max(1, min(n_out * n_groups, int(round(k / motif_size))))
    linear = sample_distinct(n_out * n_groups, n_motifs, rng)
    return expand_motifs(linear // n_groups, linear % n_groups, n_in, motif_size)
