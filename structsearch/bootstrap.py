"""Confidence intervals for paired comparisons of searches (``benchmarks/search_efficiency.py``).

Two methods run on the same seeds are compared by their per-seed differences; the interval is the
percentile bootstrap of the mean difference (scipy.stats.bootstrap), from a random stream fixed by
``seed`` so that a benchmark's figures repeat.
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
