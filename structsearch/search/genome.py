"""Individuals of the genetic search: a layered-graph genotype, its cell (for recurrent spaces) and
a DEAP fitness; how they are drawn from the priors and varied by the graph operators.

DEAP's ``creator`` makes classes global to the ``deap.creator`` module; here the two fitness
types are ordinary classes of this module, so several searches can live in one process.
"""

from __future__ import annotations

import json

import numpy as np
from deap import base

from structsearch.graphs import Genotype
from structsearch.graphs.operators import set_input_density
from structsearch.search import genes as training_genes
from structsearch.search.space import SearchSpace


class AccuracyFitness(base.Fitness):
    """Single objective: validation accuracy, maximised."""

    weights = (1.0,)


class ParetoFitness(base.Fitness):
    """NSGA-II: validation accuracy maximised, connection count minimised."""

    weights = (1.0, -1.0)


class Individual:
    """A genotype with its cell and training genes, its store id once stored, and its fitness
    once evaluated."""

    def __init__(self, graph: Genotype, cell: str | None = None, *, origin: str = "prior",
                 parents: tuple[int, ...] = (), pareto: bool = False, genes: dict | None = None):
        self.graph = graph
        self.cell = cell
        self.genes = dict(genes or {})
        self.origin = origin
        self.parents = tuple(parents)
        self.id: int | None = None
        self.generation: int | None = None  # the generation it was made in, once stored
        self.status: str | None = None  # the stored result's status, once there is one
        self.prediction: float | None = None  # the gate's prediction, when it scored this one
        self.audit_weight: float | None = None  # dropped by the gate but trained for its audit: its weight
        self.reseed_of: int | None = None  # a new initialisation of this candidate's structure ([evolution] reseeds)
        self.features: dict | None = None
        self.metrics: dict = {}
        self.inheritance: dict | None = None  # why it trains from scratch, when it could have inherited
        self.fitness = ParetoFitness() if pareto else AccuracyFitness()
        self._key: str | None = None

    @property
    def key(self) -> str:
        """The deduplication key: the graph's content hash, plus the cell and the genes when there are."""
        if self._key is None:
            key = self.graph.content_hash()
            key = f"{key}:{self.cell}" if self.cell else key
            self._key = f"{key}:{json.dumps(self.genes, sort_keys=True)}" if self.genes else key
        return self._key

    def regraph(self, graph: Genotype, key: str | None = None) -> None:
        """Give the individual another genotype (a Lamarckian child's learned one, a duplicate's
        stored one) and, when known, its stored key (None: computed from the new graph)."""
        self.graph, self._key = graph, key

    @property
    def attributes(self) -> dict:
        return {**({"cell": self.cell} if self.cell else {}), **({"genes": self.genes} if self.genes else {}),
                **({"reseed_of": self.reseed_of} if self.reseed_of is not None else {})}

    def set_fitness(self, status: str, metrics: dict) -> None:
        self.status = status
        self.metrics = dict(metrics)
        accuracy = metrics.get("val_accuracy")
        accuracy = float(accuracy) if status in ("ok", "stopped-early") and accuracy is not None else 0.0
        if len(self.fitness.weights) == 2:
            self.fitness.values = (accuracy, float(metrics.get("connections", self.graph.connections)))
        else:
            self.fitness.values = (accuracy,)

    @property
    def accuracy(self) -> float:
        return self.fitness.values[0] if self.fitness.valid else float("nan")

    def __repr__(self) -> str:
        cell = f", {self.cell}" if self.cell else ""
        return f"Individual(#{self.id}, {self.graph!r}{cell}, fitness={self.fitness.values})"


def sample_genotype(space: SearchSpace, prior_name: str, n_inputs: int, n_outputs: int,
                    rng: np.random.Generator) -> Genotype:
    """One genotype from ``prior_name`` of the space's family, each parameter drawn from the space's
    range (for a convolutional space ``n_inputs`` is the image channels)."""
    genotype = space.genotype
    return space.family.draw(prior_name, genotype.prior_parameters(prior_name),
                             genotype.context(n_inputs, n_outputs), rng)


def random_individual(space: SearchSpace, n_inputs: int, n_outputs: int, rng: np.random.Generator) -> Individual:
    prior_name = space.genotype.priors[int(rng.integers(len(space.genotype.priors)))]
    graph = sample_genotype(space, prior_name, n_inputs, n_outputs, rng)
    cells = space.cells
    cell = cells[int(rng.integers(len(cells)))] if cells else None
    genes = training_genes.sample(space.genes, rng)
    return Individual(with_genotype_genes(graph, genes, rng), cell, origin=f"prior:{prior_name}",
                      pareto=space.evolution.selection == "nsga2", genes=genes)


def with_genotype_genes(graph, genes: dict, rng: np.random.Generator, previous: dict | None = None):
    """``graph`` reshaped to its genotype genes (``input_density``) where they are set and, given
    ``previous`` values, where they changed."""
    density = genes.get("input_density")
    if density is None or (previous is not None and previous.get("input_density") == density):
        return graph
    return set_input_density(graph, float(density), rng)


def _pick(weights: dict[str, float], rng: np.random.Generator) -> str:
    names = [name for name, weight in weights.items() if weight > 0]
    p = np.array([weights[name] for name in names], dtype=float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def operator_weights(space: SearchSpace, graph: Genotype) -> dict[str, float]:
    """The space's mutation weights for ``graph``: above ``evolution.single_edge_limit`` edges the
    single-edge operators drop out (a step of one edge in thousands is noise), unless nothing
    else is left."""
    weights = space.evolution.mutations
    if graph.n_edges <= space.evolution.single_edge_limit:
        return weights
    scaled = {name: weight for name, weight in weights.items() if name not in space.family.single_edge}
    return scaled if sum(scaled.values()) > 0 else weights


def apply_mutation(space: SearchSpace, name: str, graph: Genotype, rng: np.random.Generator,
                   importance=None) -> Genotype:
    """The mutation ``name`` of ``graph`` by the space's family, with the space's step for it; the
    input operators that weigh inputs get ``importance`` (the parent's, where known)."""
    family = space.family
    step = space.evolution.steps.get(name, family.steps.get(name))
    return family.mutate(name, graph, rng, step=step, max_width=space.max_width, importance=importance)


def mutate(
    space: SearchSpace, individual: Individual, rng: np.random.Generator, graph: Genotype | None = None,
    importance=None,
) -> tuple[Genotype, str | None, dict, str]:
    """(graph, cell, genes, description) of one mutation of ``individual`` (of ``graph`` in its place,
    when given: the same graph with node tags).  The input operators read ``importance``, by
    default the individual's own inputs' importance from its training (``metrics``)."""
    name = _pick(operator_weights(space, individual.graph), rng)
    if importance is None:
        importance = individual.metrics.get("input_importance")
    graph = apply_mutation(space, name, individual.graph if graph is None else graph, rng, importance)
    cell, cells = individual.cell, space.cells
    description = f"mutation:{name}"
    if len(cells) > 1 and rng.random() < space.evolution.cell_mutation_probability:
        cell = cells[int(rng.integers(len(cells)))]
        description += f"+cell:{cell}"
    genes = training_genes.mutate(space.genes, individual.genes, space.evolution.gene_mutation_probability, rng)
    graph = with_genotype_genes(graph, genes, rng, individual.genes)
    changed = sorted(name for name in genes if genes[name] != individual.genes.get(name))
    if changed:
        description += "+genes:" + ",".join(changed)
    return graph, cell, genes, description


def make_offspring(space: SearchSpace, parents: list[Individual], rng: np.random.Generator) -> list[Individual]:
    """One child per parent: pairs cross over with the crossover probability (then each child is
    also mutated with the mutation probability); a child made without crossover is always mutated,
    so no child is a plain copy of its parent.

    Each parent's nodes are tagged with its place among the child's parents before the operators
    run (:mod:`structsearch.graphs.lineage`), so a child's graph tells which parent node each of its
    nodes is: weight inheritance reads it."""
    evolution, pareto = space.evolution, space.evolution.selection == "nsga2"
    children = []
    for start in range(0, len(parents), 2):
        pair = parents[start : start + 2]
        if len(pair) == 2 and rng.random() < evolution.crossover_probability:
            name = _pick(evolution.crossovers, rng)
            family = space.family
            graphs = family.cross(name, family.tag(pair[0].graph, 0), family.tag(pair[1].graph, 1), rng)
            ids = tuple(p.id for p in pair)
            gene_pair = training_genes.cross(space.genes, pair[0].genes, pair[1].genes, rng)
            made = [Individual(with_genotype_genes(g, genes, rng), parent.cell, origin=f"crossover:{name}",
                               parents=ids, pareto=pareto, genes=genes)
                    for g, parent, genes in zip(graphs, pair, gene_pair, strict=True)]
            known = [p.metrics.get("input_importance") for p in pair]
            importance = (np.mean(known, axis=0).tolist() if all(known) and len({len(k) for k in known}) == 1
                          else None)  # a crossover child knows its parents' input importances, averaged
            for child in made:
                if rng.random() < evolution.mutation_probability:
                    child.graph, child.cell, child.genes, description = mutate(space, child, rng,
                                                                              importance=importance)
                    child.origin += "+" + description
            children.extend(made)
        else:
            for parent in pair:
                graph, cell, genes, description = mutate(space, parent, rng, space.family.tag(parent.graph, 0))
                children.append(Individual(graph, cell, origin=description, parents=(parent.id,), pareto=pareto,
                                           genes=genes))
    return children
