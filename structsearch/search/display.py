"""What a search shows and leaves behind: the rich live view, the summary table, ``best.json``,
``best-genotype.json`` and, for NSGA-II, ``pareto.csv``."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from structsearch.compute import format_macs
from structsearch.runs import write_json, write_rows
from structsearch.search.dispatch import GenerationStats
from structsearch.search.engine import NullView
from structsearch.search.genome import Individual
from structsearch.tables import Column, fitted_table


def _accuracy(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def _tau(value) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def spent(search) -> str:
    """The compute and epochs a search has spent, against its budget where it has one."""
    budget, ledger = search.space.budget, search.ledger
    macs = format_macs(ledger.spent_macs) + (f" of {format_macs(budget.max_macs)}" if budget.max_macs else "")
    epochs = f"{ledger.spent_epochs}" + (f" of {budget.max_epochs}" if budget.max_epochs else "")
    return f"{macs} trained, {epochs} epochs"


def structure(individual: Individual) -> str:
    graph = individual.graph
    if not hasattr(graph, "layer_widths"):  # a convolutional genotype
        return graph.summary()
    widths = "-".join(map(str, graph.layer_widths()))
    skip = int(graph.skip_edges().sum())
    return f"{widths} ({individual.cell}) skip {skip}" if individual.cell else f"{widths} skip {skip}"


class LiveView(NullView):
    """Generation progress, candidates in flight, best so far and gate statistics, redrawn live;
    one plain line per generation stays in the scroll-back (and in logs, where there is no TTY)."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=self.console)
        self.live: Live | None = None
        self.generations = self.candidates = None
        self.gate_line = "gate: off"

    def start(self, search) -> None:
        evolution = search.space.evolution
        self.console.print(f"[bold]structsearch evolve[/bold] {search.space.name} → {search.run_dir} "
                           f"({search.executor.describe()})")
        self.generations = self.progress.add_task("generations", total=evolution.generations + 1,
                                                  completed=search.generation + 1)
        self.candidates = self.progress.add_task("generation –", total=1, completed=0)
        gate = search.space.gate
        if gate.enabled:
            self.gate_line = (f"gate: {gate.predictor}, a pool of {gate.pool} × offspring, {gate.acquisition}"
                              if gate.pooled else f"gate: {gate.predictor}, estimation fraction "
                                                    f"{gate.estimation_fraction}")
        self.search = search
        self.live = Live(self._render(), console=self.console, refresh_per_second=4, transient=True)
        self.live.start()

    def _render(self):
        search = self.search
        best = search.best
        status = Table.grid(padding=(0, 2))
        status.add_row("in flight", f"{search.ledger.in_flight} (workers: {search.executor.workers})")
        status.add_row("trained", f"{search.trained} of {search.store.count()} candidates")
        status.add_row("compute", spent(search))
        if best is not None:
            status.add_row("best so far", f"#{best.id} val {_accuracy(best.accuracy)} test "
                           f"{_accuracy(best.metrics.get('test_accuracy'))} · {best.graph.connections} connections · "
                           f"{structure(best)}")
        status.add_row("gate", self.gate_line)
        return Group(self.progress, status)

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._render())

    def generation_started(self, search, stats: GenerationStats, queued: int) -> None:
        self.progress.reset(self.candidates, total=max(queued, 1), completed=0,
                            description=f"generation {stats.generation}")
        self._refresh()

    def candidate_done(self, search, individual, status) -> None:
        self.progress.advance(self.candidates)
        self._refresh()

    def generation_done(self, search, stats: GenerationStats) -> None:
        self.progress.update(self.generations, completed=stats.generation + 1)
        tau = "" if stats.gate_kendall_tau is None else (f", gate τ on kept {stats.gate_kendall_tau:+.2f} "
                                                         f"(connections alone {_tau(stats.size_kendall_tau)})")
        if stats.audited:
            tau += (f", audit of {stats.audited}: τ {_tau(stats.gate_tau_weighted)} (weighted, all scored; "
                    f"connections alone {_tau(stats.size_tau_weighted)}), regret {stats.gate_regret:.1f}")
        if search.gate.active:
            self.gate_line = (f"{search.space.gate.predictor} ({stats.gate_model or search.gate.choice}): generation "
                              f"{stats.generation} kept {stats.kept}, dropped {stats.dropped}{tau}")
        best = search.best
        spread = "" if stats.spread is None else (f"; population: {stats.unique} unique, spread {stats.spread:.2f}, "
                                                  f"distance {stats.distance:.2f}")
        self.console.print(
            f"generation {stats.generation}: {stats.children} children, {stats.duplicates} duplicates, "
            f"{stats.dropped} dropped by the gate, {stats.trained} trained ({stats.failed} failed"
            f"{f', {stats.reseeded} re-initialised' if stats.reseeded else ''}){tau}; "
            f"best val {_accuracy(best.accuracy if best else None)}; {spent(search)}{spread} ({stats.seconds:.1f} s)")
        self._refresh()

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def ranked(search) -> list[Individual]:
    """Every trained, distinct structure, best validation accuracy first (fewer connections break ties):
    of a structure retrained from new initialisations (``[evolution] reseeds``), its best training."""
    order = sorted(search.known.values(), key=lambda ind: (-ind.accuracy, ind.graph.connections, ind.id))
    seen: set[int] = set()
    distinct = []
    for individual in order:
        root = individual.id if individual.reseed_of is None else individual.reseed_of
        if root not in seen:
            seen.add(root)
            distinct.append(individual)
    return distinct


def summary_records(search, top: int = 5) -> list[dict]:
    """The best candidates' figures (the table's rows and ``evolve --json``)."""
    records = []
    for individual in ranked(search)[:top]:
        candidate = search.store.candidate(individual.id)
        records.append({"id": individual.id, "generation": candidate.generation, "structure": structure(individual),
                        "connections": individual.graph.connections, "val_accuracy": individual.accuracy,
                        "test_accuracy": individual.metrics.get("test_accuracy"),
                        "train_seconds": candidate.seconds.get("total"),
                        "origin": (individual.origin if individual.reseed_of is None
                                   else f"reseed of {individual.reseed_of}")})
    return records


def summary_rows(search, top: int = 5) -> list[list[str]]:
    return [[str(r["id"]), str(r["generation"]), r["structure"], f"{r['connections']:,}",
             _accuracy(r["val_accuracy"]), _accuracy(r["test_accuracy"]),
             f"{r['train_seconds'] if r['train_seconds'] is not None else float('nan'):.1f}",
             r["origin"].replace("+", " + ")] for r in summary_records(search, top)]


def summary_table(search, top: int = 5, width: int | None = None) -> Table:
    """The best candidates; the id, structure and origin wrap and are never cut (the other columns go
    first when the terminal is narrow)."""
    columns = [Column("id", identifies=True, justify="right"), Column("gen", priority=2, justify="right"),
               Column("structure", identifies=True), Column("connections", priority=3, justify="right"),
               Column("val acc", priority=5, justify="right"), Column("test acc", priority=4, justify="right"),
               Column("train s", priority=1, justify="right"), Column("origin", identifies=True)]
    return fitted_table(f"best candidates of {search.run_dir.name}", columns, summary_rows(search, top), width)


def summary_json(search, top: int = 5) -> str:
    """The best candidates as JSON (``evolve --json``)."""
    return json.dumps({"run": str(search.run_dir), "best": summary_records(search, top)})


def write_outputs(search, top: int = 10) -> list[Path]:
    """best.json (the top candidates with their genotypes), best-genotype.json (the best one, ready
    for ``structsearch train --genotype``) and, for NSGA-II, pareto.csv."""
    run_dir = search.run_dir
    best = ranked(search)[:top]
    entries = []
    for individual in best:
        candidate = search.store.candidate(individual.id)
        entries.append({"id": individual.id, "hash": individual.key, "generation": candidate.generation,
                        "origin": individual.origin, "cell": individual.cell, "status": individual.status,
                        **({"reseed_of": individual.reseed_of} if individual.reseed_of is not None else {}),
                        "val_accuracy": individual.accuracy,
                        "test_accuracy": individual.metrics.get("test_accuracy"),
                        "connections": individual.graph.connections, "structure": individual.graph.describe(),
                        "seconds": candidate.seconds, "genotype": individual.graph.to_dict()})
    written = [
        write_json(
            run_dir / "best.json",
            {
                "space": search.space.name,
                "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "selected_by": "validation accuracy",
                "candidates": entries,
            },
        )
    ]
    if best:
        written.append(best[0].graph.save(run_dir / "best-genotype.json"))
    if search.space.evolution.selection == "nsga2":
        written.append(write_rows(run_dir / "pareto.csv", pareto_rows(search)))
    return written


def pareto_rows(search) -> list[dict]:
    """The non-dominated trained candidates on (validation accuracy ↑, connections ↓)."""
    candidates = ranked(search)
    front, fewest = [], math.inf
    for individual in candidates:  # accuracy descending: keep each that needs fewer connections
        if individual.graph.connections < fewest:
            fewest = individual.graph.connections
            front.append(individual)
    return [{"id": ind.id, "val_accuracy": ind.accuracy, "test_accuracy": ind.metrics.get("test_accuracy"),
             "connections": ind.graph.connections, "structure": structure(ind), "cell": ind.cell or ""}
            for ind in front]
