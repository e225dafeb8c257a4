"""Layered sparse-graph genotypes: the graph, priors, repair, operators and features."""

from structsearch.graphs.layered import InvalidGraph, LayeredGraph
from structsearch.graphs.priors import (
    PRIORS,
    barabasi_albert,
    configuration_model,
    erdos_renyi,
    motif_composed,
    motif_informed,
    prior,
    watts_strogatz,
)
from structsearch.graphs.repair import repair

__all__ = [
    "PRIORS",
    "InvalidGraph",
    "LayeredGraph",
    "barabasi_albert",
    "configuration_model",
    "erdos_renyi",
    "motif_composed",
    "motif_informed",
    "prior",
    "repair",
    "watts_strogatz",
]
