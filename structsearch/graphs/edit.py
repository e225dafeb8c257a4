"""Small structural edits of a :class:`LayeredGraph`, shared by repair, priors and operators.

Every function returns a new graph; none validates (callers repair or validate at the end).
"""

from __future__ import annotations

import numpy as np

from structsearch.graphs.layered import LayeredGraph


def dedupe_edges(graph: LayeredGraph) -> LayeredGraph:
    """Drop duplicate edges, keeping edges sorted by (src, dst)."""
    keys = np.unique(graph.edge_keys())
    return graph.with_edges(keys // graph.n_nodes, keys % graph.n_nodes)


def add_edges(graph: LayeredGraph, src, dst) -> LayeredGraph:
    return dedupe_edges(graph.with_edges(np.concatenate([graph.src, np.asarray(src, dtype=np.int64)]),
                                         np.concatenate([graph.dst, np.asarray(dst, dtype=np.int64)])))


def remove_edges(graph: LayeredGraph, mask: np.ndarray) -> LayeredGraph:
    """Remove the edges where ``mask`` is true."""
    return graph.with_edges(graph.src[~mask], graph.dst[~mask])


def add_hidden_nodes(graph: LayeredGraph, layers) -> tuple[LayeredGraph, np.ndarray]:
    """Append hidden nodes in ``layers`` (before the outputs); returns the graph and their ids.

    Layers beyond the current outputs push the output layer down.
    """
    layers = np.asarray(layers, dtype=np.int64)
    first_output = graph.n_nodes - graph.n_outputs
    count = layers.size
    remap = np.arange(graph.n_nodes)
    remap[first_output:] += count
    out_layer = max(graph.output_layer, int(layers.max(initial=0)) + 1)
    node_layers = np.concatenate([graph.layers[:first_output], layers,
                                  np.full(graph.n_outputs, out_layer)])
    tags = None if graph.tags is None else np.concatenate([graph.tags[:first_output], np.full(count, -1),
                                                            graph.tags[first_output:]])
    new = LayeredGraph(graph.n_inputs, graph.n_outputs, node_layers, remap[graph.src], remap[graph.dst],
                       graph.recurrent, tags)
    return new, np.arange(first_output, first_output + count)


def remove_nodes(graph: LayeredGraph, nodes) -> LayeredGraph:
    """Remove hidden ``nodes`` and their edges, then close empty hidden layers."""
    keep = np.ones(graph.n_nodes, dtype=bool)
    keep[np.asarray(nodes, dtype=np.int64)] = False
    keep[: graph.n_inputs] = True
    keep[graph.n_nodes - graph.n_outputs :] = True
    index = np.cumsum(keep) - 1
    edges = keep[graph.src] & keep[graph.dst]
    shrunk = LayeredGraph(graph.n_inputs, graph.n_outputs, graph.layers[keep], index[graph.src[edges]],
                          index[graph.dst[edges]], graph.recurrent, None if graph.tags is None else graph.tags[keep])
    return compact_layers(shrunk)


def compact_layers(graph: LayeredGraph) -> LayeredGraph:
    """Renumber layers so that no hidden layer is empty (inputs stay 0, outputs follow the last)."""
    hidden = graph.layers[graph.n_inputs : graph.n_nodes - graph.n_outputs]
    used = np.unique(hidden)
    mapping = np.zeros(graph.output_layer + 1 if graph.n_outputs else int(graph.layers.max(initial=0)) + 1,
                       dtype=np.int64)
    mapping[used] = np.arange(1, used.size + 1)
    layers = graph.layers.copy()
    layers[graph.n_inputs : graph.n_nodes - graph.n_outputs] = mapping[hidden]
    layers[graph.n_nodes - graph.n_outputs :] = used.size + 1
    return graph.with_layers(layers)


def shift_layers(graph: LayeredGraph, at: int, by: int) -> LayeredGraph:
    """Move every node in layer ≥ ``at`` (at ≥ 1) down by ``by`` layers, opening empty layers."""
    layers = graph.layers.copy()
    layers[layers >= at] += by
    return graph.with_layers(layers)


def drop_illegal_edges(graph: LayeredGraph) -> LayeredGraph:
    """Remove backward edges, within-layer edges of non-recurrent graphs, and duplicates."""
    step = graph.layers[graph.dst] - graph.layers[graph.src]
    src_layer = graph.layers[graph.src]
    legal = (step > 0) | ((step == 0) & graph.recurrent & (src_layer > 0) & (src_layer < graph.output_layer))
    return dedupe_edges(graph.with_edges(graph.src[legal], graph.dst[legal]))
