"""The gate's acquisition: which children of a scored pool train.

With ``[gate] pool = K`` a generation makes K × ``offspring`` children (operators are cheap: nothing
trains), the predictor scores every new one, and the best ``offspring`` by the acquisition train
(BANANAS, White et al. 2021: mutate the best into many candidates, train the top few):

- ``mean``: the predicted accuracy;
- ``ucb``: the mean plus ``beta`` times the predictor's spread (its ensemble's standard deviation);
- ``thompson``: BANANAS's independent Thompson sampling, one draw per child from a normal with the
  predictor's mean and spread, from a random stream of the generation's own (a replay draws the
  same);
- ``adaptive``: ``ucb`` whose weight on the spread shrinks as the ranker proves itself:
  ``beta × (1 − τ)``, with τ the mean Kendall τ of the model that ranks on the latest held-out
  generations (each predicted by a fit on the generations before it; clipped to [0, 1], 0 until one
  is measured). A predictor that ranks held-out children well is exploited (τ → 1: the mean); one
  that ranks them no better than chance is explored around (τ ≤ 0: ``ucb``). The idea came from
  ``ucb`` doing better on Reber, where the gate's τ was about 0.2, and ``mean`` on Fashion-MNIST,
  where it was about 0.8; at equal compute ``adaptive`` beat neither random search nor evolution on
  either space (the ``search_efficiency_adaptive`` record, whose Reber figures predate the fix of the
  recurrent embedding's seeding);
- ``ei``: the expected improvement over the incumbent, the best validation accuracy trained so far
  (Jones et al. 1998; one of BANANAS's acquisitions): ``(μ − f*)·Φ(z) + σ·φ(z)``, ``z = (μ − f*)/σ``,
  under a normal with the predictor's mean and spread;
- ``ei-per-macs``: the expected improvement per unit of training compute, ``ei`` divided by the
  child's planned training MACs (Snoek et al. 2012's "EI per second", with the exact cost in place of
  a predicted time: the budget counts MACs, and a child's cost is known from its structure before it
  trains). It trains more of the cheap children that may still improve, fewer of the dear ones.

The spread comes from the random forest's trees, Bayesian ridge's posterior, or a bootstrap
ensemble of any model (``[gate] ensemble``). On an NSGA-II space the pool is ranked on
(acquisition ↑, connections ↓) by non-dominated sorting, then by crowding distance within a front
(Deb et al. 2002), so the pool's trade-off between accuracy and size is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from deap import base, tools

from structsearch.registry import Registry


@dataclass(frozen=True)
class Acquisition:
    """``value(mean, std, beta, rng, incumbent, cost)``: the score a child is ranked by; ``spread``:
    whether it needs the predictor's standard deviation; ``cost``: whether it needs each child's
    planned training MACs; ``improves``: whether it measures against the incumbent."""

    value: Callable[..., np.ndarray]
    spread: bool
    meaning: str
    cost: bool = False
    improves: bool = False


def _mean(mean, std, beta, rng, incumbent, cost):
    return np.asarray(mean, dtype=float)


def _ucb(mean, std, beta, rng, incumbent, cost):
    return np.asarray(mean, dtype=float) + beta * np.asarray(std, dtype=float)


def _thompson(mean, std, beta, rng, incumbent, cost):
    mean = np.asarray(mean, dtype=float)
    return mean + np.asarray(std, dtype=float) * rng.standard_normal(mean.shape[0])


def expected_improvement(mean, std, incumbent: float) -> np.ndarray:
    """``E[max(Y − incumbent, 0)]`` for ``Y ~ N(mean, std²)``; ``max(mean − incumbent, 0)`` where
    ``std`` is 0."""
    from scipy.special import ndtr  # the normal's distribution function; scipy loads only where it is used

    mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    gain = mean - incumbent
    z = gain / np.where(std > 0, std, 1.0)  # where std is 0 the closed form is not used
    density = np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    return np.where(std > 0, gain * ndtr(z) + std * density, np.maximum(gain, 0.0))


def _ei(mean, std, beta, rng, incumbent, cost):
    return expected_improvement(mean, std, _incumbent(mean, incumbent))


def _ei_per_macs(mean, std, beta, rng, incumbent, cost):
    return _ei(mean, std, beta, rng, incumbent, cost) / np.asarray(cost, dtype=float)


def _incumbent(mean, incumbent: float | None) -> float:
    """The value to improve on: the best trained so far, or before any, the pool's best mean."""
    return float(np.max(mean)) if incumbent is None else float(incumbent)


ACQUISITIONS: Registry[Acquisition] = Registry("acquisition", {
    "mean": Acquisition(_mean, False, "the predicted accuracy"),
    "ucb": Acquisition(_ucb, True, "the predicted accuracy plus beta × the predictor's spread"),
    "thompson": Acquisition(_thompson, True, "a draw from the predictor's normal (independent Thompson sampling)"),
    "adaptive": Acquisition(_ucb, True, "ucb with beta × (1 − the ranker's held-out Kendall τ)"),
    "ei": Acquisition(_ei, True, "the expected improvement over the best validation accuracy trained so far",
                      improves=True),
    "ei-per-macs": Acquisition(_ei_per_macs, True, "the expected improvement per planned training MAC",
                               cost=True, improves=True),
})


def adaptive_beta(beta: float, tau: float | None) -> float:
    """The ``adaptive`` acquisition's weight on the spread: ``beta × (1 − τ)``, τ clipped to [0, 1]
    (``beta`` itself while no held-out τ is measured)."""
    return beta * (1.0 - min(1.0, max(0.0, tau or 0.0)))


def acquire(name: str, mean, std=None, beta: float = 1.0, rng: np.random.Generator | None = None,
            incumbent: float | None = None, cost=None) -> np.ndarray:
    """Each child's acquisition value; ``std`` is needed by every acquisition but ``mean``, ``rng`` by
    ``thompson``, ``incumbent`` (the best trained so far; default the pool's best mean) by ``ei`` and
    ``ei-per-macs``, and ``cost`` (each child's planned training MACs, > 0) by ``ei-per-macs``."""
    acquisition = ACQUISITIONS.lookup(name)
    if acquisition.spread and std is None:
        raise ValueError(f"the {name} acquisition needs the predictor's spread")
    if acquisition.cost and (cost is None or np.any(np.asarray(cost, dtype=float) <= 0)):
        raise ValueError(f"the {name} acquisition needs every child's planned training MACs (> 0)")
    return acquisition.value(mean, std, beta, rng, incumbent, cost)


class _TwoObjectives(base.Fitness):
    weights = (1.0, -1.0)  # acquisition ↑, connections ↓


class _Scored:
    def __init__(self, index: int, value: float, connections: float):
        self.index = index
        self.fitness = _TwoObjectives((value, connections))


def pareto_order(values, connections) -> np.ndarray:
    """The pool's indices best first on (``values`` ↑, ``connections`` ↓): the non-dominated front
    first, then the next; within a front the less crowded first (larger crowding distance, the
    extremes infinite), ties by index."""
    scored = [_Scored(i, float(v), float(c)) for i, (v, c) in enumerate(zip(values, connections, strict=True))]
    order = []
    for front in tools.sortNondominated(scored, len(scored)):
        tools.emo.assignCrowdingDist(front)
        order += [s.index for s in sorted(front, key=lambda s: (-s.fitness.crowding_dist, s.index))]
    return np.asarray(order, dtype=int)


def rank_pool(values, connections=None) -> np.ndarray:
    """The pool's indices best first: by ``values`` (ties by index), or, with ``connections``, by
    :func:`pareto_order`."""
    if connections is not None:
        return pareto_order(values, connections)
    return np.argsort(-np.asarray(values, dtype=float), kind="stable")
