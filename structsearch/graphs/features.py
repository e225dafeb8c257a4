"""Graph features of a genotype: one flat dict with stable names, for performance prediction.

The 23 features of Stier et al. (2021), computed on the whole network (inputs, hidden, outputs):

* ``layers`` (all layers, input and output included), ``nodes``, ``edges``, ``source_nodes``
  (hidden neurons fed by inputs only), ``sink_nodes`` (hidden neurons feeding outputs only),
  ``density`` (directed: E / N(N−1));
* on the undirected graph: ``diameter``, ``average_shortest_path_length`` and the eccentricity
  statistics over its largest connected component; mean, variance and standard deviation of
  ``eccentricity``, ``degree_centrality``, ``closeness`` (Wasserman–Faust, as networkx),
  ``betweenness`` and ``edge_betweenness`` (normalised as networkx does).

Plus: hidden-layer width statistics, per-layer-pair density statistics, the skip-edge fraction,
the longest and shortest input→output path, the log of the number of input→output paths, the
layer mass mean and standard deviation (where along the depth hidden neurons sit, 0 = inputs,
1 = outputs), and the motif counts of :mod:`structsearch.motifs`.

Distances come from scipy's breadth-first search; both betweenness centralities from Brandes'
dependency accumulation run for all BFS sources at once, level by level, as dense (sources ×
nodes) arrays times the sparse adjacency.  Graphs with more than ``max_exact_nodes`` nodes use
``samples`` random sources instead of all of them (estimates, scaled as networkx scales its ``k``
samples); :func:`compute_features` returns that sample size in its metadata.  Path statistics are
exact at any size (dynamic programming on the DAG).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from structsearch.graphs.layered import LayeredGraph
from structsearch.graphs.motif_catalogue import count_motifs

_CENTRALITIES = ("eccentricity", "degree_centrality", "closeness", "betweenness", "edge_betweenness")

STIER_FEATURES = [
    "layers", "nodes", "edges", "source_nodes", "sink_nodes", "diameter", "density",
    "average_shortest_path_length",
    *[f"{name}_{stat}" for name in _CENTRALITIES for stat in ("mean", "var", "std")],
]
EXTRA_FEATURES = [
    "hidden_layers", "hidden_nodes", "width_mean", "width_std", "width_min", "width_max",
    "layer_density_mean", "layer_density_std", "skip_edge_fraction", "longest_path",
    "shortest_path", "log_paths", "layer_mass_mean", "layer_mass_std",
    "motif_v", "motif_fan_out", "motif_bi_fan", "motif_chain", "motif_ffl_skip",
]
FEATURE_NAMES = STIER_FEATURES + EXTRA_FEATURES


def feature_names() -> list[str]:
    """The names :func:`graph_features` returns for a layered genotype, in a stable order (each
    genotype family lists its own: ``FAMILIES[kind].feature_names()``)."""
    return list(FEATURE_NAMES)


def graph_features(graph: LayeredGraph, **options) -> dict[str, float]:
    """All graph features of a layered genotype: the 23 of Stier et al. (2021) plus layer, path and
    motif statistics (a genotype of any family: ``family_of(genotype).features(genotype)``).

    Parameters
    ----------
    graph : LayeredGraph
        The genotype.
    **options
        ``max_exact_nodes`` (above it, distance features are estimated from ``samples`` BFS
        sources drawn with ``seed``).

    Returns
    -------
    dict of str to float
        Feature name → value (``feature_names()`` lists them in column order).

    References
    ----------
    Stier, Darji & Granitzer (2021), arXiv:2107.12917, Table 1.
    """
    return compute_features(graph, **options)[0]


def compute_features(graph: LayeredGraph, max_exact_nodes: int = 500, samples: int = 64,
                     seed: int = 0) -> tuple[dict[str, float], dict]:
    """(features, metadata) of a layered genotype; metadata says whether distance features are exact
    and the samples. (Each genotype family computes its own: ``family.features(genotype)``.)"""
    if not isinstance(graph, LayeredGraph):
        raise TypeError(f"compute_features takes a layered genotype, got a {type(graph).__name__}; "
                        "use its family's features (structsearch.families.family_of(genotype).features)")
    n = graph.n_nodes
    values: dict[str, float] = {}
    values["layers"] = float(graph.output_layer + 1)
    values["nodes"] = float(n)
    values["edges"] = float(graph.n_edges)
    values.update(_sources_and_sinks(graph))
    values["density"] = graph.n_edges / (n * (n - 1)) if n > 1 else 0.0
    exact = n <= max_exact_nodes
    sources = np.arange(n) if exact else np.sort(
        np.random.default_rng(seed).choice(n, min(samples, n), replace=False))
    values.update(_distance_features(graph, sources, exact))
    values.update(_layer_features(graph))
    values.update(_path_features(graph))

    for name, count in count_motifs(graph).items():
        values[f"motif_{name.replace('-', '_')}"] = float(count)
    meta = {"exact": bool(exact), "bfs_sources": int(sources.size), "nodes": n}
    return {name: float(values[name]) for name in FEATURE_NAMES}, meta


def _stats(prefix: str, array: np.ndarray) -> dict[str, float]:
    if array.size == 0:
        return {f"{prefix}_mean": 0.0, f"{prefix}_var": 0.0, f"{prefix}_std": 0.0}
    return {f"{prefix}_mean": float(array.mean()), f"{prefix}_var": float(array.var()),
            f"{prefix}_std": float(array.std())}


def _sources_and_sinks(graph: LayeredGraph) -> dict[str, float]:
    hidden = np.zeros(graph.n_nodes, dtype=bool)
    hidden[graph.hidden_nodes()] = True
    from_hidden = np.zeros(graph.n_nodes, dtype=bool)
    from_hidden[graph.dst[hidden[graph.src]]] = True
    to_hidden = np.zeros(graph.n_nodes, dtype=bool)
    to_hidden[graph.src[hidden[graph.dst]]] = True
    return {"source_nodes": float((hidden & ~from_hidden).sum()),
            "sink_nodes": float((hidden & ~to_hidden).sum())}


def _undirected_csr(graph: LayeredGraph) -> sp.csr_matrix:
    n = graph.n_nodes
    keep = graph.src != graph.dst
    rows = np.concatenate([graph.src[keep], graph.dst[keep]])
    cols = np.concatenate([graph.dst[keep], graph.src[keep]])
    matrix = sp.csr_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n, n))
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


def brandes(matrix: sp.csr_matrix, sources: np.ndarray):
    """Shortest paths and Brandes dependencies from each of ``sources``, all sources at once.

    Distances come from scipy's BFS; path counts σ and dependencies δ (Brandes 2001) are then
    propagated level by level for every source together, as (sources × nodes) arrays times the
    sparse adjacency.  Returns the distance matrix (sources × nodes, −1 when unreachable), the
    raw node betweenness summed over the sources, and a function giving the raw betweenness of
    edges (u, v).
    """
    adjacency = matrix.astype(np.float64)
    distance = sp.csgraph.shortest_path(matrix, unweighted=True, indices=sources, directed=False)
    distance = np.where(np.isfinite(distance), distance, -1).astype(np.int64)
    depth = int(distance.max(initial=0))
    sigma = np.zeros(distance.shape)
    sigma[np.arange(sources.size), sources] = 1.0
    level = [distance == d for d in range(depth + 1)]
    for d in range(1, depth + 1):
        sigma += (adjacency @ (sigma * level[d - 1]).T).T * level[d]
    delta = np.zeros(distance.shape)
    safe_sigma = np.where(sigma > 0, sigma, 1.0)
    for d in range(depth, 0, -1):
        x = level[d] * (1.0 + delta) / safe_sigma
        delta += sigma * level[d - 1] * (adjacency @ x.T).T
    weight = (1.0 + delta) / safe_sigma  # the X of the edge formula

    def edge_betweenness(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        forward = (distance[:, v] - distance[:, u] == 1) & (distance[:, u] >= 0)
        backward = (distance[:, u] - distance[:, v] == 1) & (distance[:, v] >= 0)
        return (sigma[:, u] * weight[:, v] * forward).sum(0) + (sigma[:, v] * weight[:, u] * backward).sum(0)

    delta[np.arange(sources.size), sources] = 0.0
    return distance, delta.sum(0), edge_betweenness


def _distance_features(graph: LayeredGraph, sources: np.ndarray, exact: bool) -> dict[str, float]:
    n = graph.n_nodes
    matrix = _undirected_csr(graph)
    degree = np.diff(matrix.indptr)
    values = _stats("degree_centrality", degree / (n - 1) if n > 1 else np.zeros(n))
    distance, node_bc, edge_betweenness = brandes(matrix, sources)
    reached = (distance > 0).sum(1)
    dist_sum = np.where(distance > 0, distance, 0).sum(1).astype(float)
    ecc = distance.max(1)
    # eccentricity, diameter and mean distance over the largest connected component
    _, component = sp.csgraph.connected_components(matrix, directed=False)
    largest = np.bincount(component).argmax()
    in_largest = component[sources] == largest
    values.update(_stats("eccentricity", ecc[in_largest].astype(float)))
    values["diameter"] = float(ecc[in_largest].max(initial=0))
    pairs = reached[in_largest].sum()
    values["average_shortest_path_length"] = float(dist_sum[in_largest].sum() / pairs) if pairs else 0.0
    # closeness (Wasserman–Faust improved formula, as networkx) for the BFS sources
    with np.errstate(divide="ignore", invalid="ignore"):
        closeness = np.where(dist_sum > 0, (reached / dist_sum) * (reached / max(n - 1, 1)), 0.0)
    values.update(_stats("closeness", closeness))
    scale = n / sources.size  # networkx's scaling of k sampled sources
    node_scale = scale / ((n - 1) * (n - 2)) if n > 2 else 0.0
    values.update(_stats("betweenness", node_bc * node_scale))
    upper = sp.triu(matrix, k=1).tocoo()
    edge_scale = scale / (n * (n - 1)) if n > 1 else 0.0
    values.update(_stats("edge_betweenness", edge_betweenness(upper.row, upper.col) * edge_scale))
    return values


def _layer_features(graph: LayeredGraph) -> dict[str, float]:
    widths = np.asarray(graph.hidden_widths(), dtype=float)
    all_widths = np.asarray(graph.layer_widths(), dtype=float)
    src_layer, dst_layer = graph.layers[graph.src], graph.layers[graph.dst]
    adjacent = dst_layer - src_layer == 1
    counts = np.bincount(src_layer[adjacent], minlength=graph.output_layer)[: graph.output_layer]
    pair_density = counts / (all_widths[:-1] * all_widths[1:])
    depth = graph.output_layer
    hidden_layers = graph.layers[graph.hidden_nodes()] / depth if depth else np.zeros(0)
    return {
        "hidden_layers": float(graph.n_hidden_layers),
        "hidden_nodes": float(graph.n_hidden),
        "width_mean": float(widths.mean()) if widths.size else 0.0,
        "width_std": float(widths.std()) if widths.size else 0.0,
        "width_min": float(widths.min()) if widths.size else 0.0,
        "width_max": float(widths.max()) if widths.size else 0.0,
        "layer_density_mean": float(pair_density.mean()),
        "layer_density_std": float(pair_density.std()),
        "skip_edge_fraction": float(graph.skip_edges().mean()) if graph.n_edges else 0.0,
        "layer_mass_mean": float(hidden_layers.mean()) if hidden_layers.size else 0.0,
        "layer_mass_std": float(hidden_layers.std()) if hidden_layers.size else 0.0,
    }


def _path_features(graph: LayeredGraph) -> dict[str, float]:
    """Longest/shortest input→output path (edges) and log #paths, by DP over layers."""
    n = graph.n_nodes
    forward = graph.layers[graph.dst] > graph.layers[graph.src]
    src, dst = graph.src[forward], graph.dst[forward]
    longest = np.full(n, -np.inf)
    shortest = np.full(n, np.inf)
    log_paths = np.full(n, -np.inf)
    longest[: graph.n_inputs] = shortest[: graph.n_inputs] = log_paths[: graph.n_inputs] = 0.0
    src_layer = graph.layers[src]
    for layer in range(graph.output_layer):
        sel = src_layer == layer
        u, v = src[sel], dst[sel]
        np.maximum.at(longest, v, longest[u] + 1)
        np.minimum.at(shortest, v, shortest[u] + 1)
        np.logaddexp.at(log_paths, v, log_paths[u])
    outputs = graph.output_nodes()
    reachable = np.isfinite(shortest[outputs])
    if not reachable.any():
        return {"longest_path": 0.0, "shortest_path": 0.0, "log_paths": 0.0}
    return {
        "longest_path": float(longest[outputs][reachable].max()),
        "shortest_path": float(shortest[outputs][reachable].min()),
        "log_paths": float(np.logaddexp.reduce(log_paths[outputs][reachable])),
    }
