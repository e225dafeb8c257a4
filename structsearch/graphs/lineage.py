"""Which parent node every node of a child is: node tags carried through the operators.

Before the operators run, each parent's nodes are tagged with ``slot · 2³² + node`` (``slot`` the
parent's place among the child's parents).  The graph edits carry a node's tag with it and give a
new node −1 (:class:`~structsearch.graphs.layered.LayeredGraph`, ``tags``), so the child's tags say
for each of its nodes which node of which parent it is, or that it is new.  Weight inheritance
(:mod:`structsearch.nn.weights`) reads them to find the edges a child shares with its parents.
"""

from __future__ import annotations

import numpy as np

from structsearch.graphs.layered import LayeredGraph

SLOT = np.int64(1) << np.int64(32)


def tagged(graph: LayeredGraph, slot: int) -> LayeredGraph:
    """``graph`` with every node tagged as node ``i`` of parent ``slot``."""
    return graph.with_tags(np.int64(slot) * SLOT + np.arange(graph.n_nodes, dtype=np.int64))


def origins(graph: LayeredGraph) -> tuple[np.ndarray, np.ndarray]:
    """Per node of a child: (parent slot, node id in that parent), both −1 for a new node or an
    untagged graph."""
    if graph.tags is None:
        missing = np.full(graph.n_nodes, -1, dtype=np.int64)
        return missing, missing.copy()
    tags = graph.tags
    new = tags < 0
    return np.where(new, -1, tags // SLOT), np.where(new, -1, tags % SLOT)
