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

import math
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from deap import tools

from structsearch import seeds
from structsearch.errors import ConfigError, DataError
from structsearch.limits import available_cores, read_bounded
from structsearch.runs import check_inside
from structsearch.search import genes as training_genes
from structsearch.search import worker
from structsearch.search.gate import PredictorGate, attribute_features
from structsearch.search.genome import Individual, make_offspring, random_individual
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
    population the uninterrupted run reaches.

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
        self.task = worker.cached_task(space.task, data_dir)
        self.n_inputs = space.n_inputs(self.task)
        space.family.check_task(self.task, space)
        self.gate = PredictorGate(space.gate, space.cells, seeds.derive(space.seed, "gate"), space.genes,
                                  space.family)
        self.curve_model: dict | None = None  # the gate's curve stage, once fitted (_fit_curve_model)
        self.rng = seeds.generator(space.seed, "search")
        self.py_state = random.Random(seeds.derive(space.seed, "selection")).getstate()
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
        self.written_weights: set[int] = set()  # candidates whose weights file this run wrote and kept

    # ------------------------------------------------------------------ opening

    @classmethod
    def start(cls, space: SearchSpace, run_dir: str | Path, executor, data_dir=None, view=None) -> Search:
        """A new search of ``space`` in ``run_dir`` (a new folder).

        Parameters
        ----------
        space : SearchSpace
            The validated space.
        run_dir : str or Path
            The run folder to make; an existing one is refused.
        executor : InProcessExecutor, LocalExecutor or DaskExecutor
            Where candidates train.
        data_dir : str, optional
            The datasets folder of file tasks.
        view : object, optional
            A live view.

        Returns
        -------
        Search
            The search, ready to :meth:`run`.
        """
        config = {**space.to_dict(), "command": "evolve", "data_dir": data_dir, "seed_version": seeds.SEED_VERSION}
        store = RunStore.create(run_dir, config, kind="evolve")
        search = cls(space, store, executor, data_dir, view)
        store.set_meta("input_shape", list(search.task.input_shape))  # for the report's input-importance image
        return search

    @classmethod
    def resume(cls, run_dir: str | Path, executor, data_dir=None, view=None,
               extend: dict[str, object] | None = None) -> Search:
        """Continue the search stored in ``run_dir`` (after a crash, ``kill -9`` included).

        Parameters
        ----------
        run_dir : str or Path
            The run folder of an earlier :meth:`start`.
        executor : InProcessExecutor, LocalExecutor or DaskExecutor
            Where candidates train.
        data_dir : str, optional
            The datasets folder of file tasks.
        view : object, optional
            A live view.
        extend : dict, optional
            Changes of where it stops (dotted keys ``evolution.generations``,
            ``budget.max_candidates``, ``budget.max_hours``, ``budget.max_epochs``), never of the
            path it takes.

        Returns
        -------
        Search
            The search, ready to :meth:`run`: finished candidates are reused, not retrained.
        """
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
        search._restore()
        return search

    def _restore(self) -> None:
        pareto = self.space.evolution.selection == "nsga2"
        by_id: dict[int, Individual] = {}
        last_result = 0.0  # the search's seconds when its latest result came in
        for candidate in self.store.candidates():
            last_result = max(last_result, float(candidate.metrics.get("search_elapsed", 0.0)))
            if candidate.metrics.get("weights_file"):
                self.written_weights.add(candidate.id)
            if candidate.status in TRAINED:
                individual = self._individual(candidate, pareto)
                by_id[candidate.id] = individual
                if not candidate.metrics.get("duplicate_of"):
                    self.trained += 1
                    self.spent_epochs += int(candidate.metrics.get("cost_epochs", 0))
                    if not (candidate.feature_meta.get("gate") or {}).get("audit"):
                        self.known.setdefault(individual.key, individual)
                self._note_best(individual)
        state = self.store.meta(STATE_KEY)
        # the time already spent: the latest of the checkpoint, the last finish and the last result, so
        # that a search stopped or killed part-way (even in generation 0) keeps it for max_hours
        self.elapsed_before = max([float((state or {}).get("elapsed", 0.0)),
                                   float(self.store.meta("search_finished", {}).get("elapsed", 0.0)),
                                   last_result])
        if state is None:
            return  # killed during generation 0: it is replayed from the seed
        self.generation = int(state["generation"])
        missing = [i for i in state["population"] if i not in by_id]
        if missing:
            raise DataError(f"{self.store.path}: damaged run store: its checkpoint's population names candidate "
                            f"{missing[0]}, which has no stored result")
        self.population = [by_id[i] for i in state["population"]]
        version, internal, gauss = state["python_random"]
        self.py_state = (version, tuple(internal), gauss)
        self.rng.bit_generator.state = state["numpy_random"]
        if pareto:
            assign_crowding(self.population)

    @staticmethod
    def _individual(candidate, pareto: bool) -> Individual:
        individual = Individual(candidate.genotype, candidate.attributes.get("cell"), origin=candidate.origin,
                                parents=tuple(candidate.parents), pareto=pareto,
                                genes=candidate.attributes.get("genes"))
        individual.id = candidate.id
        individual._key = candidate.hash
        individual.set_fitness(candidate.status, candidate.metrics)
        return individual

    @property
    def run_dir(self) -> Path:
        return self.store.path.parent

    @property
    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.session_start

    # ------------------------------------------------------------------ the loop

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
                elif evolution.selection == "random":
                    self.refit_gate()
                    children = self.draw(evolution.n_offspring)
                else:
                    self.refit_gate()
                    children = make_offspring(self.space, self.select_parents(), self.rng)
                self.run_generation(generation, children, gated=generation > 0)
                self.population = self.survivors(self.population, children)
                if self.budget_stop:  # stopped part-way: not checkpointed, so --resume finishes it
                    # said again now that the candidates that were running have finished
                    stopped_by = self.budget_spent() or self.budget_stop
                    break
                self.checkpoint(generation)
                self.retain_weights(generation)
        finally:
            self.view.stop()
        finished = {"stopped_by": stopped_by, "generation": self.generation, "trained": self.trained,
                    **self.audit_summary()}
        if self.store.meta("search_finished", {}).get("generation") != self.generation:
            self.store.set_meta("search_finished", {**finished, "elapsed": self.elapsed})
            self.store.log_event("finished", **finished)
        return SearchOutcome(self.run_dir, self.population, self.generation, self.trained, self.store.count(),
                             stopped_by, self.history)

    def audit_summary(self) -> dict:
        """The gate audit over the run: children audited, the mean of the generations' weighted τ
        and the summed regret (empty without an audit)."""
        audited = [stats for stats in self.history if stats.audited]
        if not audited:
            return {}
        taus = [stats.gate_tau_weighted for stats in audited if stats.gate_tau_weighted is not None]
        return {"audited": sum(stats.audited for stats in audited),
                "gate_tau_weighted": float(np.mean(taus)) if taus else None,
                "gate_regret": float(sum(stats.gate_regret or 0.0 for stats in audited))}

    def draw(self, count: int) -> list[Individual]:
        """``count`` candidates drawn from the priors."""
        return [random_individual(self.space, self.n_inputs, self.task.n_classes, self.rng) for _ in range(count)]

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

    # ------------------------------------------------------------------ one generation

    def run_generation(self, generation: int, children: list[Individual], gated: bool) -> GenerationStats:
        started = time.monotonic()
        stats = GenerationStats(generation, children=len(children))
        stored = self.store.candidates(generation=generation)
        if stored:
            pending = self._replay(generation, children, stored, stats)
        else:
            pending = self._admit(generation, children, gated, stats)
        self.view.generation_started(self, stats, len(pending))
        self._train(generation, pending, children, stats)
        stats.seconds = time.monotonic() - started
        self.history.append(stats)
        self.store.log_event("generation", **stats.__dict__, best=self.best.id if self.best else None)
        self.view.generation_done(self, stats)
        return stats

    def _features(self, individual: Individual, seed: int | None = None) -> tuple[dict, dict]:
        """The gate's features of a candidate: its graph's, its cell and genes, and, with
        ``[gate] proxies``, its zero-cost proxies at initialisation (the model it will train,
        built from its training ``seed``)."""
        features, meta = self.space.family.features(individual.graph)
        features = {**features, **attribute_features(individual, self.space)}
        if self.space.gate.proxies:
            features.update(self._proxy_features(individual, seed))
        return features, meta

    def _proxy_features(self, individual: Individual, seed: int | None) -> dict:
        from structsearch.pipeline import ModelSpec, build_candidate

        space = self.space
        model, rewiring, training = training_genes.apply(space.model.model_config(individual.cell), space.rewiring,
                                                         space.training, individual.genes)
        seed = candidate_seed(space.seed, individual.generation, 0) if seed is None else seed
        network, _ = build_candidate(individual.graph, ModelSpec(model, rewiring), self.task, seed, space.model.kind)
        values, _ = worker.candidate_proxies(network, self.task, training.batch_size, space.gate.proxies)
        return {f"proxy_{name}": math.nan if value is None else value for name, value in values.items()}

    def _admit(
        self, generation: int, children: list[Individual], gated: bool, stats: GenerationStats
    ) -> list[Individual]:
        """Deduplicate, gate and store the children; returns those to train."""
        first_seen: dict[str, Individual] = {}
        novel, rows = [], []
        for child in children:
            earlier = self.known.get(child.key)
            if earlier is None and child.key not in first_seen:
                first_seen[child.key] = child
                novel.append(child)
        features = {id(child): self._features(child, candidate_seed(self.space.seed, generation, index))
                    for index, child in enumerate(children)}
        gated = gated and self.space.gate.stage != "curve"  # the curve stage acts during training
        predictions, keep = self.gate.decide([features[id(c)][0] for c in novel]) if gated \
            else ([None] * len(novel), [True] * len(novel))
        decision = {id(c): (p, k) for c, p, k in zip(novel, predictions, keep, strict=True)}
        stats.scored = len(novel) if gated and self.gate.active else 0
        audit = self._audit_draw(generation, [c for c, k in zip(novel, keep, strict=True) if not k])
        pending = []
        for child in children:
            values, meta = features[id(child)]
            child.features = values
            row = {"genotype": child.graph, "parents": child.parents, "generation": generation,
                   "origin": child.origin, "features": values, "feature_meta": meta,
                   "attributes": child.attributes, "content_hash": child.key}
            earlier = self.known.get(child.key)
            if earlier is not None:  # trained in an earlier generation: reuse its result now
                stats.duplicates += 1
                row["result"] = self._duplicate_result(earlier, child)
                child.set_fitness(row["result"]["status"], row["result"]["metrics"])
                rows.append(row)
                continue
            # a new genotype, or a repeat of a sibling: the decision made for its first occurrence
            first = first_seen[child.key]
            prediction, kept = decision[id(first)]
            child.prediction = prediction
            meta["gate"] = {"prediction": prediction, "kept": kept, "active": prediction is not None}
            if first is not child:
                meta["gate"]["sibling"] = True  # its result is copied after training
            if not kept and id(first) in audit:  # dropped, but trained to measure the gate
                meta["gate"]["audit"] = audit[id(first)]
                child.audit_weight = audit[id(first)]
                kept = True
                stats.audited += first is child
                stats.dropped += first is child
            if not kept:
                stats.dropped += 1
                child.status = "dropped-by-predictor"
                reason = (
                    (f"predicted {prediction:.4f}; only the top {self.gate.n_keep(len(novel))} of {len(novel)} train")
                    if first is child
                    else "the same genotype as a sibling the gate dropped"
                )
                row["result"] = {"status": "dropped-by-predictor", "prediction": prediction, "reason": reason}
            elif first is child:
                pending.append(child)
                stats.kept += not child.audit_weight
            else:
                stats.duplicates += 1
            rows.append(row)
        for child, candidate_id in zip(children, self.store.add_candidates(rows), strict=True):
            child.id = candidate_id
        return pending

    def _audit_draw(self, generation: int, dropped: list[Individual]) -> dict[int, float]:
        """``[gate] audit`` of the children the gate dropped, drawn at random (a stream of their own,
        so the search draws the same children with or without an audit): id → sampling weight
        (dropped ÷ audited, the number of dropped children each audited one stands for)."""
        n = min(self.space.gate.audit, len(dropped))
        if n == 0:
            return {}
        rng = seeds.generator(self.space.seed, "audit", generation)
        chosen = rng.choice(len(dropped), n, replace=False)
        return {id(dropped[i]): len(dropped) / n for i in sorted(chosen)}

    def _replay(self, generation: int, children: list[Individual], stored, stats: GenerationStats) -> list[Individual]:
        """After a crash: the replayed children must be the stored ones; train what has no result."""
        if [c.metrics.get("birth_hash", c.hash) for c in stored] != [child.key for child in children]:
            raise DataError(f"{self.run_dir}: generation {generation} in the store differs from its replay "
                            "from the saved random state; the store was changed or written by another version")
        pending = []
        for child, candidate in zip(children, stored, strict=True):
            child.id = candidate.id
            child.features = candidate.features
            gate = candidate.feature_meta.get("gate")
            child.prediction = gate["prediction"] if gate else None
            if gate and gate.get("audit"):
                child.audit_weight = gate["audit"]
                stats.audited += not gate.get("sibling")
            if candidate.status == "dropped-by-predictor":
                child.status = candidate.status
                stats.dropped += 1
            elif candidate.status is not None:
                # the stored genotype: the learned one (Lamarckian), or a duplicate's original's
                child.graph, child._key = candidate.genotype, candidate.hash
                child.set_fitness(candidate.status, candidate.metrics)
                if candidate.metrics.get("duplicate_of"):
                    stats.duplicates += 1
                else:
                    stats.kept += 1
                    if not child.audit_weight:
                        self.known.setdefault(child.key, child)
            elif gate is None or gate.get("sibling"):
                stats.duplicates += 1  # a repeat of a sibling; its result is copied after training
            else:
                stats.kept += 1
                pending.append(child)
        stats.scored = sum(1 for c in stored if (c.feature_meta.get("gate") or {}).get("active")
                           and not c.feature_meta["gate"].get("sibling"))
        return pending

    @staticmethod
    def _duplicate_result(original: Individual, candidate: Individual) -> dict:
        # what its training learned stays the original's: a duplicate's genotype is its own
        metrics = {k: v for k, v in original.metrics.items() if k not in ("birth_hash", "lamarckian")}
        return {"status": original.status, "metrics": {**metrics, "duplicate_of": original.id},
                "reason": f"duplicate of candidate {original.id}; its result is reused"}

    def _job(self, generation: int, child: Individual, index: int, medians) -> worker.Job:
        space = self.space
        model, rewiring, training = training_genes.apply(space.model.model_config(child.cell), space.rewiring,
                                                         space.training, child.genes)
        inherit = self._inheritance(child)
        if inherit is not None:
            training = replace(training, epochs=space.inherited_epochs)
        keep = ({"optimizer": space.evolution.keep_optimizer, "lamarckian": space.evolution.inheritance == "lamarckian"}
                if space.keeps_weights else None)
        return worker.Job(
            id=child.id, genotype=child.graph, task=space.task, data_dir=self.data_dir,
            model=model, rewiring=rewiring, training=training,
            seed=candidate_seed(space.seed, generation, index), medians=medians,
            curve_gate=({**self.curve_model, "features": child.features}
                        if self.curve_model and generation and inherit is None else None),
            median_warmup=space.stopping.warmup_epochs,
            threads=max(1, available_cores() // max(1, self.executor.workers)),
            inherit=inherit, keep=keep, family=space.model.kind,
        )

    # ------------------------------------------------------------------ weights and inheritance

    @property
    def weights_dir(self) -> Path:
        return self.run_dir / "weights"

    def weights_path(self, candidate_id: int) -> Path:
        return self.weights_dir / f"{candidate_id}.safetensors"

    @staticmethod
    def weights_owner(individual: Individual) -> int:
        """The candidate whose weights file holds ``individual``'s weights (a duplicate's original)."""
        return int(individual.metrics.get("duplicate_of") or individual.id)

    def _inheritance(self, child: Individual) -> dict | None:
        """The job's ``inherit`` for a child that inherits, else None — with the reason on the child
        (``child.inheritance``) when a child that could inherit trains from scratch."""
        child.inheritance = None
        if self.space.evolution.inheritance == "none" or not child.parents or child.graph.tags is None:
            return None
        by_id = {individual.id: individual for individual in self.population}
        parents = []
        for parent_id in child.parents:
            parent = by_id.get(parent_id)
            if parent is None:
                child.inheritance = {"from_scratch": f"parent {parent_id} is not in the population"}
                return None
            owner = self.weights_owner(parent)
            if owner != parent.id:  # a duplicate: its original's weights, if their node ids agree
                original = self.known.get(parent.key)
                if original is None or original.graph != parent.graph:
                    child.inheritance = {"from_scratch": f"parent {parent_id} repeats candidate {owner} with its "
                                                         "neurons numbered otherwise"}
                    return None
            path = self.weights_path(owner)
            if not path.exists():
                child.inheritance = {"from_scratch": f"the weights of parent {parent_id} ({path.name}) are missing"}
                return None
            from structsearch.nn.weights import NodeWeights

            check_inside(self.run_dir, path)
            blob = read_bounded(path, "weights")
            try:
                weights = NodeWeights.from_bytes(blob, str(path))
            except DataError as error:  # damaged (its checksum, or unreadable): never used, and said why
                child.inheritance = {"from_scratch": str(error)}
                return None
            weights.check(parent.graph, f"candidate {parent_id} ({path})")  # another genotype's: the run is confused
            parents.append(worker._b64(blob))
        return {"parents": parents, "tags": child.graph.tags.tolist()}

    def _keep_weights(self, child: Individual, result: worker.JobResult, metrics: dict) -> tuple:
        """Write a result's weights file (atomically) and account for its inheritance; (learned genotype,
        its key) for a Lamarckian result, else (None, None)."""
        if child.inheritance is not None:
            metrics["inheritance"] = child.inheritance
        parent_epochs = 0
        if "inheritance" in metrics and "from_scratch" not in metrics["inheritance"]:
            metrics["inheritance"]["from"] = list(child.parents)
            by_id = {individual.id: individual for individual in self.population}
            parent_epochs = max((int(by_id[p].metrics.get("lineage_epochs", 0)) for p in child.parents
                                 if p in by_id), default=0)
            metrics["inheritance"]["parent_epochs"] = parent_epochs
        metrics["lineage_epochs"] = parent_epochs + metrics["cost_epochs"]  # training its weights embody
        if result.weights is None:
            return None, None
        import base64

        blob = base64.b64decode(result.weights)
        self.weights_dir.mkdir(exist_ok=True)
        path = self.weights_path(child.id)
        check_inside(self.run_dir, path)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)  # a link left there is removed, never written through
        partial.write_bytes(blob)
        partial.replace(path)
        self.written_weights.add(child.id)
        metrics["weights_file"] = str(path.relative_to(self.run_dir))
        metrics["weights_bytes"] = len(blob)
        if result.genotype is None:
            return None, None
        from structsearch.graphs import LayeredGraph

        learned = LayeredGraph.from_bytes(base64.b64decode(result.genotype), f"candidate {child.id}'s learned genotype")
        metrics["birth_hash"] = child.key
        child.graph, child._key = learned, None
        return learned, child.key

    def retain_weights(self, generation: int) -> list[Path]:
        """Delete the weights files of every candidate outside the population and the last
        ``weights_generations`` generations; returns the files deleted."""
        if not self.weights_dir.exists():
            return []
        check_inside(self.run_dir, self.weights_dir)
        keep = {self.weights_owner(individual) for individual in self.population}
        window = self.space.evolution.weights_generations
        if window:
            keep.update(self.store.ids_from_generation(generation - window + 1))
        deleted = []
        for candidate_id in sorted(self.written_weights - keep):  # only files the store recorded writing
            path = self.weights_path(candidate_id)
            if path.is_file() and not path.is_symlink():
                path.unlink()
                deleted.append(path)
            self.written_weights.discard(candidate_id)
        for path in self.weights_dir.glob("*.partial"):  # a write a kill interrupted
            if path.stem.isdigit() and not path.is_symlink():
                path.unlink()
        if deleted:
            self.store.log_event("weights_deleted", generation=generation, files=len(deleted))
        return deleted

    def _medians(self, generation: int) -> list[float] | None:
        stopping = self.space.stopping
        if not stopping.median:
            return None
        curves = [c.curves.get("val_accuracy", []) for c in self.store.candidates()
                  if c.generation < generation and c.status in ("ok", "stopped-early")
                  and not c.metrics.get("duplicate_of")]
        return worker.median_curve(curves) if len(curves) >= stopping.startup else None

    def _train(self, generation: int, pending: list[Individual], children: list[Individual],
               stats: GenerationStats) -> None:
        medians = self._medians(generation)
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
            status = result.status
            cost = int(result.metrics.get("epochs_run", 0) or 0)
            metrics = {**result.metrics, "worker": result.worker, "cost_epochs": cost,
                       "cost_seconds": round(float(result.seconds.get("total", 0.0)), 3),
                       "budget_spent": self.spent_epochs + cost,  # the search's epochs when it finished
                       "search_elapsed": round(self.elapsed, 1)}  # and its seconds: a resume counts them
            birth_key = child.key
            learned, learned_key = self._keep_weights(child, result, metrics)
            self.store.record_result(child.id, status, metrics, result.curves, result.seconds,
                                     child.prediction, result.reason, learned, learned_key)
            child.set_fitness(status, metrics)
            if not child.audit_weight:  # an audited child stays out of the search, deduplication included
                self.known.setdefault(child.key, child)
            trained_now[birth_key] = child
            self.trained += 1
            self.in_flight -= 1
            self.spent_epochs += cost
            self.reserved_epochs -= planned.pop(child.id, 0)
            stats.trained += 1
            stats.failed += status in ("failed", "diverged")
            self._note_best(child)
            self.view.candidate_done(self, child, status)
        for child in children:  # duplicates within this generation: copy the result they repeat
            original = trained_now.get(child.key) or self.known.get(child.key)
            if child.status is None and original is not None:
                result = self._duplicate_result(original, child)
                self.store.record_result(child.id, result["status"], result["metrics"], reason=result["reason"])
                child.set_fitness(result["status"], result["metrics"])
        pairs = [(c.prediction, c.accuracy) for c in pending if c.prediction is not None and not c.audit_weight]
        if len(pairs) >= 3:
            from scipy.stats import kendalltau

            tau = kendalltau(*zip(*pairs, strict=True)).statistic
            stats.gate_kendall_tau = None if np.isnan(tau) else float(tau)
        if stats.audited:
            scored = [(c.prediction, c.accuracy, c.audit_weight or 1.0, bool(c.audit_weight)) for c in pending
                      if c.prediction is not None and c.fitness.valid]
            stats.gate_tau_weighted = weighted_kendall_tau([row[:3] for row in scored])
            stats.gate_regret = audit_regret(scored)

    def _note_best(self, individual: Individual) -> None:
        if individual.fitness.valid and (self.best is None or (individual.accuracy, -individual.id)
                                         > (self.best.accuracy, -self.best.id)):
            self.best = individual

    # ------------------------------------------------------------------ selection

    @contextmanager
    def deap_random(self):
        """DEAP draws from the module-level ``random``; give it this search's own state."""
        saved = random.getstate()
        random.setstate(self.py_state)
        try:
            yield
        finally:
            self.py_state = random.getstate()
            random.setstate(saved)

    def select_parents(self) -> list[Individual]:
        evolution = self.space.evolution
        with self.deap_random():
            if evolution.selection == "nsga2":
                return [dominance_tournament(*random.sample(self.population, 2)) if len(self.population) > 1
                        else self.population[0] for _ in range(evolution.n_offspring)]
            return tools.selTournament(self.population, evolution.n_offspring,
                                       tournsize=min(evolution.tournament_size, len(self.population)))

    def survivors(self, population: list[Individual], children: list[Individual]) -> list[Individual]:
        evolution = self.space.evolution
        size = evolution.population
        # audited children were trained only to measure the gate: the search goes on as if dropped
        pool = population + [child for child in children if child.fitness.valid and not child.audit_weight]
        if len(pool) <= size and evolution.selection != "nsga2":
            return pool
        if evolution.selection == "random":  # nothing is bred from it: keep the best, to report
            return sorted(set(pool), key=lambda ind: (-ind.accuracy, ind.id))[:size]
        with self.deap_random():
            if evolution.selection == "aging":
                return sorted(set(pool), key=lambda ind: ind.id)[-size:]
            if evolution.selection == "nsga2":
                chosen = tools.selNSGA2(pool, min(size, len(pool)))
                assign_crowding(chosen)
                return chosen
            elites = tools.selBest(pool, evolution.elitism)
            return elites + tools.selTournament(pool, size - len(elites),
                                                tournsize=min(evolution.tournament_size, len(pool)))

    def checkpoint(self, generation: int) -> None:
        self.generation = generation
        version, internal, gauss = self.py_state
        self.store.set_meta(STATE_KEY, {
            "generation": generation, "population": [ind.id for ind in self.population],
            "python_random": [version, list(internal), gauss], "numpy_random": self.rng.bit_generator.state,
            "elapsed": self.elapsed, "trained": self.trained,
        })

    def refit_gate(self) -> None:
        """Refit an online gate on every trained result so far, once there are ``warmup`` of them."""
        if not (self.gate.config.enabled and self.gate.online):
            return
        # in id order: results arrive in whatever order the workers finish, the fit must not depend on it
        rows = sorted((c for c in self.known.values() if c.status == "ok"), key=lambda c: c.id)
        if len(rows) + self.gate.pretrain_rows >= self.gate.config.warmup and self.gate.config.stage != "curve":
            features = [self._stored_features(c) for c in rows]
            self.gate.refit(features, [c.accuracy for c in rows])
        if self.gate.config.stage != "structure":
            self.curve_model = self._fit_curve_model(rows)

    def _fit_curve_model(self, rows: list[Individual]) -> dict | None:
        """The curve stage's linear model (imputed, scaled Bayesian ridge) from every trained row's
        features and first ``curve_epochs`` validation accuracies to its final validation accuracy,
        as plain JSON for the workers, with the threshold below which a child stops: the
        ``estimation_fraction`` quantile of the current population's accuracies (a child predicted
        below it is unlikely to be selected).  None before ``warmup`` rows."""
        epochs = self.gate.config.curve_epochs
        stored = {c.id: c for c in self.store.candidates()}
        usable = [c for c in rows if len(stored[c.id].curves.get("val_accuracy", [])) >= epochs]
        survivors = [ind.accuracy for ind in self.population if ind.fitness.valid]
        if len(usable) < self.gate.config.warmup or not survivors:
            return None
        names = self.gate.names + [f"curve_{i + 1}" for i in range(epochs)]
        x = np.array([[self._stored_features(c).get(name, np.nan) for name in self.gate.names]
                      + stored[c.id].curves["val_accuracy"][:epochs] for c in usable], dtype=float)
        y = np.array([c.accuracy for c in usable], dtype=float)
        from sklearn.linear_model import BayesianRidge
        from sklearn.preprocessing import StandardScaler

        with np.errstate(all="ignore"):  # a column with no value at all has no median: 0
            medians = np.nan_to_num(np.nanmedian(np.where(np.isfinite(x), x, np.nan), axis=0))
        x = np.where(np.isfinite(x), x, medians)
        scale = StandardScaler().fit(x)
        model = BayesianRidge().fit(scale.transform(x), y)
        return {"names": names, "medians": medians.tolist(), "means": scale.mean_.tolist(),
                "scales": scale.scale_.tolist(), "coef": model.coef_.tolist(),
                "intercept": float(model.intercept_), "epochs": epochs,
                "threshold": float(np.quantile(survivors, self.gate.config.estimation_fraction))}

    def _stored_features(self, individual: Individual) -> dict:
        cached = individual.features
        if cached is None:
            candidate = self.store.candidate(individual.id)
            cached = candidate.features or self._features(individual)[0]
            individual.features = cached
        return cached


def weighted_kendall_tau(rows: list[tuple[float, float, float]]) -> float | None:
    """Kendall's τ between prediction and outcome over (prediction, outcome, weight) rows, each pair
    weighted by the product of its rows' sampling weights: an estimate of the τ over every child the
    gate scored, from the kept ones (weight 1) and a random sample of the dropped ones (weight
    dropped ÷ sampled).  None with fewer than 3 rows or no pair that differs in both."""
    if len(rows) < 3:
        return None
    p, a, w = (np.asarray(column, dtype=float) for column in zip(*rows, strict=True))
    concordance = np.sign(p[:, None] - p[None, :]) * np.sign(a[:, None] - a[None, :])
    weights = np.triu(w[:, None] * w[None, :], 1)
    total = weights[concordance != 0].sum()
    return float((weights * concordance).sum() / total) if total > 0 else None


def audit_regret(rows: list[tuple[float, float, float, bool]]) -> float:
    """How many dropped children would have entered the top quarter of the generation by outcome,
    from (prediction, outcome, weight, audited) rows: the audited ones there, each counted by its
    weight.  The top quarter is taken over every scored child, weighted as in
    :func:`weighted_kendall_tau`."""
    if not rows:
        return 0.0
    outcomes = np.asarray([row[1] for row in rows], dtype=float)
    weights = np.asarray([row[2] for row in rows], dtype=float)
    order = np.argsort(-outcomes, kind="stable")
    above = np.cumsum(weights[order]) - weights[order]  # weight of the children ranked above each
    in_top = np.zeros(len(rows), dtype=bool)
    in_top[order] = above < 0.25 * weights.sum()
    return float(sum(row[2] for row, top in zip(rows, in_top, strict=True) if top and row[3]))


def assign_crowding(population: list[Individual]) -> None:
    """NSGA-II crowding distances of ``population`` computed on its own fronts."""
    for front in tools.sortNondominated(population, len(population)):
        tools.emo.assignCrowdingDist(front)


def dominance_tournament(a: Individual, b: Individual) -> Individual:
    """NSGA-II's binary tournament: the dominating one, else the less crowded, else either."""
    if a.fitness.dominates(b.fitness):
        return a
    if b.fitness.dominates(a.fitness):
        return b
    if a.fitness.crowding_dist != b.fitness.crowding_dist:
        return a if a.fitness.crowding_dist > b.fitness.crowding_dist else b
    return a if random.random() <= 0.5 else b
