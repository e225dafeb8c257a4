"""Random-graph priors: plain functions ``prior(..., rng) -> LayeredGraph``, each output valid.

``erdos_renyi`` and ``motif_composed`` build layer by layer; ``watts_strogatz``,
``barabasi_albert`` and ``configuration_model`` draw a random graph, orient it into a DAG, layer
it and embed it between the inputs and outputs (:mod:`structsearch.graphs.dag`).
"""

from __future__ import annotations

import warnings

import networkx as nx
import numpy as np

from structsearch.errors import ConfigError
from structsearch.graphs.dag import embed, orient
from structsearch.graphs.density import connections_for, erdos_renyi_density, sample_positions
from structsearch.graphs.edit import add_edges
from structsearch.graphs.layered import LayeredGraph
from structsearch.graphs.motif_catalogue import load_census, motif, motif_mix, place_motif
from structsearch.graphs.repair import repair
from structsearch.limits import check_memory, genotype_bytes, model_bytes
from structsearch.registry import Registry


def _check_sizes(n_inputs: int, n_outputs: int) -> None:
    if n_inputs < 1 or n_outputs < 1:
        raise ConfigError(f"n_inputs and n_outputs must be positive, got {n_inputs} and {n_outputs}")


def _check_memory(prior: str, nodes: int, edges: int) -> None:
    """Refuse, before drawing, a genotype (and the model it becomes) too large for the memory limit."""
    check_memory(genotype_bytes(nodes, edges) + model_bytes(edges, nodes),
                 f"a {prior} genotype of {nodes:,} nodes and about {edges:,} edges")


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))


def erdos_renyi(layer_sizes: list[int], epsilon: float, rng: np.random.Generator,
                recurrent: bool = False) -> LayeredGraph:
    """Layer-to-layer Erdős–Rényi with density ε(n+m)/(n·m) per layer pair (Mocanu et al. 2018).

    Parameters
    ----------
    layer_sizes : list of int
        ``[inputs, hidden…, outputs]``.
    epsilon : float
        ε: each pair of consecutive layers of n and m neurons gets ε(n+m) connections (at most n·m).
    rng : numpy.random.Generator
        The draws.
    recurrent : bool
        Whether the genotype is for recurrent cells.

    Returns
    -------
    LayeredGraph
        The genotype; dead neurons are reconnected.

    References
    ----------
    Mocanu et al. (2018), "Scalable training of artificial neural networks with adaptive sparse
    connectivity inspired by network science", Nature Communications 9, 2383.
    """
    if len(layer_sizes) < 2 or any(int(s) <= 0 for s in layer_sizes):
        raise ConfigError(f"layer_sizes must be at least two positive sizes, got {layer_sizes}")
    pairs = list(zip(layer_sizes[:-1], layer_sizes[1:], strict=True))
    _check_memory("erdos-renyi", sum(layer_sizes),
                sum(connections_for(n_in, n_out, erdos_renyi_density(n_in, n_out, epsilon)) for n_in, n_out in pairs))
    graph = LayeredGraph.from_layer_widths(layer_sizes[0], list(layer_sizes[1:-1]), layer_sizes[-1],
                                           recurrent=recurrent)
    starts = np.concatenate([[0], np.cumsum(layer_sizes)])
    src, dst = [], []
    for layer, (n_in, n_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:], strict=True)):
        k = connections_for(n_in, n_out, erdos_renyi_density(n_in, n_out, epsilon))
        rows, cols = sample_positions(n_out, n_in, k, rng)
        src.append(starts[layer] + cols)
        dst.append(starts[layer + 1] + rows)
    return repair(graph.with_edges(np.concatenate(src), np.concatenate(dst)), "reconnect", rng)


def _from_undirected(nx_graph, n_inputs, n_outputs, rng, orientation, input_density, recurrent):
    edges = np.array(list(nx_graph.edges()), dtype=np.int64).reshape(-1, 2)
    n = nx_graph.number_of_nodes()
    src, dst = orient(n, edges, orientation, rng)
    return repair(embed(n_inputs, n_outputs, n, src, dst, rng, input_density, recurrent), "reconnect", rng)


def watts_strogatz(n: int, k: int, p: float, rng: np.random.Generator, n_inputs: int = 1,
                   n_outputs: int = 1, orientation: str = "order", input_density: float = 1.0,
                   recurrent: bool = False) -> LayeredGraph:
    """Watts–Strogatz small world (ring of ``n`` nodes, ``k`` neighbours, rewiring ``p``) as a network.

    Stier et al. (2021) used n in [10, 50], k = n // 5 and p = 1.

    Parameters
    ----------
    n : int
        Hidden neurons (the ring's nodes).
    k : int
        Each node's nearest neighbours in the ring, 1 ≤ k < n.
    p : float
        Rewiring probability, in [0, 1].
    rng : numpy.random.Generator
        The draws (e.g. ``structsearch.seeds.generator(seed, "prior")``).
    n_inputs, n_outputs : int
        Input and output nodes the graph is embedded between.
    orientation : {"order", "random"}
        How the undirected graph becomes a DAG: edges point from the lower to the higher node
        number, or in a random node order.
    input_density : float
        The share of the inputs each input-layer neuron reads, in (0, 1].
    recurrent : bool
        Whether the genotype is for recurrent cells (edges within a hidden layer allowed).

    Returns
    -------
    LayeredGraph
        The genotype: nodes layered by longest path from the inputs, skip-layer edges kept, every
        hidden neuron on an input→output path (repaired).

    References
    ----------
    Watts & Strogatz (1998), "Collective dynamics of 'small-world' networks", Nature 393.
    Stier, Darji & Granitzer (2021), arXiv:2107.12917.
    """
    _check_sizes(n_inputs, n_outputs)
    if n < 2 or not 1 <= k < n:
        raise ConfigError(f"watts_strogatz needs n ≥ 2 and 1 ≤ k < n, got n={n}, k={k}")
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"watts_strogatz needs 0 ≤ p ≤ 1, got p={p}")
    _check_memory("watts-strogatz", n + n_inputs + n_outputs, n * k // 2 + n + n_inputs + n_outputs)

    return _from_undirected(nx.watts_strogatz_graph(n, k, p, seed=_seed(rng)), n_inputs, n_outputs,
                            rng, orientation, input_density, recurrent)


def barabasi_albert(n: int, m: int, rng: np.random.Generator, n_inputs: int = 1, n_outputs: int = 1,
                    orientation: str = "order", input_density: float = 1.0,
                    recurrent: bool = False) -> LayeredGraph:
    """Barabási–Albert preferential attachment (``n`` nodes, ``m`` edges per new node) as a network.

    Stier et al. (2021) used n in [10, 50] and m = n // 10.

    Parameters
    ----------
    n : int
        Hidden neurons.
    m : int
        Edges each new node attaches with, 1 ≤ m < n.
    rng : numpy.random.Generator
        The draws (e.g. ``structsearch.seeds.generator(seed, "prior")``).
    n_inputs, n_outputs : int
        Input and output nodes the graph is embedded between.
    orientation : {"order", "random"}
        How the undirected graph becomes a DAG: edges point from the lower to the higher node
        number, or in a random node order.
    input_density : float
        The share of the inputs each input-layer neuron reads, in (0, 1].
    recurrent : bool
        Whether the genotype is for recurrent cells (edges within a hidden layer allowed).

    Returns
    -------
    LayeredGraph
        The genotype: nodes layered by longest path from the inputs, skip-layer edges kept, every
        hidden neuron on an input→output path (repaired).

    References
    ----------
    Barabási & Albert (1999), "Emergence of scaling in random networks", Science 286.
    Stier, Darji & Granitzer (2021), arXiv:2107.12917.
    """
    _check_sizes(n_inputs, n_outputs)
    if n < 2 or not 1 <= m < n:
        raise ConfigError(f"barabasi_albert needs n ≥ 2 and 1 ≤ m < n, got n={n}, m={m}")
    _check_memory("barabasi-albert", n + n_inputs + n_outputs, m * (n - m) + n + n_inputs + n_outputs)

    return _from_undirected(nx.barabasi_albert_graph(n, m, seed=_seed(rng)), n_inputs, n_outputs,
                            rng, orientation, input_density, recurrent)


def configuration_model(in_degrees, out_degrees, rng: np.random.Generator, n_inputs: int = 1,
                        n_outputs: int = 1, input_density: float = 1.0,
                        recurrent: bool = False) -> LayeredGraph:
    """Directed configuration model with the given degree sequences, made a DAG by node order.

    Self-loops and parallel edges are dropped and edges pointing backwards in node order are
    flipped, so realised degrees can differ slightly from the requested ones.

    Parameters
    ----------
    in_degrees, out_degrees : sequence of int
        Each hidden neuron's in- and out-degree (equal sums).
    rng : numpy.random.Generator
        The draws (e.g. ``structsearch.seeds.generator(seed, "prior")``).
    n_inputs, n_outputs : int
        Input and output nodes the graph is embedded between.
    input_density : float
        The share of the inputs each input-layer neuron reads, in (0, 1].
    recurrent : bool
        Whether the genotype is for recurrent cells (edges within a hidden layer allowed).

    Returns
    -------
    LayeredGraph
        The genotype: nodes layered by longest path from the inputs, skip-layer edges kept, every
        hidden neuron on an input→output path (repaired).

    References
    ----------
    Newman, Strogatz & Watts (2001), "Random graphs with arbitrary degree distributions and their
    applications", Physical Review E 64.
    """
    _check_sizes(n_inputs, n_outputs)
    in_degrees, out_degrees = np.asarray(in_degrees, dtype=np.int64), np.asarray(out_degrees, dtype=np.int64)
    if in_degrees.shape != out_degrees.shape or in_degrees.size < 2:
        raise ConfigError("in_degrees and out_degrees must be sequences of equal length ≥ 2")
    if (in_degrees < 0).any() or (out_degrees < 0).any():
        raise ConfigError("degrees must not be negative")
    if in_degrees.sum() != out_degrees.sum():
        raise ConfigError(f"in-degrees sum to {in_degrees.sum()} but out-degrees to {out_degrees.sum()}")
    _check_memory("configuration-model", in_degrees.size + n_inputs + n_outputs,
                int(in_degrees.sum()) + in_degrees.size + n_inputs + n_outputs)

    multigraph = nx.directed_configuration_model(in_degrees.tolist(), out_degrees.tolist(), seed=_seed(rng))
    edges = np.array([(u, v) for u, v in multigraph.edges()], dtype=np.int64).reshape(-1, 2)
    src, dst = orient(in_degrees.size, edges, "order")
    graph = embed(n_inputs, n_outputs, in_degrees.size, src, dst, rng, input_density, recurrent)
    return repair(graph, "reconnect", rng)


def motif_composed(layer_sizes: list[int], motif_mix: dict[str, float], n_motifs: int,
                   rng: np.random.Generator, recurrent: bool = False) -> LayeredGraph:
    """``n_motifs`` catalogue motifs placed on layers of the given sizes, drawn by ``motif_mix``
    weights (e.g. ``{"v": 2, "bi-fan": 1}``); dead neurons are reconnected afterwards.

    Parameters
    ----------
    layer_sizes : list of int
        ``[inputs, hidden…, outputs]``.
    motif_mix : dict of str to float
        Each catalogue motif's sampling weight (``v``, ``fan-out``, ``bi-fan``, ``chain``, ``ffl-skip``).
    n_motifs : int
        Motifs to place.
    rng : numpy.random.Generator
        The draws.
    recurrent : bool
        Whether the genotype is for recurrent cells.

    Returns
    -------
    LayeredGraph
        The genotype.

    References
    ----------
    Milo et al. (2002), "Network motifs: simple building blocks of complex networks", Science 298.
    """
    if len(layer_sizes) < 2 or any(int(s) <= 0 for s in layer_sizes):
        raise ConfigError(f"layer_sizes must be at least two positive sizes, got {layer_sizes}")
    if n_motifs < 1:
        raise ConfigError(f"n_motifs must be positive, got {n_motifs}")
    _check_memory("motif-composed", sum(layer_sizes), 8 * n_motifs + sum(layer_sizes))
    names = list(motif_mix)
    patterns = [motif(name) for name in names]
    weights = np.asarray([motif_mix[name] for name in names], dtype=float)
    if (weights < 0).any() or weights.sum() <= 0:
        raise ConfigError(f"motif_mix weights must be ≥ 0 with a positive sum, got {motif_mix}")
    graph = LayeredGraph.from_layer_widths(layer_sizes[0], list(layer_sizes[1:-1]), layer_sizes[-1],
                                           recurrent=recurrent)
    depth = len(layer_sizes) - 1
    src, dst = [], []
    for _ in range(n_motifs):
        pattern = patterns[rng.choice(len(patterns), p=weights / weights.sum())]
        if pattern.span > depth:
            continue
        placed = place_motif(graph, pattern, int(rng.integers(0, depth - pattern.span + 1)), rng)
        if placed is not None:
            src.append(placed[0])
            dst.append(placed[1])
    if src:
        graph = add_edges(graph, np.concatenate(src), np.concatenate(dst))
    return repair(graph, "reconnect", rng)


def motif_informed(layer_sizes: list[int], census, n_motifs: int, rng: np.random.Generator,
                   recurrent: bool = False) -> LayeredGraph:
    """:func:`motif_composed` with its motif mix taken from a census (a file of
    ``structsearch motifs --out`` or its loaded dict): the over-represented motifs, weighted by z."""
    data = census if isinstance(census, dict) else load_census(census)
    return motif_composed(layer_sizes, motif_mix(data, str(census) if not isinstance(census, dict) else "census"),
                          n_motifs, rng, recurrent)


def _deprecated(name: str):
    """``PRIORS`` and ``prior`` of 0.2: the plain builders by name; the priors now live with their
    families (:mod:`structsearch.families`: ``FAMILIES["mlp"].priors``, each with its parameter
    schema). They work until structsearch 0.3, with a DeprecationWarning."""
    if name not in ("PRIORS", "prior"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    warnings.warn(f"structsearch.graphs.priors.{name} is deprecated; the priors are the families' "
                  "(structsearch.families.FAMILIES[kind].priors); it works until structsearch 0.3",
                  DeprecationWarning, stacklevel=2)
    builders = Registry("prior", {"erdos-renyi": erdos_renyi, "watts-strogatz": watts_strogatz,
                                  "barabasi-albert": barabasi_albert, "configuration-model": configuration_model,
                                  "motif-composed": motif_composed, "motif-informed": motif_informed})
    return builders if name == "PRIORS" else builders.lookup


__getattr__ = _deprecated
