"""The paired comparison of searches (the bootstrap interval of a mean difference over seeds), and the
share of a training's accuracy that its structure decides."""

import math

import numpy as np
import pytest

from structsearch.bootstrap import paired_ci, structure_share


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


def test_the_structures_share_matches_a_one_way_anova_written_out():
    table = [[0.70, 0.64, 0.75], [0.58, 0.61, 0.55], [0.81, 0.66, 0.72], [0.60, 0.69, 0.63]]
    n, k = len(table), len(table[0])
    grand = sum(map(sum, table)) / (n * k)
    means = [sum(row) / k for row in table]
    ss_within = sum((x - means[i]) ** 2 for i, row in enumerate(table) for x in row)
    ss_between = k * sum((m - grand) ** 2 for m in means)
    msw, msb = ss_within / (n * (k - 1)), ss_between / (n - 1)
    share = structure_share(table)
    assert share["icc"] == pytest.approx((msb - msw) / (msb + (k - 1) * msw))
    assert share["within_sd"] == pytest.approx(math.sqrt(msw))
    assert share["between_sd"] == pytest.approx(np.std(means, ddof=1))
    assert (share["structures"], share["trainings_each"]) == (4, 3)
    # longer rows are cut to the shortest: a balanced table
    assert structure_share([row + [0.99] for row in table[:3]] + [table[3]]) == share


def test_a_structure_that_decides_everything_has_share_one_and_validation_tracks_test_within_a_structure():
    exact = structure_share([[0.6, 0.6, 0.6], [0.7, 0.7, 0.7], [0.8, 0.8, 0.8]])
    assert exact["icc"] == pytest.approx(1.0) and exact["within_sd"] == pytest.approx(0.0)
    luck = [[0.60, 0.70, 0.65], [0.62, 0.71, 0.66], [0.59, 0.69, 0.64]]  # the same luck for every structure
    shifted = [[x + 0.1 * i - 0.01 for x in row] for i, row in enumerate(luck)]  # validation: offset per structure
    share = structure_share(luck, shifted)
    assert share["val_test_r_within"] == pytest.approx(1.0)
    assert share["icc"] < 0.1  # the initialisation, not the structure, moves the accuracy
    with pytest.raises(ValueError, match="at least 2 structures"):
        structure_share([[0.5, 0.6]])
