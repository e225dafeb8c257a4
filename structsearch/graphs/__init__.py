"""Layered sparse-graph genotypes: the graph, priors, repair, operators and features."""

from structsearch.graphs.cnn import ConvGenotype
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

# a genotype of either family: layered (MLP and recurrent candidates) or convolutional
Genotype = LayeredGraph | ConvGenotype

__all__ = [
    "PRIORS",
    "ConvGenotype",
    "Genotype",
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
