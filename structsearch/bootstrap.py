"""Statistics for judging searches (``benchmarks/search_efficiency.py``, ``benchmarks/init_variance.py``).

Two methods run on the same seeds are compared by their per-seed differences; the interval is the
percentile bootstrap of the mean difference (scipy.stats.bootstrap), from a random stream fixed by
``seed`` so that a benchmark's figures repeat. :func:`structure_share` splits the accuracy of
structures each trained several times into what the structure decides and what the initialisation
does.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import bootstrap

RESAMPLES = 10_000


def paired_ci(differences, confidence: float = 0.95, seed: int = 0,
              resamples: int = RESAMPLES) -> tuple[float, float, float]:
    """(mean, low, high) of the per-seed ``differences``: the mean and its percentile-bootstrap
    ``confidence`` interval. With one difference, or all equal, the interval is that value."""
    values = np.asarray([d for d in differences if d is not None and math.isfinite(d)], dtype=float)
    if values.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if values.size == 1 or np.all(values == values[0]):
        return mean, mean, mean
    result = bootstrap((values,), np.mean, n_resamples=resamples, confidence_level=confidence,
                       method="percentile", rng=np.random.default_rng(seed))
    return mean, float(result.confidence_interval.low), float(result.confidence_interval.high)


def structure_share(accuracies, validation=None) -> dict:
    """How much of a training's accuracy its structure decides: ``accuracies[i][j]`` is structure i's
    accuracy in its j-th training (a balanced table: every row as long as the shortest).

    Returns ``within_sd`` (the standard deviation between trainings of one structure, pooled: the
    root of the within-structure mean square MSW), ``between_sd`` (the standard deviation of the
    structures' means), ``icc`` (the one-way random-effects intraclass correlation ICC(1) of Shrout &
    Fleiss 1979, (MSB − MSW) / (MSB + (k − 1) MSW): the share of one training's variance that the
    structure explains) and, with ``validation`` of the same shape, ``val_test_r_within``: the Pearson
    correlation of the two between trainings of one structure, each centred on its structure's mean
    (how well validation finds a lucky initialisation)."""
    k = min(len(row) for row in accuracies)
    table = np.array([row[:k] for row in accuracies], dtype=float)
    n = len(table)
    if n < 2 or k < 2:
        raise ValueError(f"structure_share needs at least 2 structures trained at least twice, got {n} × {k}")
    means = table.mean(axis=1)
    msw = float(((table - means[:, None]) ** 2).sum() / (n * (k - 1)))
    msb = float(k * ((means - means.mean()) ** 2).sum() / (n - 1))
    figures = {"structures": n, "trainings_each": k, "within_sd": math.sqrt(msw),
               "between_sd": float(means.std(ddof=1)), "icc": (msb - msw) / (msb + (k - 1) * msw)}
    if validation is not None:
        other = np.array([row[:k] for row in validation], dtype=float)
        centred = other - other.mean(axis=1)[:, None], table - means[:, None]
        figures["val_test_r_within"] = float(np.corrcoef(centred[0].ravel(), centred[1].ravel())[0, 1])
    return figures
