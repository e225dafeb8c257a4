"""Search against its random baseline: best-so-far trajectories over the training budget.

A structure search earns its keep only if it finds better candidates per unit of training than
drawing them from the priors (Li & Talwalkar 2019; Yang et al. 2020).  ``structsearch evolve
--baseline random`` runs random search (``selection = "random"``, no gate) with the same seed and
exactly the budget the search spent, in the search's own unit: its training compute (MACs) when
its budget is ``max_macs``, else its training epochs. It prints both best-so-far curves side by
side, the compute each spent and the test accuracy of each one's pick. The benchmark
``benchmarks/search_efficiency.py`` uses the same trajectories.
"""

from __future__ import annotations

import copy
import math

from rich.table import Table

from structsearch.compute import format_macs
from structsearch.search.space import SearchSpace
from structsearch.store import Candidate, RunStore

FRACTIONS = (0.25, 0.5, 0.75, 1.0)
TABLE_FRACTIONS = (0.5, 1.0)  # the comparison table's (it fits 80 columns)


def trained(candidates: list[Candidate]) -> list[Candidate]:
    """The candidates that cost training (not dropped, not reused duplicates), in the order they finished."""
    rows = [c for c in candidates if c.status is not None and c.status != "dropped-by-predictor"
            and not c.metrics.get("duplicate_of")]
    return sorted(rows, key=lambda c: (c.metrics.get("budget_spent", math.inf), c.id))


UNITS = {"epochs": ("budget_spent", "cost_epochs"), "macs": ("macs_spent", "cost_macs")}  # spent, cost


def budget_unit(space: SearchSpace) -> str:
    """The unit a search's budget counts: ``macs`` with ``max_macs``, else ``epochs``."""
    return "macs" if space.budget.max_macs else "epochs"


def trajectory(candidates: list[Candidate], unit: str = "epochs") -> list[tuple[int, float, Candidate | None]]:
    """``(budget spent, best validation accuracy so far, that best candidate)`` after each trained
    candidate, in the order they finished; the budget in training ``epochs`` or compute (``macs``)."""
    points, spent, best, pick = [], 0, -math.inf, None
    total, cost = UNITS[unit]
    for candidate in trained(candidates):
        spent = candidate.metrics.get(total, spent + candidate.metrics.get(cost, 0))
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


def random_baseline(space: SearchSpace, epochs: int, macs: int | None = None) -> SearchSpace:
    """``space`` as random search (no gate, no pool) with a budget of exactly ``epochs`` training
    epochs, or with ``macs`` exactly that training compute."""
    baseline = copy.deepcopy(space)
    baseline.evolution.selection = "random"
    baseline.evolution.generations = max(baseline.evolution.generations, 10_000)
    baseline.gate.predictor, baseline.gate.pool = "none", 1
    budget = baseline.budget
    budget.max_candidates, budget.max_hours = 0, 0.0
    budget.max_epochs, budget.max_macs = (0, max(1, macs)) if macs is not None else (max(1, epochs), None)
    return baseline.validate()


def comparison_table(runs: dict[str, RunStore], unit: str = "epochs"):
    """A rich table: per run, the candidates it trained, the compute it spent, the best validation
    accuracy within each share of the first run's budget (``epochs`` or ``macs``), and the test
    accuracy of its final pick (chosen on validation)."""
    curves = {name: trajectory(store.candidates(), unit) for name, store in runs.items()}
    first = next(iter(curves.values()))
    budget = first[-1][0] if first else 0
    what = f"training compute ({format_macs(budget)})" if unit == "macs" else f"training epochs ({budget:,})"
    table = Table(title=f"best validation within the {what}")
    table.add_column("search", no_wrap=True)
    for header in ("trained", "compute", *(f"val {fraction:.0%}" for fraction in TABLE_FRACTIONS), "pick test"):
        table.add_column(header, justify="right", no_wrap=True)
    for name, points in curves.items():
        cells = []
        for fraction in TABLE_FRACTIONS:
            best, _ = best_within(points, fraction * budget)
            cells.append("–" if math.isinf(best) else f"{best:.4f}")
        _, pick = best_within(points, math.inf)
        test = pick.metrics.get("test_accuracy") if pick is not None else None
        compute = sum(int(c.metrics.get("cost_macs", 0) or 0) for c in trained(runs[name].candidates()))
        table.add_row(name, str(len(points)), format_macs(compute), *cells, "–" if test is None else f"{test:.4f}")
    return table
