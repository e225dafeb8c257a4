"""The layered family (``[model] kind = "mlp"``): neuron-level DAGs with skip-layer edges
(:class:`~structsearch.graphs.LayeredGraph`), drawn from random-graph priors or composed from
motifs, varied by the graph operators and decoded into a truly sparse MLP.

The recurrent family (:mod:`structsearch.families.recurrent`) shares its priors and operators.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np
import torch

from structsearch import seeds
from structsearch.declare import check_weights
from structsearch.errors import ConfigError, DataError
from structsearch.families.base import FAMILIES, Family, Parameter, Prior, PriorContext, uniform
from structsearch.graphs import (
    LayeredGraph,
    barabasi_albert,
    configuration_model,
    erdos_renyi,
    motif_composed,
    motif_informed,
    watts_strogatz,
)
from structsearch.graphs.density import connections_for, erdos_renyi_density
from structsearch.graphs.features import FEATURE_NAMES, compute_features
from structsearch.graphs.lineage import tagged
from structsearch.graphs.motif_catalogue import MOTIFS, load_census, motif_mix
from structsearch.graphs.operators import BLOCK_STEPS, CROSSOVERS, IMPORTANCE_OPERATORS, MUTATIONS, SINGLE_EDGE
from structsearch.nn.mlp import SparseMLP
from structsearch.registry import Registry

# shared parameters of the layer-by-layer priors
LAYERS = Parameter(int, (1, 3), "hidden layers")
WIDTH = Parameter(int, (16, 64), "neurons per hidden layer")
MOTIF_COUNT = Parameter(int, (20, 120), "motifs composed into the genotype")


def _layer_sizes(ranges: dict, context: PriorContext, rng: np.random.Generator) -> list[int]:
    depth = uniform(rng, ranges["layers"])
    return [context.n_inputs, *[uniform(rng, ranges["width"]) for _ in range(depth)], context.n_outputs]


def _embedding(context: PriorContext) -> dict:
    return {"n_inputs": context.n_inputs, "n_outputs": context.n_outputs, "input_density": context.input_density}


def _nodes(context: PriorContext, rng: np.random.Generator) -> int:
    return uniform(rng, context.nodes)


def sample_erdos_renyi(ranges: dict, context: PriorContext, rng: np.random.Generator) -> LayeredGraph:
    sizes = _layer_sizes(ranges, context, rng)
    return erdos_renyi(sizes, uniform(rng, ranges["epsilon"], float), rng)


def sample_watts_strogatz(ranges: dict, context: PriorContext, rng: np.random.Generator) -> LayeredGraph:
    n = _nodes(context, rng)
    k = min(uniform(rng, ranges["k"]), n - 1)
    return watts_strogatz(n, k, uniform(rng, ranges["p"], float), rng, orientation=context.orientation,
                          **_embedding(context))


def sample_barabasi_albert(ranges: dict, context: PriorContext, rng: np.random.Generator) -> LayeredGraph:
    n = _nodes(context, rng)
    return barabasi_albert(n, min(uniform(rng, ranges["m"]), n - 1), rng, orientation=context.orientation,
                           **_embedding(context))


def sample_configuration_model(ranges: dict, context: PriorContext, rng: np.random.Generator) -> LayeredGraph:
    n = _nodes(context, rng)
    low, high = ranges["degree"]
    out_degrees = rng.integers(low, min(high, n - 1) + 1, size=n)
    return configuration_model(rng.permutation(out_degrees), out_degrees, rng, **_embedding(context))


def sample_motif_composed(ranges: dict, context: PriorContext, rng: np.random.Generator) -> LayeredGraph:
    sizes = _layer_sizes(ranges, context, rng)
    return motif_composed(sizes, dict(context.motif_mix), uniform(rng, ranges["motifs"]), rng)


@lru_cache(maxsize=8)
def _census(path: str) -> dict:
    return load_census(path)


def sample_motif_informed(ranges: dict, context: PriorContext, rng: np.random.Generator) -> LayeredGraph:
    sizes = _layer_sizes(ranges, context, rng)
    if context.census is None:
        raise ConfigError("genotype.census must name a census file (structsearch motifs --out) "
                          "for the motif-informed prior")
    return motif_informed(sizes, _census(context.census), uniform(rng, ranges["motifs"]), rng)


def _degree_below_nodes(key: str):
    """A check: the prior's largest ``key`` stays below the smallest node count."""

    def check(ranges: dict, genotype) -> None:
        smallest = genotype.nodes[0]
        if ranges[key][1] >= smallest:
            prior = {"k": "watts-strogatz", "m": "barabasi-albert", "degree": "configuration-model"}[key]
            raise ConfigError(f"genotype.{prior}.{key} = {ranges[key]}: the largest value must be below the "
                              f"smallest node count genotype.nodes[0] = {smallest}")

    return check


def _graph_size(key: str):
    def size(ranges: dict, genotype) -> tuple[int, int]:
        n = genotype.nodes[1]
        return n, n * ranges[key][1]

    return size


def _layers_size(ranges: dict, genotype) -> tuple[int, int]:
    layers, width = ranges["layers"][1], ranges["width"][1]
    edges = 8 * ranges.get("motifs", [0, 0])[1]
    if "epsilon" in ranges:
        edges += (layers - 1) * connections_for(width, width, erdos_renyi_density(width, width, ranges["epsilon"][1]))
    return layers * width, edges


def _check_motif_mix(ranges: dict, genotype) -> None:
    for name in genotype.motif_mix:
        if name not in MOTIFS:
            raise ConfigError(f"genotype.motif_mix: unknown motif {name!r}; allowed: {', '.join(MOTIFS)}")
    check_weights(genotype.motif_mix, "genotype.motif_mix")
    if sum(genotype.motif_mix.values()) <= 0:
        raise ConfigError("genotype.motif_mix weights must have a positive sum")


def _check_census(ranges: dict, genotype) -> None:
    if genotype.census is None:
        raise ConfigError("genotype.census must name a census file (structsearch motifs --out) "
                          "for the motif-informed prior")
    try:
        motif_mix(_census(genotype.census), genotype.census)
    except DataError as error:
        raise ConfigError(f"genotype.census: {error}") from None


LAYERED_PRIORS: Registry[Prior] = Registry("prior", {
    "erdos-renyi": Prior(sample_erdos_renyi, {"layers": LAYERS, "width": WIDTH, "epsilon": Parameter(
        float, (2.0, 10.0), "Erdős–Rényi ε of each layer pair", low=1e-9)},
        "layer-to-layer Erdős–Rényi (Mocanu et al. 2018)", _layers_size, build=erdos_renyi),
    "watts-strogatz": Prior(sample_watts_strogatz, {
        "k": Parameter(int, (2, 6), "each node's nearest neighbours in the ring"),
        "p": Parameter(float, (0.1, 1.0), "rewiring probability", low=0.0, high=1.0)},
        "a small-world graph, oriented and layered", _graph_size("k"), _degree_below_nodes("k"), watts_strogatz),
    "barabasi-albert": Prior(sample_barabasi_albert, {"m": Parameter(int, (1, 4), "edges each new node attaches with")},
                             "a scale-free graph, oriented and layered", _graph_size("m"), _degree_below_nodes("m"),
                             barabasi_albert),
    "configuration-model": Prior(sample_configuration_model, {"degree": Parameter(int, (1, 4), "each node's degree")},
                                 "a graph of given degrees, oriented and layered", _graph_size("degree"),
                                 _degree_below_nodes("degree"), configuration_model),
    "motif-composed": Prior(sample_motif_composed, {"layers": LAYERS, "width": WIDTH, "motifs": MOTIF_COUNT},
                            "catalogue motifs placed on layers (genotype.motif_mix)", _layers_size, _check_motif_mix,
                            motif_composed),
    "motif-informed": Prior(sample_motif_informed, {"layers": LAYERS, "width": WIDTH, "motifs": MOTIF_COUNT},
                            "motifs weighted by a census (genotype.census)", _layers_size, _check_census,
                            motif_informed),
})


class LayeredFamily(Family):
    """Sparse MLPs from layered neuron-level DAGs."""

    name = "mlp"
    meaning = "layered neuron-level DAGs decoded into sparse MLPs"
    adjective = "layered"
    genotype_type = LayeredGraph
    task_kind = "vector"
    rewiring = True
    inheritance = True
    priors = LAYERED_PRIORS
    mutations = MUTATIONS
    crossovers = CROSSOVERS
    default_mutations = {
        "add-edge": 1.0, "remove-edge": 1.0, "rewire-edge": 1.0, "add-neuron": 1.0, "remove-neuron": 1.0,
        "insert-motif": 0.5, "remove-motif": 0.5, "add-layer": 0.25, "remove-layer": 0.25,
        "resize-layer": 1.0, "scale-density": 1.0, "resample-block": 0.5, "rewire-fraction": 1.0}
    default_crossovers = {"bridge": 1.0, "matching-layers": 1.0}
    steps = BLOCK_STEPS
    single_edge = SINGLE_EDGE
    input_layer = True  # its genotypes read the task's inputs directly (the input-density gene)

    def draw(self, prior: str, ranges: dict, context: PriorContext, rng: np.random.Generator) -> LayeredGraph:
        density = context.input_density
        if isinstance(density, list | tuple):  # each candidate draws its own input density
            context = replace(context, input_density=float(rng.uniform(density[0], density[-1])))
        return super().draw(prior, ranges, context, rng)

    def mutate(self, name: str, genotype: LayeredGraph, rng: np.random.Generator, *, step: float | None = None,
               max_width: int | None = None, importance=None) -> LayeredGraph:
        """The mutation ``name``: a block operator with its ``step``, resize-layer up to ``max_width``,
        an input operator that weighs inputs with ``importance`` (the parent's, where known)."""
        options = {}
        if name in IMPORTANCE_OPERATORS:
            options["importance"] = importance
        if name in BLOCK_STEPS and step is not None:
            options["step"] = step
        if name == "resize-layer" and max_width is not None:
            options["max_width"] = max_width
        return self.mutations.lookup(name)(genotype, rng, **options)

    def tag(self, genotype: LayeredGraph, slot: int) -> LayeredGraph:
        return tagged(genotype, slot)

    def feature_names(self) -> list[str]:
        return list(FEATURE_NAMES)

    def features(self, genotype: LayeredGraph) -> tuple[dict, dict]:
        return compute_features(genotype)

    def decode(self, genotype: LayeredGraph, model, task, seed: int) -> torch.nn.Module:
        return SparseMLP(genotype.to_blocks(), activation=model.activation, dropout=model.dropout, init=model.init,
                         generator=torch.Generator().manual_seed(seeds.derive(seed, "model")))


FAMILIES.register("mlp", LayeredFamily())
