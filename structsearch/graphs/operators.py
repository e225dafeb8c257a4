"""Genetic operators on layered graphs: pure functions ``op(graph(s), rng) -> new graph(s)``.

Inputs are never changed (graphs are immutable); every output is repaired and valid.  Mutations
take one graph and return one; crossovers take two and return two children.  Both kinds are kept
in registries that search spaces refer to by name.

Two scales of mutation:

* **single-edge** operators (``add-edge``, ``rewire-edge``, ``add-neuron``, …) change one edge or
  one neuron: the right step for graphs of tens or hundreds of edges;
* **block** operators change a *block* — the edges from one layer to another — as a whole, so that
  their step is a share of the genotype whatever its size: ``resize-layer`` (a width × a factor,
  the densities of the layer's blocks kept), ``scale-density`` (a block's edge count × a factor),
  ``resample-block`` (a block redrawn with its edge count kept) and ``rewire-fraction`` (a
  fraction of a block's edges moved).  Their step (a factor, or a fraction) is the ``step``
  keyword; :data:`BLOCK_STEPS` holds the defaults.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from structsearch.errors import ConfigError
from structsearch.graphs.density import sample_distinct
from structsearch.graphs.edit import (
    add_edges,
    add_hidden_nodes,
    remove_edges,
    remove_nodes,
    shift_layers,
)
from structsearch.graphs.layered import LayeredGraph
from structsearch.graphs.motif_catalogue import MOTIFS, place_motif
from structsearch.graphs.repair import repair
from structsearch.registry import Registry


def _finish(graph: LayeredGraph, rng: np.random.Generator) -> LayeredGraph:
    return repair(graph, "reconnect", rng)


def _random_forward_pair(graph: LayeredGraph, rng: np.random.Generator, tries: int = 64):
    """A (u, v) with layer(u) < layer(v) that is not yet an edge, or None."""
    layers = graph.layers
    existing = set(graph.edge_keys().tolist())
    senders = np.flatnonzero(layers < graph.output_layer)
    for _ in range(tries):
        u = int(rng.choice(senders))
        targets = np.flatnonzero(layers > layers[u])
        v = int(rng.choice(targets))
        if u * graph.n_nodes + v not in existing:
            return u, v
    return None


# ------------------------------------------------------------------------------ mutations


def add_edge(graph: LayeredGraph, rng: np.random.Generator) -> LayeredGraph:
    """Add one forward edge (possibly skipping layers) between unconnected nodes."""
    pair = _random_forward_pair(graph, rng)
    return graph if pair is None else _finish(add_edges(graph, [pair[0]], [pair[1]]), rng)


def remove_edge(graph: LayeredGraph, rng: np.random.Generator) -> LayeredGraph:
    """Remove one random edge; neurons left dead are reconnected."""
    if graph.n_edges <= 1:
        return graph
    mask = np.zeros(graph.n_edges, dtype=bool)
    mask[rng.integers(graph.n_edges)] = True
    return _finish(remove_edges(graph, mask), rng)


def rewire_edge(graph: LayeredGraph, rng: np.random.Generator) -> LayeredGraph:
    """Move one end of a random edge to another node that keeps the edge forward."""
    if graph.n_edges == 0:
        return graph
    k = int(rng.integers(graph.n_edges))
    u, v = int(graph.src[k]), int(graph.dst[k])
    layers = graph.layers
    if rng.random() < 0.5:
        candidates = np.flatnonzero((layers > layers[u]) & (np.arange(graph.n_nodes) != v))
        new = (u, int(rng.choice(candidates))) if candidates.size else (u, v)
    else:
        candidates = np.flatnonzero((layers < layers[v]) & (np.arange(graph.n_nodes) != u))
        new = (int(rng.choice(candidates)), v) if candidates.size else (u, v)
    mask = np.zeros(graph.n_edges, dtype=bool)
    mask[k] = True
    return _finish(add_edges(remove_edges(graph, mask), [new[0]], [new[1]]), rng)


def add_neuron(graph: LayeredGraph, rng: np.random.Generator) -> LayeredGraph:
    """Add a hidden neuron to a random hidden layer with one edge in and one edge out."""
    if graph.n_hidden_layers < 1:
        return add_layer(graph, rng)
    layer = int(rng.integers(1, graph.output_layer))
    grown, (node,) = add_hidden_nodes(graph, [layer])
    below = np.flatnonzero(grown.layers < layer)
    above = np.flatnonzero(grown.layers > layer)
    return _finish(add_edges(grown, [int(rng.choice(below)), node], [node, int(rng.choice(above))]), rng)


def remove_neuron(graph: LayeredGraph, rng: np.random.Generator) -> LayeredGraph:
    """Remove a random hidden neuron and its edges."""
    hidden = graph.hidden_nodes()
    if hidden.size <= 1:
        return graph
    return _finish(remove_nodes(graph, [int(rng.choice(hidden))]), rng)


def insert_subgraph(graph: LayeredGraph, rng: np.random.Generator, max_width: int = 3) -> LayeredGraph:
    """Replace a random edge u→v by a small random subgraph of depth two (Stier et al. 2021):
    two new layers after u's layer hold 1…``max_width`` new neurons each, wired u → first → second
    → v, with each new neuron connected at least once in each direction."""
    if graph.n_edges == 0:
        return graph
    k = int(rng.integers(graph.n_edges))
    u, v = int(graph.src[k]), int(graph.dst[k])
    base = int(graph.layers[u])
    opened = shift_layers(graph, base + 1, 2)
    first, second = int(rng.integers(1, max_width + 1)), int(rng.integers(1, max_width + 1))
    grown, nodes = add_hidden_nodes(opened, [base + 1] * first + [base + 2] * second)
    a, b = nodes[:first], nodes[first:]
    v = v if v < grown.n_nodes - grown.n_outputs - nodes.size else v + nodes.size  # outputs moved
    pairs = [(u, x) for x in a] + [(x, v) for x in b]
    pairs += [(x, int(rng.choice(b))) for x in a] + [(int(rng.choice(a)), y) for y in b]
    mask = np.zeros(grown.n_edges, dtype=bool)
    mask[k] = True
    src, dst = zip(*pairs, strict=True)
    return _finish(add_edges(remove_edges(grown, mask), src, dst), rng)


def insert_motif(graph: LayeredGraph, rng: np.random.Generator, names: tuple[str, ...] | None = None) -> LayeredGraph:
    """Place one catalogue motif on existing nodes at a random depth."""
    names = names or tuple(MOTIFS)
    pattern = MOTIFS[names[int(rng.integers(len(names)))]]
    depth = graph.output_layer
    if pattern.span > depth:
        return graph
    placed = place_motif(graph, pattern, int(rng.integers(0, depth - pattern.span + 1)), rng)
    return graph if placed is None else _finish(add_edges(graph, *placed), rng)


def remove_motif(graph: LayeredGraph, rng: np.random.Generator) -> LayeredGraph:
    """Remove one "v" motif: two edges from one source layer into the same target."""
    key = graph.dst * (graph.output_layer + 1) + graph.layers[graph.src]
    values, counts = np.unique(key, return_counts=True)
    shared = values[counts >= 2]
    if shared.size == 0 or graph.n_edges <= 2:
        return graph
    members = np.flatnonzero(key == rng.choice(shared))
    mask = np.zeros(graph.n_edges, dtype=bool)
    mask[rng.choice(members, 2, replace=False)] = True
    return _finish(remove_edges(graph, mask), rng)


def add_layer(graph: LayeredGraph, rng: np.random.Generator) -> LayeredGraph:
    """Insert a new hidden layer; its neurons (as many as a random existing hidden layer has, at
    least one) read from the layer above and feed the layer below.  Existing edges across the new
    layer become skip edges."""
    at = int(rng.integers(1, graph.output_layer + 1))
    widths = graph.hidden_widths()
    width = int(rng.choice(widths)) if widths else 1
    opened = shift_layers(graph, at, 1)
    grown, nodes = add_hidden_nodes(opened, [at] * width)
    above = np.flatnonzero(grown.layers == at - 1)
    below = np.flatnonzero(grown.layers == at + 1)
    src = np.concatenate([rng.choice(above, width), nodes])
    dst = np.concatenate([nodes, rng.choice(below, width)])
    return _finish(add_edges(grown, src, dst), rng)


def remove_layer(graph: LayeredGraph, rng: np.random.Generator) -> LayeredGraph:
    """Remove a random hidden layer with its neurons (when at least two hidden layers exist)."""
    if graph.n_hidden_layers < 2:
        return graph
    layer = int(rng.integers(1, graph.output_layer))
    return _finish(remove_nodes(graph, np.flatnonzero(graph.layers == layer)), rng)


# ------------------------------------------------------------------------------ block mutations

# the default step of each block operator: a factor (drawn log-uniformly in [1/step, step]) or a
# fraction of the block's edges
BLOCK_STEPS = {"resize-layer": 2.0, "scale-density": 2.0, "rewire-fraction": 0.25}
SINGLE_EDGE = ("add-edge", "remove-edge", "rewire-edge", "add-neuron", "remove-neuron", "insert-subgraph",
               "insert-motif", "remove-motif")


def block_of_edges(graph: LayeredGraph) -> np.ndarray:
    """Per edge, its block's key ``layer(src) · (L + 1) + layer(dst)``."""
    return graph.layers[graph.src] * (graph.output_layer + 1) + graph.layers[graph.dst]


def _pick_block(graph: LayeredGraph, rng: np.random.Generator):
    """A block chosen with probability ∝ its edge count: (source layer, target layer, edge mask)."""
    if graph.n_edges == 0:
        return None
    keys = block_of_edges(graph)
    values, counts = np.unique(keys, return_counts=True)
    key = int(values[rng.choice(values.size, p=counts / counts.sum())])
    a, b = divmod(key, graph.output_layer + 1)
    return a, b, keys == key


def _draw_pairs(graph: LayeredGraph, a: int, b: int, k: int, rng: np.random.Generator,
                exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``k`` distinct (u, v) with u in layer ``a`` and v in layer ``b``, none among the edge
    ``exclude`` mask's positions; uniformly at random."""
    sources, targets = np.flatnonzero(graph.layers == a), np.flatnonzero(graph.layers == b)
    total = sources.size * targets.size
    taken = np.empty(0, dtype=np.int64)
    if exclude is not None and exclude.any():
        # a block's nodes are ordered as in the graph, so positions follow node ids
        taken = np.unique(np.searchsorted(sources, graph.src[exclude]) * targets.size
                          + np.searchsorted(targets, graph.dst[exclude]))
    k = min(k, total - taken.size)
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    ranks = sample_distinct(total - taken.size, k, rng)
    # rank r → the r-th free position: skip every taken position at or below it
    positions = ranks + np.searchsorted(taken - np.arange(taken.size), ranks, side="right")
    return sources[positions // targets.size], targets[positions % targets.size]


def _factor(step: float, rng: np.random.Generator) -> float:
    spread = abs(np.log(step))
    return float(np.exp(rng.uniform(-spread, spread)))


def _new_count(count: int, factor: float, low: int, high: int) -> int:
    """``count × factor`` rounded into [low, high], moved by one when rounding would change nothing."""
    new = int(np.clip(round(count * factor), low, high))
    if new == count:
        new = int(np.clip(count + (1 if factor >= 1 else -1), low, high))
    return new


def resample_block(graph: LayeredGraph, rng: np.random.Generator) -> LayeredGraph:
    """Redraw one block's edges uniformly at random, keeping their count."""
    picked = _pick_block(graph, rng)
    if picked is None:
        return graph
    a, b, mask = picked
    src, dst = _draw_pairs(graph, a, b, int(mask.sum()), rng)
    return _finish(add_edges(remove_edges(graph, mask), src, dst), rng)


def scale_density(graph: LayeredGraph, rng: np.random.Generator, step: float = BLOCK_STEPS["scale-density"]
                  ) -> LayeredGraph:
    """Multiply one block's edge count by a factor drawn log-uniformly in [1/step, step]: new edges
    are drawn uniformly among the block's free positions, removed ones at random."""
    picked = _pick_block(graph, rng)
    if picked is None:
        return graph
    a, b, mask = picked
    count = int(mask.sum())
    total = int((graph.layers == a).sum() * (graph.layers == b).sum())
    new = _new_count(count, _factor(step, rng), 1, total)
    if new > count:
        src, dst = _draw_pairs(graph, a, b, new - count, rng, exclude=mask)
        return _finish(add_edges(graph, src, dst), rng)
    drop = np.zeros(graph.n_edges, dtype=bool)
    drop[rng.choice(np.flatnonzero(mask), count - new, replace=False)] = True
    return _finish(remove_edges(graph, drop), rng)


def rewire_fraction(graph: LayeredGraph, rng: np.random.Generator, step: float = BLOCK_STEPS["rewire-fraction"]
                    ) -> LayeredGraph:
    """Move ``step`` (a fraction) of one block's edges to positions of the block that hold none."""
    picked = _pick_block(graph, rng)
    if picked is None:
        return graph
    a, b, mask = picked
    count = int(mask.sum())
    src, dst = _draw_pairs(graph, a, b, max(1, int(round(step * count))), rng, exclude=mask)
    if src.size == 0:
        return graph  # a full block: nowhere to move an edge to
    drop = np.zeros(graph.n_edges, dtype=bool)
    drop[rng.choice(np.flatnonzero(mask), src.size, replace=False)] = True
    return _finish(add_edges(remove_edges(graph, drop), src, dst), rng)


def resize_layer(graph: LayeredGraph, rng: np.random.Generator, step: float = BLOCK_STEPS["resize-layer"],
                 max_width: int | None = None) -> LayeredGraph:
    """Multiply one hidden layer's width by a factor drawn log-uniformly in [1/step, step] (at
    most ``max_width``), keeping the density of every block into or out of the layer: the edges of
    the neurons that stay are kept, and each block gains edges at random free positions (or loses
    random ones) until its count is its old density times its new size."""
    if graph.n_hidden_layers < 1:
        return graph
    layer = int(rng.integers(1, graph.output_layer))
    widths = graph.layer_widths()
    width = widths[layer]
    new = _new_count(width, _factor(step, rng), 1, max(width, max_width or np.iinfo(np.int64).max))
    keys = block_of_edges(graph)
    a_of, b_of = divmod(keys, graph.output_layer + 1)
    blocks = {}
    for key in np.unique(keys[(a_of == layer) | (b_of == layer)]).tolist():
        a, b = divmod(key, graph.output_layer + 1)
        blocks[(a, b)] = float((keys == key).sum()) / (widths[a] * widths[b])
    if new > width:
        graph, _ = add_hidden_nodes(graph, [layer] * (new - width))
    else:  # the layer keeps at least one neuron, so no layer number changes
        graph = remove_nodes(graph, rng.choice(np.flatnonzero(graph.layers == layer), width - new, replace=False))
    widths = graph.layer_widths()
    keys = block_of_edges(graph)
    grow_src, grow_dst, drop = [], [], np.zeros(graph.n_edges, dtype=bool)
    for (a, b), density in blocks.items():
        mask = keys == a * (graph.output_layer + 1) + b
        have, want = int(mask.sum()), max(1, int(round(density * widths[a] * widths[b])))
        if want > have:
            src, dst = _draw_pairs(graph, a, b, want - have, rng, exclude=mask)
            grow_src.append(src)
            grow_dst.append(dst)
        elif want < have:
            drop[rng.choice(np.flatnonzero(mask), have - want, replace=False)] = True
    graph = remove_edges(graph, drop)
    if grow_src:
        graph = add_edges(graph, np.concatenate(grow_src), np.concatenate(grow_dst))
    return _finish(graph, rng)


# ------------------------------------------------------------------------------ the input layer

# the input operators that take the parent's input importance (``importance``: one value per input,
# from its trained weights: structsearch.nn.importance), where the search knows it
IMPORTANCE_OPERATORS = ("drop-inputs", "focus-inputs")
INPUT_FRACTION = 0.1  # drop-inputs and add-inputs: this share of the inputs
FOCUS_FRACTION = 0.2  # focus-inputs: this share of the input layer's connections moves


def _input_degree(graph: LayeredGraph) -> np.ndarray:
    return np.bincount(graph.src[graph.src < graph.n_inputs], minlength=graph.n_inputs)


def _weakest_first(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices by increasing value, ties in random order."""
    return np.lexsort((rng.random(values.size), values))


def _checked_importance(graph: LayeredGraph, importance) -> np.ndarray | None:
    if importance is None:
        return None
    importance = np.asarray(importance, dtype=float)
    if importance.shape != (graph.n_inputs,) or not np.isfinite(importance).all():
        return None  # another genotype's inputs, or damaged: act as if unknown
    return importance


def drop_inputs(graph: LayeredGraph, rng: np.random.Generator, importance=None,
                fraction: float = INPUT_FRACTION) -> LayeredGraph:
    """Disconnect a share of the connected inputs: the weakest by ``importance`` where it is known,
    otherwise random ones; at least one input stays connected."""
    degree = _input_degree(graph)
    connected = np.flatnonzero(degree > 0)
    k = min(max(1, int(round(fraction * connected.size))), connected.size - 1)
    if k < 1:
        return graph
    importance = _checked_importance(graph, importance)
    if importance is None:
        chosen = rng.choice(connected, size=k, replace=False)
    else:
        chosen = connected[_weakest_first(importance[connected], rng)[:k]]
    return _finish(remove_edges(graph, np.isin(graph.src, chosen)), rng)


def add_inputs(graph: LayeredGraph, rng: np.random.Generator, fraction: float = INPUT_FRACTION) -> LayeredGraph:
    """Connect a share of the unconnected inputs (each with the median degree of the connected ones,
    to random neurons of the first hidden layer, or of any later layer where it has none); with
    every input connected, give the least connected ones one edge more."""
    degree = _input_degree(graph)
    free = np.flatnonzero(degree == 0)
    pool = free if free.size else np.argsort(degree, kind="stable")
    k = max(1, int(round(fraction * (free.size if free.size else graph.n_inputs))))
    chosen = rng.choice(pool, size=min(k, pool.size), replace=False) if free.size else pool[:k]
    per_input = max(1, int(np.median(degree[degree > 0]))) if free.size and (degree > 0).any() else 1
    targets = np.flatnonzero(graph.layers == 1)
    if targets.size == 0:
        targets = np.flatnonzero(graph.layers > 0)
    existing = set(graph.edge_keys().tolist())
    src, dst = [], []
    for node in chosen:
        for target in rng.choice(targets, size=min(per_input, targets.size), replace=False):
            key = int(node) * graph.n_nodes + int(target)
            if key not in existing:
                existing.add(key)
                src.append(int(node))
                dst.append(int(target))
    return _finish(add_edges(graph, src, dst), rng) if src else graph


def focus_inputs(graph: LayeredGraph, rng: np.random.Generator, importance=None,
                 fraction: float = FOCUS_FRACTION) -> LayeredGraph:
    """Move a share of the input layer's connections from weak inputs to strong ones: the moved
    edges leave the weakest inputs and, keeping their targets, start at inputs drawn in proportion
    to their importance.  Without a known importance, an input's connection count stands for it."""
    degree = _input_degree(graph)
    importance = _checked_importance(graph, importance)
    strength = degree.astype(float) if importance is None else np.maximum(importance, 0.0)
    from_inputs = np.flatnonzero(graph.src < graph.n_inputs)
    m = int(round(fraction * from_inputs.size))
    if m < 1 or strength.sum() <= 0:
        return graph
    # the input edges ordered by their input's strength, weakest first
    order = from_inputs[_weakest_first(strength[graph.src[from_inputs]], rng)]
    moved = order[:m]
    weights = strength / strength.sum()
    existing = set(graph.edge_keys().tolist())
    keep = np.ones(graph.n_edges, dtype=bool)
    src, dst = [], []
    for edge in moved:
        target = int(graph.dst[edge])
        for source in rng.choice(graph.n_inputs, size=8, p=weights):
            key = int(source) * graph.n_nodes + target
            if key not in existing and strength[source] > strength[graph.src[edge]]:
                existing.add(key)
                keep[edge] = False
                src.append(int(source))
                dst.append(target)
                break
    if not src:
        return graph
    return _finish(add_edges(remove_edges(graph, ~keep), src, dst), rng)


def set_input_density(graph: LayeredGraph, density: float, rng: np.random.Generator) -> LayeredGraph:
    """``graph`` with each neuron that reads inputs reading ``round(density · inputs)`` of them (at
    least one): extra input edges removed at random, missing ones added from random inputs."""
    if not 0.0 < density <= 1.0:
        raise ConfigError(f"input_density must lie in (0, 1], got {density}")
    want = max(1, int(round(density * graph.n_inputs)))
    from_inputs = graph.src < graph.n_inputs
    readers = np.unique(graph.dst[from_inputs])
    drop = np.zeros(graph.n_edges, dtype=bool)
    src, dst = [], []
    for node in readers:
        edges = np.flatnonzero(from_inputs & (graph.dst == node))
        if edges.size > want:
            drop[rng.choice(edges, size=edges.size - want, replace=False)] = True
        elif edges.size < want:
            free = np.setdiff1d(np.arange(graph.n_inputs), graph.src[edges])
            chosen = rng.choice(free, size=want - edges.size, replace=False)
            src += chosen.tolist()
            dst += [int(node)] * chosen.size
    if not drop.any() and not src:
        return graph
    return _finish(add_edges(remove_edges(graph, drop), src, dst), rng)


MUTATIONS = Registry("mutation", {
    "add-edge": add_edge,
    "remove-edge": remove_edge,
    "rewire-edge": rewire_edge,
    "add-neuron": add_neuron,
    "remove-neuron": remove_neuron,
    "insert-subgraph": insert_subgraph,
    "insert-motif": insert_motif,
    "remove-motif": remove_motif,
    "add-layer": add_layer,
    "remove-layer": remove_layer,
    "resize-layer": resize_layer,
    "scale-density": scale_density,
    "resample-block": resample_block,
    "rewire-fraction": rewire_fraction,
    "drop-inputs": drop_inputs,
    "add-inputs": add_inputs,
    "focus-inputs": focus_inputs,
})


# ------------------------------------------------------------------------------ crossovers


def _induced(graph: LayeredGraph, keep_hidden: np.ndarray) -> LayeredGraph:
    drop = np.setdiff1d(graph.hidden_nodes(), keep_hidden)
    return remove_nodes(graph, drop) if drop.size else graph


def _graft(host: LayeredGraph, donor: LayeredGraph, donor_hidden: np.ndarray) -> LayeredGraph:
    """Add ``donor_hidden`` neurons (with the donor's edges among them and to its inputs and
    outputs) into ``host``, keeping their donor layers (the host grows deeper if needed)."""
    donor_hidden = np.sort(donor_hidden)
    if donor_hidden.size == 0:
        return host
    grown, new_ids = add_hidden_nodes(host, donor.layers[donor_hidden])
    if grown.tags is not None and donor.tags is not None:  # the grafted neurons are the donor's
        tags = grown.tags.copy()
        tags[new_ids] = donor.tags[donor_hidden]
        grown = grown.with_tags(tags)
    mapping = np.full(donor.n_nodes, -1, dtype=np.int64)
    mapping[: donor.n_inputs] = np.arange(donor.n_inputs)
    mapping[donor_hidden] = new_ids
    mapping[donor.n_nodes - donor.n_outputs :] = grown.output_nodes()
    keep = (mapping[donor.src] >= 0) & (mapping[donor.dst] >= 0)
    return add_edges(grown, mapping[donor.src[keep]], mapping[donor.dst[keep]])


def _check_compatible(a: LayeredGraph, b: LayeredGraph) -> None:
    if a.n_inputs != b.n_inputs or a.n_outputs != b.n_outputs:
        raise ConfigError("crossover parents must have the same inputs and outputs")


def longest_path_hidden(graph: LayeredGraph) -> np.ndarray:
    """Hidden neurons of a longest input→output path (by number of edges), via DP on the DAG."""
    n = graph.n_nodes
    forward = graph.layers[graph.dst] > graph.layers[graph.src]
    src, dst = graph.src[forward], graph.dst[forward]
    best = np.full(n, -1, dtype=np.int64)
    best[: graph.n_inputs] = 0
    parent = np.full(n, -1, dtype=np.int64)
    order = np.argsort(graph.layers[src], kind="stable")
    for layer in range(graph.output_layer + 1):
        sel = order[graph.layers[src[order]] == layer]
        for u, v in zip(src[sel].tolist(), dst[sel].tolist(), strict=True):
            if best[u] >= 0 and best[u] + 1 > best[v]:
                best[v], parent[v] = best[u] + 1, u
    outputs = graph.output_nodes()
    node = int(outputs[np.argmax(best[outputs])])
    path = []
    while parent[node] >= 0:
        node = int(parent[node])
        path.append(node)
    path = np.array(path[::-1], dtype=np.int64)
    return path[path >= graph.n_inputs]


def subpath_swap(a: LayeredGraph, b: LayeredGraph, rng: np.random.Generator) -> tuple[LayeredGraph, LayeredGraph]:
    """Longest-simple-subpath swap (Stier et al. 2021): each child loses its longest input→output
    path's hidden neurons and receives the other parent's longest path instead."""
    _check_compatible(a, b)
    path_a, path_b = longest_path_hidden(a), longest_path_hidden(b)
    child_a = _graft(_induced(a, np.setdiff1d(a.hidden_nodes(), path_a)), b, path_b)
    child_b = _graft(_induced(b, np.setdiff1d(b.hidden_nodes(), path_b)), a, path_a)
    return _finish(child_a, rng), _finish(child_b, rng)


def _bridge_layer(graph: LayeredGraph, rng: np.random.Generator) -> int:
    """A cut: the last hidden layer kept before the swap.  Cuts just before the deeper end of a
    bridge (an edge whose removal disconnects the undirected graph) are preferred; without
    bridges any hidden layer may be the cut."""
    hidden_layers = set(range(1, graph.output_layer))
    undirected = nx.Graph(list(zip(graph.src.tolist(), graph.dst.tolist(), strict=True)))
    cuts = {int(max(graph.layers[u], graph.layers[v])) - 1 for u, v in nx.bridges(undirected)}
    pool = sorted(cuts & hidden_layers) or sorted(hidden_layers)
    return int(rng.choice(pool))


def bridge_crossover(a: LayeredGraph, b: LayeredGraph, rng: np.random.Generator) -> tuple[LayeredGraph, LayeredGraph]:
    """Bridge crossover (Stier et al. 2021): cut each parent at a layer entered by a bridge and
    swap what follows — child A keeps A's layers up to its cut and takes B's layers after B's cut
    (shifted to follow), and vice versa; edges across the seam are reconnected by repair."""
    _check_compatible(a, b)
    if a.n_hidden_layers < 1 or b.n_hidden_layers < 1:
        return a, b
    cut_a, cut_b = _bridge_layer(a, rng), _bridge_layer(b, rng)
    return (_finish(_splice(a, cut_a, b, cut_b), rng), _finish(_splice(b, cut_b, a, cut_a), rng))


def _splice(head: LayeredGraph, cut_head: int, tail: LayeredGraph, cut_tail: int) -> LayeredGraph:
    """Hidden layers 1…cut_head of ``head`` followed by hidden layers > cut_tail of ``tail``."""
    kept = head.hidden_nodes()[head.layers[head.hidden_nodes()] <= cut_head]
    base = _induced(head, kept)
    taken = tail.hidden_nodes()[tail.layers[tail.hidden_nodes()] > cut_tail]
    if taken.size == 0:
        return base
    # renumber the tail's layers to follow the head's cut; its edges from the dropped part vanish
    layers = tail.layers.copy()
    hidden = np.arange(tail.n_inputs, tail.n_nodes - tail.n_outputs)
    layers[hidden] = np.maximum(layers[hidden] - cut_tail + cut_head, 0)
    return _graft(base, tail.with_layers(layers), taken)


def matching_layers(a: LayeredGraph, b: LayeredGraph, rng: np.random.Generator) -> tuple[LayeredGraph, LayeredGraph]:
    """Matching-layers crossover (Stier et al. 2021): for every hidden layer index present in both
    parents, child A takes the layer from A or B with equal probability (child B the other), and
    each child keeps the edges among the layers it took."""
    _check_compatible(a, b)
    shared = min(a.n_hidden_layers, b.n_hidden_layers)
    if shared < 1:
        return a, b
    from_b = rng.random(shared) < 0.5

    def child(first: LayeredGraph, second: LayeredGraph, swap: np.ndarray) -> LayeredGraph:
        hidden = first.hidden_nodes()
        layers = first.layers[hidden]
        keep = hidden[~((layers <= shared) & swap[np.minimum(layers, shared) - 1])]
        take = second.hidden_nodes()
        take = take[(second.layers[take] <= shared) & swap[np.minimum(second.layers[take], shared) - 1]]
        return _finish(_graft(_induced(first, keep), second, take), rng)

    return child(a, b, from_b), child(b, a, from_b)


CROSSOVERS = Registry("crossover", {
    "subpath-swap": subpath_swap,
    "bridge": bridge_crossover,
    "matching-layers": matching_layers,
})


def mutation(name: str):
    """The mutation registered as ``name``."""
    return MUTATIONS.lookup(name)


def crossover(name: str):
    """The crossover registered as ``name``."""
    return CROSSOVERS.lookup(name)
