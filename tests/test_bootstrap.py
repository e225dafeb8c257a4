"""The paired comparison of searches: the bootstrap interval of a mean difference over seeds."""

import math

import numpy as np
import pytest

from structsearch.bootstrap import paired_ci


def direct_percentile_bootstrap(values, confidence=0.95, resamples=200_000, seed=1):
    """The percentile bootstrap written out: resample the seeds with replacement, take each
    resample's mean, read the interval off the means' percentiles."""
    values = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, (resamples, values.size))].mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    return values.mean(), np.percentile(means, tail), np.percentile(means, 100 - tail)


@pytest.mark.parametrize("differences", [[0.5, -0.2, 1.1, 0.3, 0.7], [-2.0, -1.5, 0.4, -0.9, -1.1, -0.3, 2.2]])
def test_the_bootstrap_interval_matches_a_direct_computation(differences):
    mean, low, high = paired_ci(differences)
    direct_mean, direct_low, direct_high = direct_percentile_bootstrap(differences)
    assert mean == pytest.approx(direct_mean)
    spread = np.std(differences) / math.sqrt(len(differences))
    assert low == pytest.approx(direct_low, abs=0.15 * spread)  # the Monte Carlo error of 10,000 resamples
    assert high == pytest.approx(direct_high, abs=0.15 * spread)  # the Monte Carlo error of 10,000 resamples
    assert low < mean < high
    assert paired_ci(differences) == (mean, low, high)  # the same seed, the same interval


def test_one_difference_or_equal_ones_give_a_point_and_missing_ones_are_left_out():
    assert paired_ci([0.4]) == (0.4, 0.4, 0.4)
    assert paired_ci([1.0, 1.0, 1.0]) == (1.0, 1.0, 1.0)
    assert paired_ci([0.5, None, float("nan"), 0.5]) == (0.5, 0.5, 0.5)
    assert all(math.isnan(v) for v in paired_ci([]))
