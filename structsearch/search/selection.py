"""Selection, a registry of functions: how parents are chosen (``parents``) and who survives a
generation (``survivors``), for ``[evolution] selection``. DEAP's operators draw from the
module-level ``random``; :class:`DeapRandom` gives them the search's own, checkpointed state.

- ``tournament``: tournaments for parents; elitism plus tournaments for survivors (Stier et al. 2021);
- ``aging``: regularized evolution (Real et al. 2019): parents by tournament, the youngest survive;
- ``nsga2``: NSGA-II (Deb et al. 2002) on (validation accuracy ↑, connections ↓): dominance
  tournaments for parents, non-dominated sorting with crowding for survivors;
- ``random``: random search: nothing is bred (each generation is drawn from the priors); the best
  are kept, to report.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from deap import tools

from structsearch.registry import Registry


class DeapRandom:
    """The search's own state of Python's ``random``, lent to DEAP inside :meth:`__call__`."""

    def __init__(self, seed: int):
        self.state = random.Random(seed).getstate()

    @contextmanager
    def __call__(self):
        saved = random.getstate()
        random.setstate(self.state)
        try:
            yield
        finally:
            self.state = random.getstate()
            random.setstate(saved)

    def to_json(self) -> list:
        version, internal, gauss = self.state
        return [version, list(internal), gauss]

    def restore(self, data: list) -> None:
        version, internal, gauss = data
        self.state = (version, tuple(internal), gauss)


def assign_crowding(population: list) -> None:
    """NSGA-II crowding distances of ``population`` computed on its own fronts."""
    for front in tools.sortNondominated(population, len(population)):
        tools.emo.assignCrowdingDist(front)


def dominance_tournament(a, b):
    """NSGA-II's binary tournament: the dominating one, else the less crowded, else either."""
    if a.fitness.dominates(b.fitness):
        return a
    if b.fitness.dominates(a.fitness):
        return b
    if a.fitness.crowding_dist != b.fitness.crowding_dist:
        return a if a.fitness.crowding_dist > b.fitness.crowding_dist else b
    return a if random.random() <= 0.5 else b


def tournament_parents(population: list, n: int, evolution) -> list:
    return tools.selTournament(population, n, tournsize=min(evolution.tournament_size, len(population)))


def dominance_parents(population: list, n: int, evolution) -> list:
    return [dominance_tournament(*random.sample(population, 2)) if len(population) > 1 else population[0]
            for _ in range(n)]


def elitist_tournament(pool: list, size: int, evolution) -> list:
    elites = tools.selBest(pool, evolution.elitism)
    return elites + tools.selTournament(pool, size - len(elites), tournsize=min(evolution.tournament_size, len(pool)))


def youngest(pool: list, size: int, evolution) -> list:
    return sorted(set(pool), key=lambda ind: ind.id)[-size:]


def non_dominated(pool: list, size: int, evolution) -> list:
    chosen = tools.selNSGA2(pool, min(size, len(pool)))
    assign_crowding(chosen)
    return chosen


def best(pool: list, size: int, evolution) -> list:
    return sorted(set(pool), key=lambda ind: (-ind.accuracy, ind.id))[:size]


@dataclass(frozen=True)
class Selection:
    """``parents(population, n, evolution)`` (None: nothing is bred) and ``survivors(pool, size,
    evolution)``; ``always`` runs the survivors' selection even when the pool fits."""

    parents: Callable[..., list] | None
    survivors: Callable[..., list]
    meaning: str
    always: bool = False


SELECTIONS: Registry[Selection] = Registry("selection", {
    "tournament": Selection(tournament_parents, elitist_tournament, "tournaments, with elitism"),
    "aging": Selection(tournament_parents, youngest, "regularized evolution: the youngest survive"),
    "nsga2": Selection(dominance_parents, non_dominated, "NSGA-II on accuracy ↑ and connections ↓", always=True),
    "random": Selection(None, best, "random search: every generation drawn from the priors"),
})


def select_parents(name: str, population: list, n: int, evolution, lend: DeapRandom) -> list:
    with lend():
        return SELECTIONS.lookup(name).parents(population, n, evolution)


def select_survivors(name: str, pool: list, evolution, lend: DeapRandom) -> list:
    selection = SELECTIONS.lookup(name)
    if len(pool) <= evolution.population and not selection.always:
        return pool
    with lend():
        return selection.survivors(pool, evolution.population, evolution)
