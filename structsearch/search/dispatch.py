"""Training one generation's admitted children under the budget: the part of the search between the
gate and selection.

A child becomes a :class:`~structsearch.search.worker.Job` (its genes applied, the weights it inherits,
the curve stage's threshold) and goes to the executor only while the :class:`Ledger` allows it; each
result is stored the moment it arrives, and the repeats within the generation copy the result of the
child they repeat. The :class:`Ledger` is the search's account against ``[budget]``: candidates
trained, epochs spent, epochs the running candidates may still spend, and why it stopped a generation
part-way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from structsearch import seeds
from structsearch.compute import format_macs
from structsearch.limits import threads_per_worker
from structsearch.search import genes as training_genes
from structsearch.search import worker
from structsearch.search.admission import duplicate_result
from structsearch.search.gate.audit import score_generation
from structsearch.search.genome import Individual
from structsearch.search.shared import planned_macs, stopping_medians
from structsearch.search.space import BudgetConfig


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
    reseeded: int = 0  # new initialisations of the best structures ([evolution] reseeds)
    gate_tau_weighted: float | None = None  # over every scored child, audited ones weighted up
    gate_regret: float | None = None  # estimated dropped children that would have made the top quarter
    size_kendall_tau: float | None = None  # τ of the connections alone, on the same kept children
    size_tau_weighted: float | None = None  # and over every scored child, as gate_tau_weighted
    gate_model: str | None = None  # the model that ranked the pool (the configured one, or "size")
    spent_macs: int = 0  # the search's training compute when the generation ended
    unique: int | None = None  # the population after selection: distinct structures,
    spread: float | None = None  # its feature spread and its mean pairwise distance
    distance: float | None = None  # (structsearch.diversity.population_spread)
    seconds: float = 0.0


def candidate_seed(seed: int, generation: int, index: int) -> int:
    return seeds.derive(seed, "candidate", generation, index)


@dataclass
class Ledger:
    """What a search has spent against its ``budget``; ``clock`` gives the search's elapsed seconds
    (a resumed search's included). A reused duplicate costs nothing. A running candidate reserves the
    epochs and the compute (MACs) of its full training, so that no candidate starts that could take
    the search past ``max_epochs`` or ``max_macs``: a search ends within one candidate's cost of its
    budget, whatever the number of workers."""

    budget: BudgetConfig
    clock: Callable[[], float]
    trained: int = 0
    spent_epochs: int = 0  # training epochs of every trained candidate
    spent_macs: int = 0  # training compute of every trained candidate (cost_macs)
    stop: str | None = None  # why the budget stopped a generation part-way
    # running candidate id → (epochs, MACs) it may spend
    running: dict[int, tuple[int, int]] = field(default_factory=dict)

    @property
    def in_flight(self) -> int:
        return len(self.running)

    @property
    def reserved_epochs(self) -> int:
        """Epochs the running candidates may still spend."""
        return sum(epochs for epochs, _ in self.running.values())

    @property
    def reserved_macs(self) -> int:
        """Compute the running candidates may still spend."""
        return sum(macs for _, macs in self.running.values())

    def exhausted(self, running: int = 0, reserved: int = 0, reserved_macs: int = 0) -> str | None:
        """Why no further candidate may start (with ``running`` candidates that may still spend
        ``reserved`` epochs and ``reserved_macs``), or None."""
        budget, elapsed = self.budget, self.clock()
        if budget.max_candidates and self.trained + running >= budget.max_candidates:
            return f"budget: {self.trained} candidates trained (max {budget.max_candidates})"
        if budget.max_hours and elapsed >= budget.max_hours * 3600:
            return f"budget: {elapsed / 3600:.2f} h elapsed (max {budget.max_hours} h)"
        if budget.max_epochs and self.spent_epochs + reserved >= budget.max_epochs:
            return f"budget: {self.spent_epochs} training epochs spent (max {budget.max_epochs})"
        if budget.max_macs and self.spent_macs + reserved_macs >= budget.max_macs:
            return (f"budget: {format_macs(self.spent_macs)} of training compute spent "
                    f"(max {format_macs(budget.max_macs)})")
        return None

    def admitted(self, pending: list[Individual], job: Callable[[Individual], worker.Job]):
        """The pending children's jobs as JSON, each yielded only while the budget allows it; a
        ``None`` asks the executor to wait for a running candidate to finish first. Sets :attr:`stop`
        when the budget runs out before every child was sent. A child is admitted while the budget
        left exceeds what the running candidates may spend: the one sent last may take the search past
        its budget by at most its own cost."""
        self.stop = None
        for child in pending:
            while self.exhausted(self.in_flight, self.reserved_epochs, self.reserved_macs) is not None:
                spent = self.exhausted(self.in_flight)  # even if the running ones stop early
                if spent is not None:  # (with nothing running, the two are the same)
                    self.stop = spent
                    return
                yield None  # the running candidates may spend the rest: wait for one to finish
            made = job(child)
            self.running[child.id] = (made.training.epochs, made.planned_macs)
            yield made.to_json()

    def finished(self, child: Individual, cost: int, macs: int = 0) -> None:
        self.trained += 1
        self.spent_epochs += cost
        self.spent_macs += macs
        self.running.pop(child.id, None)


def child_training(space, child: Individual):
    """(model, rewiring, training) of ``child``: the space's, with the child's cell and genes."""
    return training_genes.apply(space.model.model_config(child.cell), space.rewiring, space.training, child.genes)


def child_planned_macs(space, task, child: Individual) -> int:
    """The MACs of training ``child`` for all its epochs (without inherited weights): what the
    ``ei-per-macs`` acquisition divides by."""
    return planned_macs(child.graph, *child_training(space, child), task, space.model.kind)


def make_job(search, generation: int, child: Individual, index: int, medians) -> worker.Job:
    """The job that trains ``child``: the space's model, rewiring and training with the child's genes,
    its inherited weights, the curve stage's threshold and its share of the cores."""
    space = search.space
    model, rewiring, training = child_training(space, child)
    inherit = search.weights.inherit(child, search.population, search.known)
    if inherit is not None:
        training = replace(training, epochs=space.inherited_epochs)
    keep = ({"optimizer": space.evolution.keep_optimizer, "lamarckian": space.evolution.inheritance == "lamarckian"}
            if space.keeps_weights else None)
    curve_gate = (search.curve_gate.for_candidate(child.features)
                  if search.curve_gate is not None and generation and inherit is None else None)
    return worker.Job(id=child.id, genotype=child.graph, task=space.task, data_dir=search.data_dir, model=model,
                      rewiring=rewiring, training=training, seed=candidate_seed(space.seed, generation, index),
                      medians=medians, curve_gate=curve_gate, median_warmup=space.stopping.warmup_epochs,
                      threads=threads_per_worker(search.executor.workers), inherit=inherit,
                      keep=keep, family=space.model.kind,
                      planned_macs=planned_macs(child.graph, model, rewiring, training, search.task,
                                                space.model.kind))


def train_generation(search, generation: int, pending: list[Individual], children: list[Individual],
                     stats: GenerationStats) -> None:
    """Send ``search``'s pending children to its executor while the budget allows, and store each
    result the moment it arrives; then copy the results that this generation's repeats reuse."""
    ledger = search.ledger
    medians = stopping_medians(search.store, search.space.stopping, generation)
    index = {id(child): i for i, child in enumerate(children)}
    by_id = {child.id: child for child in pending}
    trained_now: dict[str, Individual] = {}  # birth key → the child trained for it
    jobs = ledger.admitted(pending, lambda child: make_job(search, generation, child, index[id(child)], medians))
    for text in search.executor.run(jobs):
        result = worker.JobResult.from_json(text)
        child = by_id[result.id]
        cost = int(result.metrics.get("epochs_run", 0) or 0)
        macs = int(result.metrics.get("cost_macs", 0) or 0)
        metrics = {**result.metrics, "worker": result.worker, "cost_epochs": cost, "cost_macs": macs,
                   "cost_seconds": round(float(result.seconds.get("total", 0.0)), 3),
                   "budget_spent": ledger.spent_epochs + cost,  # the search's epochs when it finished
                   "macs_spent": ledger.spent_macs + macs,  # and its compute
                   "search_elapsed": round(search.elapsed, 1)}  # and its seconds: a resume counts them
        birth_key = child.key
        learned, learned_key = search.weights.keep(child, result, metrics, search.population)
        search.store.record_result(child.id, result.status, metrics, result.curves, result.seconds,
                                   child.prediction, result.reason, learned, learned_key)
        child.set_fitness(result.status, metrics)
        if not child.audit_weight:  # an audited child stays out of the search, deduplication included
            search.known.setdefault(child.key, child)
        trained_now[birth_key] = child
        ledger.finished(child, cost, macs)
        stats.trained += 1
        stats.failed += result.status in ("failed", "diverged")
        search.note_best(child)
        search.view.candidate_done(search, child, result.status)
    for child in children:  # duplicates within this generation: copy the result they repeat
        original = trained_now.get(child.key) or search.known.get(child.key)
        if child.status is None and original is not None:
            result = duplicate_result(original, child)
            search.store.record_result(child.id, result["status"], result["metrics"], reason=result["reason"])
            child.set_fitness(result["status"], result["metrics"])
    stats.spent_macs = ledger.spent_macs
    score_generation(stats, pending, lambda c: search.space.family.size(c.graph)[0])


__all__ = ["GenerationStats", "Ledger", "candidate_seed", "make_job", "train_generation"]
