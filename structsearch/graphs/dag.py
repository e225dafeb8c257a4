"""From a random graph to a layered network (Stier et al. 2021, §4.3).

1. **Orient** the undirected graph into a DAG: every edge points from the lower to the higher
   rank, where the rank is the node order (as in the source experiments) or a random permutation.
2. **Layer** the DAG: layer(v) = max over predecessors u of layer(u) + 1, sources at 0.
3. **Embed** it between an input and an output layer.  DAG node v becomes a hidden neuron in
   layer(v) + 1.  Every *source* of the DAG (no predecessor) receives input connections — from all
   inputs, or from a random subset of density ``input_density`` (at least one input) — and every
   *sink* (no successor) feeds every output.  A node that is both (isolated) gets both.
"""

from __future__ import annotations

import numpy as np

from structsearch.errors import ConfigError
from structsearch.graphs.layered import LayeredGraph

ORIENTATIONS = ("order", "random")


def orient(n: int, edges: np.ndarray, orientation: str = "order",
           rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Directed (src, dst) arrays of the undirected ``edges`` (shape (E, 2)) by node rank."""
    if orientation not in ORIENTATIONS:
        raise ConfigError(f"orientation must be one of {', '.join(ORIENTATIONS)}, got {orientation!r}")
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    edges = edges[edges[:, 0] != edges[:, 1]]
    rank = np.arange(n) if orientation == "order" else (rng or np.random.default_rng(0)).permutation(n)
    forward = rank[edges[:, 0]] < rank[edges[:, 1]]
    src = np.where(forward, edges[:, 0], edges[:, 1])
    dst = np.where(forward, edges[:, 1], edges[:, 0])
    keys = np.unique(src * n + dst)
    return keys // n, keys % n


def layer_index(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Longest-path layer of every node of a DAG: sources 0, else 1 + max over predecessors.

    Kahn's algorithm over whole generations at a time: O(nodes + edges · depth) in numpy.
    """
    layer = np.zeros(n, dtype=np.int64)
    indegree = np.bincount(dst, minlength=n)
    frontier = np.flatnonzero(indegree == 0)
    order = np.argsort(src, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))])
    src_sorted, dst_sorted = src[order], dst[order]
    seen = 0
    while frontier.size:
        seen += frontier.size
        lengths = starts[frontier + 1] - starts[frontier]
        idx = np.repeat(starts[frontier], lengths) + (
            np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        )
        targets = dst_sorted[idx]
        np.maximum.at(layer, targets, layer[src_sorted[idx]] + 1)
        np.subtract.at(indegree, targets, 1)
        touched = np.unique(targets)
        frontier = touched[indegree[touched] == 0]
    if seen != n:
        raise ValueError("the graph has a cycle")
    return layer


def embed(n_inputs: int, n_outputs: int, n: int, src: np.ndarray, dst: np.ndarray,
          rng: np.random.Generator, input_density: float = 1.0, recurrent: bool = False) -> LayeredGraph:
    """Place a DAG on ``n`` nodes between ``n_inputs`` inputs and ``n_outputs`` outputs (rule above)."""
    if not 0.0 < input_density <= 1.0:
        raise ConfigError(f"input_density must lie in (0, 1], got {input_density}")
    depth = layer_index(n, src, dst)
    order = np.argsort(depth, kind="stable")  # hidden node ids grouped by layer
    new_id = np.empty(n, dtype=np.int64)
    new_id[order] = n_inputs + np.arange(n)
    out_layer = int(depth.max(initial=-1)) + 2
    layers = np.concatenate([np.zeros(n_inputs, dtype=np.int64), depth[order] + 1,
                             np.full(n_outputs, out_layer)])
    sources = np.flatnonzero(np.bincount(dst, minlength=n) == 0)
    sinks = np.flatnonzero(np.bincount(src, minlength=n) == 0)
    per_source = max(1, int(round(input_density * n_inputs)))
    in_src = np.concatenate([np.arange(n_inputs) if per_source == n_inputs
                             else np.sort(rng.choice(n_inputs, per_source, replace=False))
                             for _ in sources]) if sources.size else np.empty(0, dtype=np.int64)
    in_dst = np.repeat(new_id[sources], per_source)
    outputs = n_inputs + n + np.arange(n_outputs)
    out_src = np.repeat(new_id[sinks], n_outputs)
    out_dst = np.tile(outputs, sinks.size)
    all_src = np.concatenate([in_src, new_id[src], out_src])
    all_dst = np.concatenate([in_dst, new_id[dst], out_dst])
    return LayeredGraph(n_inputs, n_outputs, layers, all_src, all_dst, recurrent)
