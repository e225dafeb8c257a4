"""Motif census against a degree-preserving null model, signed motifs and structural balance.

**Census** (Milo et al. 2002): count every catalogue motif in a layered graph and in N random
graphs that keep, for every pair of layers, every neuron's in- and out-degree within that pair;
report the count, the null mean and standard deviation, the z-score (count − mean) / std and the
empirical p-value (1 + #null counts ≥ count) / (N + 1) of over-representation.

The null graphs are drawn per layer-pair block: the targets of the block's edges are permuted
(which keeps every degree) and repeated edges are then removed by swapping the targets of a
repeated edge and a random edge of the block (which keeps the degrees too) until none is left.
A block too dense to be randomised this way (after 200 rounds) is kept as it is, and reported.
Because this null keeps the degrees of every layer pair, the ``v``, ``fan-out`` and ``chain``
counts (functions of those degrees alone) are the same in every null graph: their z-score is 0 by
construction, and ``bi-fan`` and ``ffl-skip`` are the motifs the census can find over- or
under-represented.

**Signed motifs**: for trained weights, counts of each motif by its sign pattern, and the
structural-balance score — the share of balanced signed triads (``ffl-skip``: the product of its
three signs is positive) and bi-fans (the product of its four signs is positive) among all of
them (Zhang et al. 2023).  All counts use sparse matrix algebra on the layer blocks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from structsearch.errors import ConfigError, DataError
from structsearch.graphs.layered import LayeredGraph
from structsearch.graphs.motif_catalogue import (  # noqa: F401 (load_census, motif_mix re-exported)
    CENSUS_FORMAT,
    MOTIFS,
    count_motifs,
    load_census,
    motif_mix,
)

# ------------------------------------------------------------------------------ the null model


def _randomise_block(src: np.ndarray, dst: np.ndarray, n: int, rng: np.random.Generator,
                     rounds: int = 200) -> tuple[np.ndarray, bool]:
    """New targets for one block's edges with every degree kept and no repeated edge."""
    if src.size < 2 or src.size == np.unique(src).size * np.unique(dst).size:
        return dst, True  # one edge, or complete between its nodes: the only graph with these degrees
    new = rng.permutation(dst)
    for _ in range(rounds):
        keys = src * n + new
        _, first = np.unique(keys, return_index=True)
        repeated = np.setdiff1d(np.arange(keys.size), first, assume_unique=True)
        if repeated.size == 0:
            return new, True
        others = np.setdiff1d(np.arange(keys.size), repeated, assume_unique=True)
        if others.size == 0:
            break
        take = min(repeated.size, others.size)  # distinct partners: every exchange is a true swap
        moving = rng.permutation(repeated)[:take]
        partners = rng.choice(others, take, replace=False)
        new[moving], new[partners] = new[partners], new[moving].copy()
    return dst, False


def null_graph(graph: LayeredGraph, rng: np.random.Generator) -> tuple[LayeredGraph, int]:
    """A degree-preserving randomisation of ``graph`` within every layer pair; also the number of
    blocks that were too dense to randomise (kept as they are)."""
    layers = graph.layers
    src, dst = graph.src.astype(np.int64), graph.dst.astype(np.int64)
    block = layers[src] * (int(layers.max(initial=0)) + 1) + layers[dst]
    new_dst = dst.copy()
    frozen = 0
    for key in np.unique(block):
        where = np.flatnonzero(block == key)
        targets, ok = _randomise_block(src[where], dst[where], graph.n_nodes, rng)
        new_dst[where] = targets
        frozen += not ok
    return graph.with_edges(src, new_dst), frozen


# ------------------------------------------------------------------------------ the census


def census(graph: LayeredGraph, samples: int = 100, seed: int = 0) -> dict:
    """Counts, null mean/std, z-scores and p-values of every catalogue motif (see the module docstring)."""
    if samples < 1:
        raise ConfigError(f"the null model needs N ≥ 1 samples, got {samples}")
    rng = np.random.default_rng(seed)
    counts = count_motifs(graph)
    null = {name: np.empty(samples) for name in MOTIFS}
    frozen = 0
    for index in range(samples):
        randomised, stuck = null_graph(graph, rng)
        frozen = max(frozen, stuck)
        for name, value in count_motifs(randomised).items():
            null[name][index] = value
    motifs = {}
    for name, count in counts.items():
        mean, std = float(null[name].mean()), float(null[name].std(ddof=1)) if samples > 1 else 0.0
        z = (count - mean) / std if std > 0 else (0.0 if count == mean else float("inf") * np.sign(count - mean))
        motifs[name] = {"count": int(count), "null_mean": mean, "null_std": std, "z": float(z),
                        "p_value": float((1 + np.sum(null[name] >= count)) / (samples + 1))}
    return {"format": CENSUS_FORMAT, "catalogue": list(MOTIFS), "samples": samples, "seed": seed,
            "edges": graph.n_edges, "nodes": graph.n_nodes, "frozen_blocks": frozen, "motifs": motifs}


def save_census(result: dict, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


# ------------------------------------------------------------------------------ signed motifs


def _signed_adjacency(graph: LayeredGraph, weights: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (graph.n_edges,):
        raise DataError(f"need one weight per edge ({graph.n_edges}), got shape {weights.shape}")
    n = graph.n_nodes
    sign = np.sign(weights)
    sign[sign == 0] = 1.0
    adjacency = sp.csr_matrix((np.ones(graph.n_edges), (graph.src, graph.dst)), shape=(n, n))
    signed = sp.csr_matrix((sign, (graph.src, graph.dst)), shape=(n, n))
    return adjacency, signed


def signed_motifs(graph: LayeredGraph, weights: np.ndarray) -> dict:
    """Counts by sign pattern and the structural-balance score (see the module docstring)."""
    layers = graph.layers
    src, dst = graph.src.astype(np.int64), graph.dst.astype(np.int64)
    positive = np.asarray(weights) >= 0
    L = int(layers.max(initial=0)) + 1
    result: dict[str, dict] = {}
    for name, group, other in (("v", dst, src), ("fan-out", src, dst)):
        inverse = np.unique(group * L + layers[other], return_inverse=True)[1]
        p = np.bincount(inverse, weights=positive.astype(float))
        t = np.bincount(inverse).astype(float)
        q = t - p
        result[name] = {
            "++": int((p * (p - 1) / 2).sum()),
            "+-": int((p * q).sum()),
            "--": int((q * (q - 1) / 2).sum()),
        }
    adjacent = layers[dst] - layers[src] == 1
    n = graph.n_nodes
    chain = {}
    for a, first in (("+", positive), ("-", ~positive)):
        into = np.bincount(dst[adjacent & first], minlength=n)
        for b, second in (("+", positive), ("-", ~positive)):
            out = np.bincount(src[adjacent & second], minlength=n)
            chain[a + b] = int((into * out).sum())
    result["chain"] = chain
    adjacency, signed = _signed_adjacency(graph, weights)
    triads = float((adjacency @ adjacency).multiply(adjacency).sum())
    signed_triads = float((signed @ signed).multiply(signed).sum())
    result["ffl-skip"] = {"balanced": int(round((triads + signed_triads) / 2)),
                          "unbalanced": int(round((triads - signed_triads) / 2))}
    bifans = signed_bifans = 0.0
    by_column, signed_columns = adjacency.tocsc(), signed.tocsc()
    for b in np.unique(layers[dst]):
        columns = np.flatnonzero(layers == b)
        shared = sp.triu(by_column[:, columns] @ by_column[:, columns].T, k=1).tocoo()
        products = sp.triu(signed_columns[:, columns] @ signed_columns[:, columns].T, k=1).tocsr()
        same = layers[shared.row] == layers[shared.col]
        if not same.any():
            continue
        k = shared.data[same]
        w = np.asarray(products[shared.row[same], shared.col[same]]).ravel()
        bifans += float((k * (k - 1) / 2).sum())
        signed_bifans += float(((w * w - k) / 2).sum())
    result["bi-fan"] = {"balanced": int(round((bifans + signed_bifans) / 2)),
                        "unbalanced": int(round((bifans - signed_bifans) / 2))}
    total = triads + bifans
    balanced = result["ffl-skip"]["balanced"] + result["bi-fan"]["balanced"]
    result["balance"] = float(balanced / total) if total else float("nan")
    return result


# ------------------------------------------------------------------------------ models


def graph_of_model(model) -> tuple[LayeredGraph, np.ndarray]:
    """The current connectivity of a sparse MLP as a layered graph, with one weight per edge."""
    if not hasattr(model, "layer_sizes") or not hasattr(model, "sources") or hasattr(model, "recurrent"):
        raise ConfigError("a motif census needs a sparse MLP (SparseMLP)")
    sizes = list(model.layer_sizes)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    src, dst, weights = [], [], []
    for target, (layer, sources) in enumerate(zip(model.layers, model.sources, strict=True), start=1):
        rows, cols = (t.cpu().numpy().astype(np.int64) for t in layer.connections())
        starts = np.concatenate([[0], np.cumsum([sizes[s] for s in sources])])
        which = np.searchsorted(starts, cols, side="right") - 1
        source_layer = np.asarray(sources)[which]
        src.append(offsets[source_layer] + cols - starts[which])
        dst.append(offsets[target] + rows)
        weights.append(layer.values.detach().cpu().numpy())
    layers = np.repeat(np.arange(len(sizes)), sizes)
    graph = LayeredGraph(sizes[0], sizes[-1], layers, np.concatenate(src), np.concatenate(dst))
    return graph, np.concatenate(weights).astype(np.float64)
