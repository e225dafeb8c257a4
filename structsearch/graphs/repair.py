"""Make any layered graph valid: drop illegal edges, then remove or reconnect dead neurons.

A hidden neuron is *dead* when no path leads to it from an input or from it to an output; it
cannot influence the model.  ``repair(graph, "remove")`` deletes dead neurons (one pass suffices:
every neuron on an input→output path is itself alive); ``repair(graph, "reconnect", rng)`` gives
each dead neuron an edge from a random live-from-input neuron in a lower layer and an edge to a
random output-reaching neuron in a higher layer.  Empty hidden layers are closed either way.
"""

from __future__ import annotations

import numpy as np

from structsearch.errors import ConfigError
from structsearch.graphs.edit import add_edges, compact_layers, drop_illegal_edges, remove_nodes
from structsearch.graphs.layered import LayeredGraph

REPAIR_MODES = ("remove", "reconnect")


def repair(graph: LayeredGraph, mode: str = "reconnect", rng: np.random.Generator | None = None) -> LayeredGraph:
    if mode not in REPAIR_MODES:
        raise ConfigError(f"repair mode must be one of {', '.join(REPAIR_MODES)}, got {mode!r}")
    graph = compact_layers(drop_illegal_edges(graph))
    if mode == "reconnect":
        graph = _reconnect(graph, rng if rng is not None else np.random.default_rng(0))
    dead = graph.dead_hidden_nodes()
    return remove_nodes(graph, dead) if dead.size else graph


def _reconnect(graph: LayeredGraph, rng: np.random.Generator) -> LayeredGraph:
    layers = graph.layers
    hidden = graph.hidden_nodes()
    # from inputs, shallow layers first so that a fixed neuron can feed the next one
    reached = graph.reachable_from_inputs()
    if not reached[hidden].all():
        src, dst = [], []
        for node in hidden[np.argsort(layers[hidden], kind="stable")]:
            if reached[node]:
                continue
            candidates = np.flatnonzero(reached & (layers < layers[node]) & (layers < graph.output_layer))
            src.append(int(rng.choice(candidates)))
            dst.append(int(node))
            reached[node] = True
            # whatever this neuron feeds is now reached too
            reached[graph.dst[graph.src == node]] = True
        graph = add_edges(graph, src, dst)
        reached = graph.reachable_from_inputs()
    reaching = graph.reaching_outputs()
    if not reaching[hidden].all():
        src, dst = [], []
        for node in hidden[np.argsort(-layers[hidden], kind="stable")]:
            if reaching[node]:
                continue
            candidates = np.flatnonzero(
                reaching & (layers > layers[node]) & (np.arange(graph.n_nodes) >= graph.n_inputs)
            )
            src.append(int(node))
            dst.append(int(rng.choice(candidates)))
            reaching[node] = True
            reaching[graph.src[graph.dst == node]] = True
        graph = add_edges(graph, src, dst)
    return graph
