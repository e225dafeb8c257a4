"""The genetic structure search behind ``structsearch evolve``.

One generation:

1. **Vary** — parents are chosen from the population (tournament, or NSGA-II's dominance and
   crowding tournament) and each yields a child by crossover and/or mutation
   (:func:`~structsearch.search.genome.make_offspring`).  Generation 0 is drawn from the priors.
2. **Deduplicate** — a child whose graph hash (and cell) was trained before reuses that result.
3. **Gate** — the predictor scores the new children and only the top (1 − f) train
   (:class:`~structsearch.search.gate.structure.PredictorGate`).  Every child is stored at once, with its
   features and gate decision, in one transaction.
4. **Train** — the kept children go to the executor; each result is stored the moment it arrives.
5. **Select** survivors — tournament with elitism, regularized (aging) evolution (the youngest
   survive), or NSGA-II on (validation accuracy ↑, connections ↓).
6. **Checkpoint** — population ids, generation and every random state go to the store.

``selection = "random"`` is random search on the same footing: every generation is drawn from the
priors, through the same store, deduplication, gate, budget, executors, live view and resume.

The budget (``[budget]``: candidates, hours, training epochs) is checked before every candidate
is sent to train, not only between generations: a candidate is sent only while the epochs spent
plus the epochs the running candidates may still spend stay below ``max_epochs``, so a search
ends within one candidate's epochs of its budget whatever the number of workers.  Each result
records its cost (``cost_epochs``, ``cost_seconds`` in its metrics) and the search's epochs
spent when it finished (``budget_spent``: the x axis of "best so far against budget"); a reused
duplicate costs nothing.

Fitness is *validation* accuracy; the test accuracy of each candidate is recorded for reporting
only.  A run killed at any moment resumes from its last checkpoint: the interrupted generation is
replayed from the saved random states, which recreates exactly the children already stored, so
finished candidates are reused, not retrained, and the final population is the one an
uninterrupted run reaches.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from structsearch import seeds
from structsearch.config import TaskConfig, task_table
from structsearch.diversity import population_spread
from structsearch.errors import ConfigError, DataError
from structsearch.search.admission import Admission, replay
from structsearch.search.dispatch import GenerationStats, Ledger, candidate_seed, child_planned_macs, train_generation
from structsearch.search.gate.audit import audit_summary
from structsearch.search.gate.curve import refit_curve_gate
from structsearch.search.gate.structure import PredictorGate, candidate_features
from structsearch.search.genome import Individual, make_offspring, random_individual
from structsearch.search.inheritance import WeightsKeeper
from structsearch.search.reseed import reseed_children
from structsearch.search.selection import DeapRandom, assign_crowding, select_parents, select_survivors
from structsearch.search.shared import cached_task
from structsearch.search.space import SearchSpace, space_from_dict
from structsearch.store import RunStore

TRAINED = ("ok", "failed", "diverged", "stopped-early")
RESUME_CHANGES = ("evolution.generations", "budget.max_candidates", "budget.max_hours", "budget.max_epochs",
                  "budget.max_macs")
STATE_KEY = "search_state"
DRY_RUN_KEY = "dry_run"  # set in the store of a search whose executor does not train (stand-in accuracies)


@dataclass
class SearchOutcome:
    """What :meth:`Search.run` returns.

    Parameters
    ----------
    run_dir : Path
        The run folder (its ``run.db`` holds every candidate).
    population : list of Individual
        The final population.
    generations : int
        The last generation run.
    trained : int
        Candidates trained.
    candidates : int
        Candidates made, trained or not (dropped by the gate, duplicates).
    stopped_by : str
        What ended the search: ``generations`` or the budget that ran out.
    history : list of GenerationStats
        Per generation: counts, best accuracy, the gate's τ.
    """

    run_dir: Path
    population: list[Individual]
    generations: int
    trained: int
    candidates: int
    stopped_by: str
    history: list[GenerationStats] = field(default_factory=list)


class NullView:
    """The display protocol; the rich live view lives in :mod:`structsearch.search.display`."""

    def start(self, search) -> None: ...
    def generation_started(self, search, stats: GenerationStats, queued: int) -> None: ...
    def candidate_done(self, search, individual: Individual, status: str) -> None: ...
    def generation_done(self, search, stats: GenerationStats) -> None: ...
    def stop(self) -> None: ...


def start_workers(executor, task: TaskConfig, data_dir: str | None) -> None:
    """Let an executor that can start its workers ahead of the first job do so (LocalExecutor: they
    import torch, load the kernels and the task while the search loads its task and samples its
    population)."""
    start = getattr(executor, "start", None)
    if start is not None:
        start(json.dumps(task_table(task)), data_dir)


class Search:
    """A search in ``run_dir``: new (:meth:`start`) or continued (:meth:`resume`); :meth:`run`
    runs it to its end.

    Generation 0 draws ``evolution.population`` candidates from the space's priors; every later
    generation breeds ``evolution.offspring`` children (Stier et al. 2021's genetic search, with
    DEAP's selection), deduplicates them by graph hash, lets the gate drop the weakest, trains the
    rest on the executor and selects the next population. Every candidate is a row of the run's
    store, written as it finishes, so a search killed at any moment resumes to exactly the
    population the uninterrupted run reaches. The parts: :class:`~.admission.Admission`,
    :func:`~.admission.replay`, :mod:`.dispatch` (jobs sent under the budget's
    :class:`~.dispatch.Ledger`, results stored), :class:`~.inheritance.WeightsKeeper`, :mod:`.selection`,
    :mod:`.reseed` (``[evolution] reseeds``: new initialisations of the best structures, beside the
    children) and the :mod:`.gate` package.

    Parameters
    ----------
    space : SearchSpace
        The validated space.
    store : RunStore
        The run's store (made by :meth:`start`, opened by :meth:`resume`).
    executor : InProcessExecutor, LocalExecutor or DaskExecutor
        Where candidates train.
    data_dir : str, optional
        The datasets folder of file tasks.
    view : object, optional
        A live view (the command's terminal display); none by default.

    References
    ----------
    Stier, Darji & Granitzer (2021), "Experiments on properties of hidden structures of sparse
    neural networks", arXiv:2107.12917. Real et al. (2019), "Regularized evolution for image
    classifier architecture search" (``selection = "aging"``). Deb et al. (2002), NSGA-II
    (``selection = "nsga2"``).
    """

    def __init__(self, space: SearchSpace, store: RunStore, executor, data_dir: str | None = None,
                 view=None):
        self.space, self.store, self.executor = space, store, executor
        self.data_dir = data_dir
        self.view = view or NullView()
        self.task = cached_task(space.task, data_dir)
        self.n_inputs = space.n_inputs(self.task)
        space.family.check_task(self.task, space)
        self.gate = PredictorGate(space.gate, space.cells, seeds.derive(space.seed, "gate"), space.genes,
                                  space.family, space.evolution.n_offspring, space.evolution.selection == "nsga2")
        self.curve_gate = None  # the gate's curve stage, once fitted (refit_gate)
        self.rng = seeds.generator(space.seed, "search")
        self.random = DeapRandom(seeds.derive(space.seed, "selection"))
        self.population: list[Individual] = []
        self.generation = -1
        self.elapsed_before = 0.0
        self.session_start = time.monotonic()
        self.history: list[GenerationStats] = []
        self.known: dict[str, Individual] = {}  # key → the trained individual it was first seen as
        self.ledger = Ledger(space.budget, lambda: self.elapsed)
        self.best: Individual | None = None
        self.admission = Admission(space, store, self.gate, self.known, self._features,
                                   lambda child: child_planned_macs(space, self.task, child))
        self.weights = WeightsKeeper(self.run_dir, store, space.evolution)

    @classmethod
    def start(cls, space: SearchSpace, run_dir: str | Path, executor, data_dir=None, view=None) -> Search:
        """A new search of ``space`` in ``run_dir`` (a new folder; an existing one is refused), ready to
        :meth:`run`; ``executor``, ``data_dir`` and ``view`` as for the class."""
        config = {**space.to_dict(), "command": "evolve", "data_dir": data_dir, "seed_version": seeds.SEED_VERSION}
        store = RunStore.create(run_dir, config, kind="evolve")
        start_workers(executor, space.task, data_dir)
        search = cls(space, store, executor, data_dir, view)
        store.set_meta("input_shape", list(search.task.input_shape))  # for the report's input-importance image
        if not getattr(executor, "trains", True):
            store.set_meta(DRY_RUN_KEY, True)
        return search

    @classmethod
    def resume(cls, run_dir: str | Path, executor, data_dir=None, view=None,
               extend: dict[str, object] | None = None) -> Search:
        """Continue the search stored in ``run_dir`` (after a crash, ``kill -9`` included), ready to
        :meth:`run`: finished candidates are reused, not retrained. ``extend`` may change where it stops
        (the dotted keys of ``RESUME_CHANGES``), never the path it takes."""
        store = RunStore.open(run_dir, write=True, kind="evolve")
        config = store.config
        try:
            seeds.check_version(config.get("seed_version", 1), run_dir)
        except DataError:
            store.close()
            raise
        config = {k: v for k, v in config.items() if k not in ("command", "data_dir", "seed_version")}
        for dotted, value in (extend or {}).items():
            if dotted not in RESUME_CHANGES:
                store.close()
                raise ConfigError(f"--resume cannot change {dotted}; it may change only {', '.join(RESUME_CHANGES)}")
            table, key = dotted.split(".")
            config[table][key] = value
        space = space_from_dict(config, f"{run_dir} (stored search space)")
        if extend:
            store.set_meta("config", {**store.config, **space.to_dict()})
        start_workers(executor, space.task, data_dir or store.config.get("data_dir"))
        search = cls(space, store, executor, data_dir or store.config.get("data_dir"), view)
        restore(search)
        return search

    @property
    def run_dir(self) -> Path:
        return self.store.path.parent

    @property
    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.session_start

    @property
    def trained(self) -> int:
        return self.ledger.trained

    def run(self) -> SearchOutcome:
        """Run generations until ``evolution.generations`` or a budget ends the search.

        Returns
        -------
        SearchOutcome
            The final population, the counts and what stopped it.
        """
        evolution = self.space.evolution
        self.view.start(self)
        stopped_by = "generations"
        try:
            while self.generation < evolution.generations:
                spent = self.ledger.exhausted()
                if spent:
                    stopped_by = spent
                    break
                generation = self.generation + 1
                if generation == 0:
                    children = self.draw(evolution.population)
                else:
                    self.refit_gate()
                    n = self.gate.pool_size(evolution.n_offspring)  # a pool for the gate to choose from
                    children = (self.draw(n) if evolution.selection == "random" else
                                make_offspring(self.space, self.select_parents(n), self.rng))
                    children += reseed_children(self.known, generation, evolution.reseeds,
                                                evolution.selection == "nsga2")
                stats = self.run_generation(generation, children, gated=generation > 0)
                pool = self.population + [c for c in children if c.fitness.valid and not c.audit_weight
                                          and c.reseed_of is None]
                self.population = select_survivors(evolution.selection, pool, evolution, self.random)
                self.generation_done(stats)
                if self.ledger.stop:  # stopped part-way: not checkpointed, so --resume finishes it
                    # said again now that the candidates that were running have finished
                    stopped_by = self.ledger.exhausted() or self.ledger.stop
                    break
                self.checkpoint(generation)
                self.weights.retain(generation, self.population)
        finally:
            self.view.stop()
        finished = {"stopped_by": stopped_by, "generation": self.generation, "trained": self.ledger.trained,
                    **audit_summary(self.history)}
        if self.store.meta("search_finished", {}).get("generation") != self.generation:
            self.store.set_meta("search_finished", {**finished, "elapsed": self.elapsed})
            self.store.log_event("finished", **finished)
        return SearchOutcome(self.run_dir, self.population, self.generation, self.ledger.trained, self.store.count(),
                             stopped_by, self.history)

    def draw(self, count: int) -> list[Individual]:
        """``count`` candidates drawn from the priors."""
        return [random_individual(self.space, self.n_inputs, self.task.n_classes, self.rng) for _ in range(count)]

    def select_parents(self, n: int) -> list[Individual]:
        evolution = self.space.evolution
        return select_parents(evolution.selection, self.population, n, evolution, self.random)

    def run_generation(self, generation: int, children: list[Individual], gated: bool) -> GenerationStats:
        """Admit (or, after a crash, replay) and train one generation's children."""
        started = time.monotonic()
        stats = GenerationStats(generation, children=len(children))
        stored = self.store.candidates(generation=generation)
        if stored:
            pending = replay(self.run_dir, generation, children, stored, stats, self.known)
        else:
            pending = self.admission.admit(generation, children, gated, stats,
                                           lambda index: candidate_seed(self.space.seed, generation, index))
        self.view.generation_started(self, stats, len(pending))
        train_generation(self, generation, pending, children, stats)
        stats.seconds = time.monotonic() - started
        return stats

    def generation_done(self, stats: GenerationStats) -> None:
        """Record a generation once its survivors are selected: the population's spread, the event,
        the live view."""
        reference = [self.stored_features(c) for c in self.known.values()]
        spread = population_spread([self.stored_features(c) for c in self.population], reference,
                                   [c.key for c in self.population])
        for key, value in spread.items():
            setattr(stats, key, value)
        self.history.append(stats)
        self.store.log_event("generation", **stats.__dict__, best=self.best.id if self.best else None)
        self.view.generation_done(self, stats)

    def _features(self, individual: Individual, seed: int | None = None) -> tuple[dict, dict]:
        seed = candidate_seed(self.space.seed, individual.generation, 0) if seed is None else seed
        return candidate_features(self.space, self.task, individual, seed)

    def note_best(self, individual: Individual) -> None:
        if individual.fitness.valid and (self.best is None or (individual.accuracy, -individual.id)
                                         > (self.best.accuracy, -self.best.id)):
            self.best = individual

    def checkpoint(self, generation: int) -> None:
        self.generation = generation
        self.store.set_meta(STATE_KEY, {
            "generation": generation, "population": [ind.id for ind in self.population],
            "python_random": self.random.to_json(), "numpy_random": self.rng.bit_generator.state,
            "elapsed": self.elapsed, "trained": self.ledger.trained,
        })

    def refit_gate(self) -> None:
        """Refit an online gate on every trained result so far, once there are ``warmup`` of them; and
        the curve stage, whose threshold is the ``estimation_fraction`` quantile of the population's
        accuracies (a child predicted below it is unlikely to be selected)."""
        config = self.gate.config
        if not (config.enabled and self.gate.online):
            return
        # in id order: results arrive in whatever order the workers finish, the fit must not depend on it
        rows = sorted((c for c in self.known.values() if c.status == "ok"), key=lambda c: c.id)
        if len(rows) + self.gate.pretrain_rows >= config.warmup and config.stage != "curve":
            self.gate.refit([self.stored_features(c) for c in rows], [c.accuracy for c in rows],
                            [self.space.family.size(c.graph)[0] for c in rows], [c.generation for c in rows])
            if self.gate.comparison:
                self.store.log_event("gate_model", choice=self.gate.choice, **self.gate.comparison)
        if config.stage != "structure":
            curves = {c.id: c.curves.get("val_accuracy", []) for c in self.store.candidates()}
            self.curve_gate = refit_curve_gate(config, self.gate.names, rows, curves, self.stored_features,
                                               self.population)

    def stored_features(self, individual: Individual) -> dict:
        if individual.features is None:
            candidate = self.store.candidate(individual.id)
            individual.features = candidate.features or self._features(individual)[0]
        return individual.features


def restore(search: Search) -> None:
    """A resumed search's state from its store: the trained candidates (deduplication, the budget
    spent, the best), the time already spent, and the last checkpoint's population and random states.
    Without a checkpoint (killed during generation 0) generation 0 is replayed from the seed."""
    pareto = search.space.evolution.selection == "nsga2"
    by_id: dict[int, Individual] = {}
    last_result = 0.0  # the search's seconds when its latest result came in
    for candidate in search.store.candidates():
        last_result = max(last_result, float(candidate.metrics.get("search_elapsed", 0.0)))
        if candidate.metrics.get("weights_file"):
            search.weights.written.add(candidate.id)
        if candidate.status in TRAINED:
            individual = Individual(candidate.genotype, candidate.attributes.get("cell"), origin=candidate.origin,
                                    parents=tuple(candidate.parents), pareto=pareto,
                                    genes=candidate.attributes.get("genes"))
            individual.id, individual.generation = candidate.id, candidate.generation
            individual.reseed_of = candidate.attributes.get("reseed_of")
            individual.regraph(candidate.genotype, candidate.hash)
            individual.set_fitness(candidate.status, candidate.metrics)
            by_id[candidate.id] = individual
            if not candidate.metrics.get("duplicate_of"):
                search.ledger.trained += 1
                search.ledger.spent_epochs += int(candidate.metrics.get("cost_epochs", 0))
                search.ledger.spent_macs += int(candidate.metrics.get("cost_macs", 0) or 0)
                if not (candidate.feature_meta.get("gate") or {}).get("audit"):
                    search.known.setdefault(individual.key, individual)
            search.note_best(individual)
    state = search.store.meta(STATE_KEY)
    # the time already spent: the latest of the checkpoint, the last finish and the last result, so
    # that a search stopped or killed part-way (even in generation 0) keeps it for max_hours
    search.elapsed_before = max([float((state or {}).get("elapsed", 0.0)),
                                 float(search.store.meta("search_finished", {}).get("elapsed", 0.0)), last_result])
    if state is None:
        return
    search.generation = int(state["generation"])
    missing = [i for i in state["population"] if i not in by_id]
    if missing:
        raise DataError(f"{search.store.path}: damaged run store: its checkpoint's population names candidate "
                        f"{missing[0]}, which has no stored result")
    search.population = [by_id[i] for i in state["population"]]
    search.random.restore(state["python_random"])
    search.rng.bit_generator.state = state["numpy_random"]
    if pareto:
        assign_crowding(search.population)
