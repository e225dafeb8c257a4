"""How spread out a population is: unique structures, feature spread and mean pairwise distance.

A search that keeps exploring keeps its population spread over the space; one that collapses ends
with every individual a near-copy of the same structure. The figures are measured on the genotype
family's graph features, each standardised by its standard deviation over a ``reference`` set of
rows (every candidate the search has trained so far), so they read the same in every space:

- ``unique``: distinct structures (graph hashes, cell and genes) in the population;
- ``spread``: the mean over features of the population's standard deviation, in reference units
  (about 1: as spread as everything trained so far; 0: one structure);
- ``distance``: the mean Euclidean distance between two individuals, in reference units, divided by
  √(features) (two rows drawn at random from the reference set are about √2 ≈ 1.41 apart).

Features that are missing, not finite or constant over the reference are left out.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist


def _matrix(rows: list[dict], names: list[str]) -> np.ndarray:
    return np.array([[float(row.get(name, np.nan)) for name in names] for row in rows], dtype=float).reshape(
        len(rows), len(names))


def population_spread(population: list[dict], reference: list[dict], keys: list[str] | None = None) -> dict:
    """``{"unique", "spread", "distance"}`` of the ``population``'s feature rows against the
    ``reference`` rows (see the module docstring); ``keys`` are the individuals' structure keys
    (by default every row counts as unique)."""
    unique = len(set(keys)) if keys is not None else len(population)
    names = sorted(set().union(*(row.keys() for row in reference)) if reference else set())
    names = [n for n in names if all(isinstance(row.get(n), int | float) for row in reference)]
    if len(population) < 2 or len(reference) < 2 or not names:
        return {"unique": unique, "spread": None, "distance": None}
    ref = _matrix(reference, names)
    scale = np.nanstd(ref, axis=0)
    usable = np.isfinite(scale) & (scale > 0)
    x = _matrix(population, names)[:, usable] / scale[usable]
    x = x[:, np.isfinite(x).all(axis=0)]
    if x.shape[1] == 0:
        return {"unique": unique, "spread": None, "distance": None}
    spread = float(np.std(x, axis=0).mean())
    return {"unique": unique, "spread": round(spread, 4),
            "distance": round(float(pdist(x).mean() / np.sqrt(x.shape[1])), 4)}


def plateau_generation(best_by_generation: list[float | None]) -> int | None:
    """The generation after which the best-so-far stopped improving: the last generation whose best
    beat every earlier one (None without any)."""
    last, best = None, -np.inf
    for generation, value in enumerate(best_by_generation):
        if value is not None and value > best:
            last, best = generation, value
    return last
