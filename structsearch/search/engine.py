"""The genetic structure search behind ``structsearch evolve``.

One generation:

1. **Vary** — parents are chosen from the population (tournament, or NSGA-II's dominance and
   crowding tournament) and each yields a child by crossover and/or mutation
   (:func:`~structsearch.search.genome.make_offspring`).  Generation 0 is drawn from the priors.
2. **Deduplicate** — a child whose graph hash (and cell) was trained before reuses that result.
3. **Gate** — the predictor scores the new children and only the top (1 − f) train
   (:class:`~structsearch.search.gate.PredictorGate`).  Every child is stored at once, with its
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

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from structsearch import seeds
from structsearch.errors import ConfigError, DataError
from structsearch.limits import available_cores
from structsearch.search import genes as training_genes
from structsearch.search import worker
from structsearch.search.admission import Admission, duplicate_result, replay
from structsearch.search.gate import (
    PredictorGate,
    audit_summary,
    candidate_features,
    refit_curve_gate,
    score_generation,
)
from structsearch.search.genome import Individual, make_offspring, random_individual
from structsearch.search.inheritance import WeightsKeeper
from structsearch.search.selection import DeapRandom, assign_crowding, select_parents, select_survivors
from structsearch.search.shared import cached_task, stopping_medians
from structsearch.search.space import SearchSpace, space_from_dict
from structsearch.store import RunStore

TRAINED = ("ok", "failed", "diverged", "stopped-early")
RESUME_CHANGES = ("evolution.generations", "budget.max_candidates", "budget.max_hours", "budget.max_epochs")
STATE_KEY = "search_state"


@dataclass
class GenerationStats:
    generation: int
    children: int = 0
    duplicates: int = 0
    scored: int = 0
    kept: int = 0
    dropped: int = 0
    trained: int = 0
    failed: int = 0
    gate_kendall_tau: float | None = None  # on the children it kept only (range-restricted)
    audited: int = 0  # dropped children trained anyway, drawn at random ([gate] audit)
    gate_tau_weighted: float | None = None  # over every scored child, audited ones weighted up
    gate_regret: float | None = None  # estimated dropped children that would have made the top quarter
    seconds: float = 0.0


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


def candidate_seed(seed: int, generation: int, index: int) -> int:
    return seeds.derive(seed, "candidate", generation, index)


class Search:
    """A search in ``run_dir``: new (:meth:`start`) or continued (:meth:`resume`); :meth:`run`
    runs it to its end.

    Generation 0 draws ``evolution.population`` candidates from the space's priors; every later
    generation breeds ``evolution.offspring`` children (Stier et al. 2021's genetic search, with
    DEAP's selection), deduplicates them by graph hash, lets the gate drop the weakest, trains the
    rest on the executor and selects the next population. Every candidate is a row of the run's
    store, written as it finishes, so a search killed at any moment resumes to exactly the
    population the uninterrupted run reaches. The parts: :class:`~.admission.Admission`,
    :func:`~.admission.replay`, :class:`~.inheritance.WeightsKeeper`, :mod:`.selection` and the
    :mod:`.gate` package.

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
                                  space.family)
        self.curve_gate = None  # the gate's curve stage, once fitted (refit_gate)
        self.rng = seeds.generator(space.seed, "search")
        self.random = DeapRandom(seeds.derive(space.seed, "selection"))
        self.population: list[Individual] = []
        self.generation = -1
        self.elapsed_before = 0.0
        self.session_start = time.monotonic()
        self.history: list[GenerationStats] = []
        self.known: dict[str, Individual] = {}  # key → the trained individual it was first seen as
        self.trained = 0
        self.in_flight = 0
        self.spent_epochs = 0  # training epochs of every trained candidate (the budget's unit)
        self.reserved_epochs = 0  # epochs the running candidates may still spend
        self.budget_stop: str | None = None  # why the budget stopped a generation part-way
        self.best: Individual | None = None
        self.admission = Admission(space, store, self.gate, self.known, self._features)
        self.weights = WeightsKeeper(self.run_dir, store, space.evolution)

    @classmethod
    def start(cls, space: SearchSpace, run_dir: str | Path, executor, data_dir=None, view=None) -> Search:
        """A new search of ``space`` in ``run_dir`` (a new folder; an existing one is refused), ready to
        :meth:`run`; ``executor``, ``data_dir`` and ``view`` as for the class."""
        config = {**space.to_dict(), "command": "evolve", "data_dir": data_dir, "seed_version": seeds.SEED_VERSION}
        store = RunStore.create(run_dir, config, kind="evolve")
        search = cls(space, store, executor, data_dir, view)
        store.set_meta("input_shape", list(search.task.input_shape))  # for the report's input-importance image
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
        search = cls(space, store, executor, data_dir or store.config.get("data_dir"), view)
        restore(search)
        return search

    @property
    def run_dir(self) -> Path:
        return self.store.path.parent

    @property
    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.session_start

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
                spent = self.budget_spent()
                if spent:
                    stopped_by = spent
                    break
                generation = self.generation + 1
                if generation == 0:
                    children = self.draw(evolution.population)
                else:
                    self.refit_gate()
                    children = (self.draw(evolution.n_offspring) if evolution.selection == "random" else
                                make_offspring(self.space, self.select_parents(), self.rng))
                self.run_generation(generation, children, gated=generation > 0)
                pool = self.population + [c for c in children if c.fitness.valid and not c.audit_weight]
                self.population = select_survivors(evolution.selection, pool, evolution, self.random)
                if self.budget_stop:  # stopped part-way: not checkpointed, so --resume finishes it
                    # said again now that the candidates that were running have finished
                    stopped_by = self.budget_spent() or self.budget_stop
                    break
                self.checkpoint(generation)
                self.weights.retain(generation, self.population)
        finally:
            self.view.stop()
        finished = {"stopped_by": stopped_by, "generation": self.generation, "trained": self.trained,
                    **audit_summary(self.history)}
        if self.store.meta("search_finished", {}).get("generation") != self.generation:
            self.store.set_meta("search_finished", {**finished, "elapsed": self.elapsed})
            self.store.log_event("finished", **finished)
        return SearchOutcome(self.run_dir, self.population, self.generation, self.trained, self.store.count(),
                             stopped_by, self.history)

    def draw(self, count: int) -> list[Individual]:
        """``count`` candidates drawn from the priors."""
        return [random_individual(self.space, self.n_inputs, self.task.n_classes, self.rng) for _ in range(count)]

    def select_parents(self) -> list[Individual]:
        evolution = self.space.evolution
        return select_parents(evolution.selection, self.population, evolution.n_offspring, evolution, self.random)

    def budget_spent(self, running: int = 0, reserved: int = 0) -> str | None:
        """Why no further candidate may start (with ``running`` candidates that may still spend
        ``reserved`` epochs), or None."""
        budget = self.space.budget
        if budget.max_candidates and self.trained + running >= budget.max_candidates:
            return f"budget: {self.trained} candidates trained (max {budget.max_candidates})"
        if budget.max_hours and self.elapsed >= budget.max_hours * 3600:
            return f"budget: {self.elapsed / 3600:.2f} h elapsed (max {budget.max_hours} h)"
        if budget.max_epochs and self.spent_epochs + reserved >= budget.max_epochs:
            return f"budget: {self.spent_epochs} training epochs spent (max {budget.max_epochs})"
        return None

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
        self._train(generation, pending, children, stats)
        stats.seconds = time.monotonic() - started
        self.history.append(stats)
        self.store.log_event("generation", **stats.__dict__, best=self.best.id if self.best else None)
        self.view.generation_done(self, stats)
        return stats

    def _features(self, individual: Individual, seed: int | None = None) -> tuple[dict, dict]:
        seed = candidate_seed(self.space.seed, individual.generation, 0) if seed is None else seed
        return candidate_features(self.space, self.task, individual, seed)

    def _job(self, generation: int, child: Individual, index: int, medians) -> worker.Job:
        space = self.space
        model, rewiring, training = training_genes.apply(space.model.model_config(child.cell), space.rewiring,
                                                         space.training, child.genes)
        inherit = self.weights.inherit(child, self.population, self.known)
        if inherit is not None:
            training = replace(training, epochs=space.inherited_epochs)
        keep = ({"optimizer": space.evolution.keep_optimizer, "lamarckian": space.evolution.inheritance == "lamarckian"}
                if space.keeps_weights else None)
        curve_gate = (self.curve_gate.for_candidate(child.features)
                      if self.curve_gate is not None and generation and inherit is None else None)
        return worker.Job(id=child.id, genotype=child.graph, task=space.task, data_dir=self.data_dir, model=model,
                          rewiring=rewiring, training=training, seed=candidate_seed(space.seed, generation, index),
                          medians=medians, curve_gate=curve_gate, median_warmup=space.stopping.warmup_epochs,
                          threads=max(1, available_cores() // max(1, self.executor.workers)), inherit=inherit,
                          keep=keep, family=space.model.kind)

    def _train(self, generation: int, pending: list[Individual], children: list[Individual],
               stats: GenerationStats) -> None:
        """Send the pending children to the executor while the budget allows, and store each result
        the moment it arrives; then copy the results that this generation's repeats reuse."""
        medians = stopping_medians(self.store, self.space.stopping, generation)
        index = {id(child): i for i, child in enumerate(children)}
        by_id = {child.id: child for child in pending}
        trained_now: dict[str, Individual] = {}  # birth key → the child trained for it
        planned: dict[int, int] = {}
        self.budget_stop = None

        def jobs():
            """The pending children's jobs, each sent only while the budget allows it."""
            for child in pending:
                while self.budget_spent(self.in_flight, self.reserved_epochs) is not None:
                    spent = self.budget_spent(self.in_flight)  # even if the running ones stop early
                    if spent is not None:  # (with nothing running, the two are the same)
                        self.budget_stop = spent
                        return
                    yield None  # the running candidates may spend the rest: wait for one to finish
                job = self._job(generation, child, index[id(child)], medians)
                planned[child.id] = job.training.epochs
                self.reserved_epochs += job.training.epochs
                self.in_flight += 1
                yield job.to_json()

        for text in self.executor.run(jobs()):
            result = worker.JobResult.from_json(text)
            child = by_id[result.id]
            cost = int(result.metrics.get("epochs_run", 0) or 0)
            metrics = {**result.metrics, "worker": result.worker, "cost_epochs": cost,
                       "cost_seconds": round(float(result.seconds.get("total", 0.0)), 3),
                       "budget_spent": self.spent_epochs + cost,  # the search's epochs when it finished
                       "search_elapsed": round(self.elapsed, 1)}  # and its seconds: a resume counts them
            birth_key = child.key
            learned, learned_key = self.weights.keep(child, result, metrics, self.population)
            self.store.record_result(child.id, result.status, metrics, result.curves, result.seconds,
                                     child.prediction, result.reason, learned, learned_key)
            child.set_fitness(result.status, metrics)
            if not child.audit_weight:  # an audited child stays out of the search, deduplication included
                self.known.setdefault(child.key, child)
            trained_now[birth_key] = child
            self.trained += 1
            self.in_flight -= 1
            self.spent_epochs += cost
            self.reserved_epochs -= planned.pop(child.id, 0)
            stats.trained += 1
            stats.failed += result.status in ("failed", "diverged")
            self.note_best(child)
            self.view.candidate_done(self, child, result.status)
        for child in children:  # duplicates within this generation: copy the result they repeat
            original = trained_now.get(child.key) or self.known.get(child.key)
            if child.status is None and original is not None:
                result = duplicate_result(original, child)
                self.store.record_result(child.id, result["status"], result["metrics"], reason=result["reason"])
                child.set_fitness(result["status"], result["metrics"])
        score_generation(stats, pending)

    def note_best(self, individual: Individual) -> None:
        if individual.fitness.valid and (self.best is None or (individual.accuracy, -individual.id)
                                         > (self.best.accuracy, -self.best.id)):
            self.best = individual

    def checkpoint(self, generation: int) -> None:
        self.generation = generation
        self.store.set_meta(STATE_KEY, {
            "generation": generation, "population": [ind.id for ind in self.population],
            "python_random": self.random.to_json(), "numpy_random": self.rng.bit_generator.state,
            "elapsed": self.elapsed, "trained": self.trained,
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
            self.gate.refit([self.stored_features(c) for c in rows], [c.accuracy for c in rows])
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
            individual.id = candidate.id
            individual.regraph(candidate.genotype, candidate.hash)
            individual.set_fitness(candidate.status, candidate.metrics)
            by_id[candidate.id] = individual
            if not candidate.metrics.get("duplicate_of"):
                search.trained += 1
                search.spent_epochs += int(candidate.metrics.get("cost_epochs", 0))
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
