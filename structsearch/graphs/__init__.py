"""Layered sparse-graph genotypes: the graph, priors, repair, operators and features."""

from structsearch.graphs import priors
from structsearch.graphs.cnn import ConvGenotype
from structsearch.graphs.layered import InvalidGraph, LayeredGraph
from structsearch.graphs.priors import (
    barabasi_albert,
    configuration_model,
    erdos_renyi,
    motif_composed,
    motif_informed,
    watts_strogatz,
)
from structsearch.graphs.repair import repair


def __getattr__(name: str):
    if name in ("PRIORS", "prior"):  # 0.2 names: the priors are the families' now (deprecated, until 0.3)
        return getattr(priors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# a genotype of either family: layered (MLP and recurrent candidates) or convolutional
Genotype = LayeredGraph | ConvGenotype

__all__ = [
    "ConvGenotype",
    "Genotype",
    "InvalidGraph",
    "LayeredGraph",
    "barabasi_albert",
    "configuration_model",
    "erdos_renyi",
    "motif_composed",
    "motif_informed",
    "repair",
    "watts_strogatz",
]
