"""Graph features of a convolutional genotype for the performance predictor (after Stier et al.
2021, §4.4, whose predictor learned from 56 such features).

The stages are read as one DAG: every sink of a stage feeds the next stage's input vertex.
- **layer mass** of a vertex: its channels × the sum of its predecessors' channels; mean and
  standard deviation over the vertices;
- **paths per operation type**: over the paths from the network's input to its output, the fewest,
  the most and the expected number (a forward random walk, each successor equally likely) of
  vertices with that operation;
- depth (the longest path, in vertices), vertex and edge counts;
- on the undirected graph: betweenness (mean, max), eccentricity (mean, max), closeness (mean),
  average neighbour degree (mean) and degree (mean, standard deviation);
- operation counts and the decoded model's parameter count.

A 40-vertex genotype takes a few milliseconds (``tests/test_cnn.py`` holds it under 50 ms).
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from structsearch.graphs.cnn import OPERATIONS, ConvGenotype, parameter_count

_PATH_STATS = ("fewest", "most", "expected")


def cnn_feature_names() -> list[str]:
    names = ["cnn_mass_mean", "cnn_mass_std", "cnn_depth", "cnn_vertices", "cnn_edges", "cnn_stages",
             "cnn_betweenness_mean", "cnn_betweenness_max", "cnn_eccentricity_mean", "cnn_eccentricity_max",
             "cnn_closeness_mean", "cnn_neighbour_degree_mean", "cnn_degree_mean", "cnn_degree_std",
             "cnn_parameters"]
    names += [f"cnn_path_{op}_{stat}" for op in OPERATIONS for stat in _PATH_STATS]
    names += [f"cnn_count_{op}" for op in OPERATIONS]
    return names


def _chained(genotype: ConvGenotype) -> tuple[list[str], np.ndarray, list[tuple[int, int]]]:
    """Operations, channels and edges of all stages as one DAG in topological order."""
    ops: list[str] = []
    channels: list[int] = []
    edges: list[tuple[int, int]] = []
    previous_sinks: list[int] = []
    for stage in genotype.stages:
        offset = len(ops)
        ops += stage.ops
        channels += stage.channels.tolist()
        edges += [(u + offset, v + offset) for u, v in zip(stage.src.tolist(), stage.dst.tolist(), strict=True)]
        edges += [(s, offset) for s in previous_sinks]
        previous_sinks = [v + offset for v in stage.sinks()]
    return ops, np.array(channels, dtype=float), edges


def cnn_features(genotype: ConvGenotype) -> dict[str, float]:
    ops, channels, edges = _chained(genotype)
    n = len(ops)
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges:
        preds[v].append(u)
        succs[u].append(v)
    mass = np.array([channels[v] * sum(channels[u] for u in preds[v]) for v in range(n) if preds[v]])
    features = {"cnn_mass_mean": float(mass.mean()), "cnn_mass_std": float(mass.std()),
                "cnn_vertices": float(n), "cnn_edges": float(len(edges)), "cnn_stages": float(len(genotype.stages)),
                "cnn_parameters": float(parameter_count(genotype))}
    # paths from vertex 0 to the sinks of the last stage, vertex ids topological
    depth = np.zeros(n)
    reach = np.zeros(n)  # probability that a forward random walk from the input passes the vertex
    reach[0] = 1.0
    for v in range(n):
        if preds[v]:
            depth[v] = 1 + max(depth[u] for u in preds[v])
        for w in succs[v]:
            reach[w] += reach[v] / len(succs[v])
    features["cnn_depth"] = float(depth.max() + 1)
    for op in OPERATIONS:
        hit = np.array([o == op for o in ops], dtype=float)
        fewest, most = hit.copy(), hit.copy()
        for v in range(n):
            if preds[v]:
                fewest[v] = hit[v] + min(fewest[u] for u in preds[v])
                most[v] = hit[v] + max(most[u] for u in preds[v])
        ends = [v for v in range(n) if not succs[v]]
        features[f"cnn_path_{op}_fewest"] = float(min(fewest[v] for v in ends))
        features[f"cnn_path_{op}_most"] = float(max(most[v] for v in ends))
        features[f"cnn_path_{op}_expected"] = float((reach * hit).sum())
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(edges)
    betweenness = np.array(list(nx.betweenness_centrality(graph).values()))
    eccentricity = np.array(list(nx.eccentricity(graph).values()), dtype=float)
    closeness = np.array(list(nx.closeness_centrality(graph).values()))
    neighbour = np.array(list(nx.average_neighbor_degree(graph).values()))
    degree = np.array([d for _, d in graph.degree()], dtype=float)
    features.update({"cnn_betweenness_mean": float(betweenness.mean()), "cnn_betweenness_max": float(betweenness.max()),
                     "cnn_eccentricity_mean": float(eccentricity.mean()),
                     "cnn_eccentricity_max": float(eccentricity.max()), "cnn_closeness_mean": float(closeness.mean()),
                     "cnn_neighbour_degree_mean": float(neighbour.mean()), "cnn_degree_mean": float(degree.mean()),
                     "cnn_degree_std": float(degree.std())})
    for op, count in genotype.operation_counts().items():
        features[f"cnn_count_{op}"] = float(count)
    return {name: features[name] for name in cnn_feature_names()}
