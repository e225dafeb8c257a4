"""Search against its random baseline: best-so-far trajectories over the training budget.

A structure search earns its keep only if it finds better candidates per unit of training than
drawing them from the priors (Li & Talwalkar 2019; Yang et al. 2020).  ``structsearch evolve
--baseline random`` runs random search (``selection = "random"``, no gate) with the same seed and
exactly the training epochs the search spent, and prints both best-so-far curves side by side.
The benchmark ``benchmarks/search_efficiency.py`` uses the same trajectories.
"""

from __future__ import annotations

import copy
import math

from rich.table import Table

from structsearch.search.space import SearchSpace
from structsearch.store import Candidate, RunStore

FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def trained(candidates: list[Candidate]) -> list[Candidate]:
    """The candidates that cost training (not dropped, not reused duplicates), in the order they finished."""
    rows = [c for c in candidates if c.status is not None and c.status != "dropped-by-predictor"
            and not c.metrics.get("duplicate_of")]
    return sorted(rows, key=lambda c: (c.metrics.get("budget_spent", math.inf), c.id))


def trajectory(candidates: list[Candidate]) -> list[tuple[int, float, Candidate | None]]:
    """``(epochs spent, best validation accuracy so far, that best candidate)`` after each trained
    candidate, in the order they finished."""
    points, spent, best, pick = [], 0, -math.inf, None
    for candidate in trained(candidates):
        spent = candidate.metrics.get("budget_spent", spent + candidate.metrics.get("cost_epochs", 0))
        accuracy = candidate.metrics.get("val_accuracy")
        if candidate.status in ("ok", "stopped-early") and accuracy is not None and accuracy > best:
            best, pick = accuracy, candidate
        points.append((spent, best, pick))
    return points


def best_within(points: list[tuple[int, float, Candidate | None]], epochs: float) -> tuple[float, Candidate | None]:
    """The best validation accuracy (and its candidate) found within ``epochs`` spent."""
    best, pick = -math.inf, None
    for spent, value, candidate in points:
        if spent > epochs:
            break
        best, pick = value, candidate
    return best, pick


def budget_to_reach(points: list[tuple[int, float, Candidate | None]], target: float, budget: float) -> float:
    """The budget fraction at which the best so far first reaches ``target`` (∞ if never)."""
    for spent, best, _ in points:
        if best >= target - 1e-12:
            return spent / budget
    return math.inf


def random_baseline(space: SearchSpace, epochs: int) -> SearchSpace:
    """``space`` as random search (no gate) with a budget of exactly ``epochs`` training epochs."""
    baseline = copy.deepcopy(space)
    baseline.evolution.selection = "random"
    baseline.evolution.generations = max(baseline.evolution.generations, 10_000)
    baseline.gate.predictor = "none"
    baseline.budget.max_candidates, baseline.budget.max_hours, baseline.budget.max_epochs = 0, 0.0, max(1, epochs)
    return baseline.validate()


def comparison_table(runs: dict[str, RunStore]):
    """A rich table: per run, the best validation accuracy within each share of the first run's
    epochs, and the test accuracy of each run's final pick."""
    curves = {name: trajectory(store.candidates()) for name, store in runs.items()}
    first = next(iter(curves.values()))
    budget = first[-1][0] if first else 0
    table = Table(title=f"best validation accuracy against training epochs spent (of {budget:,})")
    table.add_column("search", no_wrap=True)
    table.add_column("trained", justify="right")
    for fraction in FRACTIONS:
        table.add_column(f"{fraction:.0%}", justify="right")
    table.add_column("test acc of pick", justify="right")
    for name, points in curves.items():
        cells = []
        for fraction in FRACTIONS:
            best, _ = best_within(points, fraction * budget)
            cells.append("–" if math.isinf(best) else f"{best:.4f}")
        _, pick = best_within(points, math.inf)
        test = pick.metrics.get("test_accuracy") if pick is not None else None
        table.add_row(name, str(len(points)), *cells, "–" if test is None else f"{test:.4f}")
    return table
