import json

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from structsearch.errors import ConfigError, DataError
from structsearch.graphs import (
    InvalidGraph,
    LayeredGraph,
    barabasi_albert,
    configuration_model,
    erdos_renyi,
    motif_composed,
    prior,
    repair,
    watts_strogatz,
)
from structsearch.graphs.dag import embed, layer_index, orient
from structsearch.graphs.features import compute_features, feature_names, graph_features
from structsearch.graphs.operators import CROSSOVERS, MUTATIONS, crossover, mutation
from structsearch.motifs import count_motifs, motif
from structsearch.nn.mlp import SparseMLP

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def priors(draw):
    """A graph from a random prior with random (small) parameters."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["er", "ws", "ba", "cm", "motif"]))
    n_in, n_out = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    if kind == "er":
        hidden = draw(st.lists(st.integers(1, 12), min_size=0, max_size=4))
        return erdos_renyi([n_in, *hidden, n_out], draw(st.floats(0.3, 5)), rng)
    if kind == "ws":
        n = draw(st.integers(3, 40))
        return watts_strogatz(n, draw(st.integers(1, n - 1)), draw(st.floats(0, 1)), rng,
                              n_inputs=n_in, n_outputs=n_out, orientation=draw(st.sampled_from(["order", "random"])),
                              input_density=draw(st.floats(0.1, 1)))
    if kind == "ba":
        n = draw(st.integers(3, 40))
        return barabasi_albert(n, draw(st.integers(1, n - 1)), rng, n_inputs=n_in, n_outputs=n_out)
    if kind == "cm":
        n = draw(st.integers(2, 20))
        out_deg = np.asarray(draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)))
        in_deg = rng.permutation(out_deg)
        return configuration_model(in_deg, out_deg, rng, n_inputs=n_in, n_outputs=n_out)
    hidden = draw(st.lists(st.integers(2, 10), min_size=1, max_size=3))
    mix = {"v": draw(st.floats(0, 2)), "bi-fan": draw(st.floats(0, 2)), "ffl-skip": 1.0, "chain": 0.5}
    return motif_composed([max(2, n_in), *hidden, max(2, n_out)], mix, draw(st.integers(1, 30)), rng)


@SETTINGS
@given(priors())
def test_every_prior_output_is_valid(graph):
    graph.validate()


@SETTINGS
@given(priors(), st.sampled_from(sorted(MUTATIONS)), st.integers(0, 2**16))
def test_mutations_are_valid_and_pure(graph, name, seed):
    before = graph.to_dict()
    child = mutation(name)(graph, np.random.default_rng(seed))
    child.validate()
    assert graph.to_dict() == before


@SETTINGS
@given(priors(), priors(), st.sampled_from(sorted(CROSSOVERS)), st.integers(0, 2**16))
def test_crossovers_are_valid_and_pure(a, b, name, seed):
    rng = np.random.default_rng(seed)
    b = (
        erdos_renyi([a.n_inputs, 5, 4, a.n_outputs], 2, rng)
        if (b.n_inputs, b.n_outputs) != (a.n_inputs, a.n_outputs)
        else b
    )
    before = (a.to_dict(), b.to_dict())
    for child in crossover(name)(a, b, rng):
        child.validate()
        assert (child.n_inputs, child.n_outputs) == (a.n_inputs, a.n_outputs)
    assert (a.to_dict(), b.to_dict()) == before


@SETTINGS
@given(st.integers(2, 40), st.floats(0.05, 0.6), st.integers(0, 2**16))
def test_layer_index_agrees_with_topological_generations(n, p, seed):
    rng = np.random.default_rng(seed)
    undirected = nx.gnp_random_graph(n, p, seed=seed)
    src, dst = orient(n, np.array(list(undirected.edges())).reshape(-1, 2), "random", rng)
    layers = layer_index(n, src, dst)
    dag = nx.DiGraph()
    dag.add_nodes_from(range(n))
    dag.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    # a node enters generation g once all its predecessors are in earlier ones: 1 + the deepest
    generations = list(nx.topological_generations(dag))
    assert int(layers.max(initial=0)) + 1 == len(generations)
    for index, generation in enumerate(generations):
        assert set(generation) == set(np.flatnonzero(layers == index).tolist())


@SETTINGS
@given(priors())
def test_serialisation_round_trips(graph):
    assert LayeredGraph.from_dict(json.loads(json.dumps(graph.to_dict()))) == graph
    assert LayeredGraph.from_bytes(graph.to_bytes()) == graph
    assert LayeredGraph.from_networkx(graph.to_networkx()) == graph


@SETTINGS
@given(priors(), st.integers(0, 2**16))
def test_hash_is_invariant_to_relabelling_hidden_neurons(graph, seed):
    rng = np.random.default_rng(seed)
    hidden = graph.hidden_nodes()
    permutation = np.arange(graph.n_nodes)
    permutation[hidden] = rng.permutation(hidden)
    relabelled = LayeredGraph(graph.n_inputs, graph.n_outputs, graph.layers[np.argsort(permutation)],
                              permutation[graph.src], permutation[graph.dst], graph.recurrent)
    assert relabelled.content_hash() == graph.content_hash()


@SETTINGS
@given(priors(), st.integers(0, 2**16))
def test_hash_changes_when_an_edge_changes(graph, seed):
    rng = np.random.default_rng(seed)
    changed = mutation("add-edge")(graph, rng)
    if changed.n_edges != graph.n_edges:
        assert changed.content_hash() != graph.content_hash()
    if graph.n_edges > 1:
        k = int(rng.integers(graph.n_edges))
        fewer = graph.with_edges(np.delete(graph.src, k), np.delete(graph.dst, k))
        assert fewer.content_hash() != graph.content_hash()


def tiny_graph():
    # inputs 0, 1; hidden 2 (layer 1), 3 (layer 1), 4 (layer 2); output 5 (layer 3)
    return LayeredGraph(2, 1, np.array([0, 0, 1, 1, 2, 3]),
                        np.array([0, 1, 1, 2, 3, 4, 0]), np.array([2, 2, 3, 4, 4, 5, 4]))


def test_validate_names_each_violation():
    good = tiny_graph().validate()
    with pytest.raises(InvalidGraph, match="backward edge 4→2"):
        good.with_edges(np.append(good.src, 4), np.append(good.dst, 2)).validate()
    with pytest.raises(InvalidGraph, match="duplicate edge 0→2"):
        good.with_edges(np.append(good.src, 0), np.append(good.dst, 2)).validate()
    with pytest.raises(InvalidGraph, match="hidden neuron 3 has no path"):
        good.with_edges(good.src[good.src != 3], good.dst[good.src != 3]).validate()
    gap = LayeredGraph(2, 1, np.array([0, 0, 1, 3, 4]), np.array([0, 2, 3]), np.array([2, 3, 4]))
    with pytest.raises(InvalidGraph, match="layer 2 is empty"):
        gap.validate()
    with pytest.raises(InvalidGraph, match="within-layer"):
        good.with_edges(np.append(good.src, 2), np.append(good.dst, 3)).validate()
    recurrent = LayeredGraph(2, 1, good.layers, np.append(good.src, 2), np.append(good.dst, 3), recurrent=True)
    recurrent.validate()


@pytest.mark.parametrize("mode", ["remove", "reconnect"])
def test_repair_modes(mode):
    good = tiny_graph()
    broken = good.with_edges(good.src[good.src != 3], good.dst[good.src != 3])  # neuron 3 feeds nothing
    fixed = repair(broken, mode, np.random.default_rng(0)).validate()
    if mode == "remove":
        assert fixed.n_hidden == 2 and fixed.n_edges == broken.n_edges - 1
    else:
        assert fixed.n_hidden == 3 and fixed.n_edges == broken.n_edges + 1
    with pytest.raises(ConfigError, match="remove, reconnect"):
        repair(broken, "bury")


def test_embedding_rule():
    rng = np.random.default_rng(0)
    # DAG 0→1, 0→2 on 3 nodes, 4 inputs and 2 outputs
    graph = embed(4, 2, 3, np.array([0, 0]), np.array([1, 2]), rng).validate()
    assert graph.layer_widths() == [4, 1, 2, 2]
    source = 4  # DAG node 0, the only source, reads every input
    assert sorted(graph.src[graph.dst == source].tolist()) == [0, 1, 2, 3]
    sinks = np.flatnonzero(graph.layers == 2)  # DAG nodes 1, 2 feed every output
    for sink in sinks:
        assert sorted(graph.dst[graph.src == sink].tolist()) == [7, 8]
    sparse_inputs = embed(10, 1, 3, np.array([0, 0]), np.array([1, 2]), rng, input_density=0.3)
    assert (sparse_inputs.dst[sparse_inputs.src < 10] == 10).sum() == 3


def test_to_blocks_decodes_exactly_one_weight_per_edge():
    graph = motif_composed([6, 8, 8, 3], {"v": 1, "ffl-skip": 1, "bi-fan": 1}, 25, np.random.default_rng(1))
    description = graph.to_blocks()
    model = SparseMLP(description)
    assert sum(model.connections_per_layer()) == graph.n_edges
    positions = graph.position_in_layer()
    widths = graph.layer_widths()
    for target, layer in enumerate(model.layers, start=1):
        dense = layer.to_dense() != 0
        into = graph.layers[graph.dst] == target
        sources = description.blocks[target - 1].sources
        offsets = dict(zip(sources, np.cumsum([0] + [widths[s] for s in sources[:-1]]), strict=True))
        expected = np.zeros_like(dense.numpy())
        for u, v in zip(graph.src[into], graph.dst[into], strict=True):
            expected[positions[v], offsets[int(graph.layers[u])] + positions[u]] = True
        assert (layer.to_dense() != 0).numpy().tolist() == expected.tolist()
    assert model(torch.randn(4, 6)).shape == (4, 3)


def test_features_of_a_hand_made_graph():
    graph = tiny_graph()
    features, meta = compute_features(graph)
    assert meta["exact"] and set(features) == set(feature_names())
    assert features["layers"] == 4 and features["nodes"] == 6 and features["edges"] == 7
    assert (
        features["source_nodes"] == 2 and features["sink_nodes"] == 1
    )  # 2, 3 read inputs only; 4 feeds the output only
    assert features["skip_edge_fraction"] == pytest.approx(1 / 7)  # 0→4 skips layer 1
    assert features["longest_path"] == 3 and features["shortest_path"] == 2
    # input→output paths: 0-2-4-5, 1-2-4-5, 1-3-4-5, 0-4-5
    assert features["log_paths"] == pytest.approx(np.log(4))
    undirected = graph.to_networkx().to_undirected()
    assert features["diameter"] == nx.diameter(undirected)
    assert features["average_shortest_path_length"] == pytest.approx(nx.average_shortest_path_length(undirected))
    assert features["density"] == pytest.approx(nx.density(graph.to_networkx()))
    for name, values in [
        ("betweenness", nx.betweenness_centrality(undirected)),
        ("edge_betweenness", nx.edge_betweenness_centrality(undirected)),
        ("closeness", nx.closeness_centrality(undirected)),
        ("eccentricity", nx.eccentricity(undirected)),
        ("degree_centrality", nx.degree_centrality(undirected)),
    ]:
        array = np.array(list(values.values()), dtype=float)
        assert features[f"{name}_mean"] == pytest.approx(array.mean())
        assert features[f"{name}_var"] == pytest.approx(array.var())


def test_features_match_networkx_on_a_random_prior():
    graph = barabasi_albert(30, 3, np.random.default_rng(2), n_inputs=3, n_outputs=2)
    features = graph_features(graph)
    undirected = graph.to_networkx().to_undirected()
    betweenness = np.array(list(nx.betweenness_centrality(undirected).values()))
    assert features["betweenness_std"] == pytest.approx(betweenness.std())
    edge = np.array(list(nx.edge_betweenness_centrality(undirected).values()))
    assert features["edge_betweenness_mean"] == pytest.approx(edge.mean())


def test_large_graphs_use_sampled_sources_and_say_so():
    graph = erdos_renyi([50, 200, 200, 5], 3, np.random.default_rng(0))
    features, meta = compute_features(graph, max_exact_nodes=100, samples=16)
    assert not meta["exact"] and meta["bfs_sources"] == 16
    exact = graph_features(graph)
    assert features["edges"] == exact["edges"]
    assert features["average_shortest_path_length"] == pytest.approx(exact["average_shortest_path_length"], rel=0.15)


def test_motif_counts_by_hand():
    graph = tiny_graph()
    counts = count_motifs(graph)
    # v: target 2 ← {0, 1}; target 4 ← {2, 3} (layer 1); 0→4 is alone in its source layer
    assert counts["v"] == 2
    # fan-out: 1 → {2, 3}
    assert counts["fan-out"] == 1
    assert counts["bi-fan"] == 0
    # chains over consecutive layers: 0-2-4, 1-2-4, 1-3-4, 2-4-5, 3-4-5
    assert counts["chain"] == 5
    assert counts["ffl-skip"] == 1  # 0→2→4 closed by 0→4
    bifan = LayeredGraph(2, 2, np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1]), np.array([2, 3, 2, 3]))
    assert count_motifs(bifan)["bi-fan"] == 1


def test_motif_composed_uses_the_mix():
    graph = motif_composed([4, 10, 10, 2], {"bi-fan": 1.0}, 10, np.random.default_rng(0))
    assert count_motifs(graph)["bi-fan"] >= 5


def test_genotype_files(tmp_path):
    graph = erdos_renyi([4, 6, 2], 2, np.random.default_rng(0))
    for suffix in (".json", ".npz"):
        assert LayeredGraph.load(graph.save(tmp_path / f"g{suffix}")) == graph
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        LayeredGraph.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(DataError, match="not a structsearch genotype"):
        LayeredGraph.load(tmp_path / "other.json")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(DataError, match="not a compressed structsearch genotype"):
        LayeredGraph.load(tmp_path / "bad.npz")
    data = graph.to_dict()
    data["src"].append(data["dst"][-1])
    data["dst"].append(data["src"][0])
    (tmp_path / "invalid.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match="invalid genotype: a backward edge"):
        LayeredGraph.load(tmp_path / "invalid.json")


@pytest.mark.parametrize("call,match", [
    (lambda rng: watts_strogatz(10, 10, 0.5, rng), "1 ≤ k < n"),
    (lambda rng: watts_strogatz(10, 2, 1.5, rng), "0 ≤ p ≤ 1"),
    (lambda rng: barabasi_albert(10, 10, rng), "1 ≤ m < n"),
    (lambda rng: erdos_renyi([5, 4, 2], 0, rng), "epsilon"),
    (lambda rng: erdos_renyi([5, -4, 2], 1, rng), "positive sizes"),
    (lambda rng: configuration_model([1, 1], [1, 2], rng), "sum to"),
    (lambda rng: configuration_model([1, -1], [0, 0], rng), "negative"),
    (lambda rng: watts_strogatz(10, 2, 0.5, rng, n_inputs=-1), "positive"),
    (lambda rng: prior("lattice"), "known: erdos-renyi"),
    (lambda rng: motif("triangle"), "known: v, fan-out"),
    (lambda rng: mutation("grow"), "known: add-edge"),
])
def test_impossible_prior_parameters(call, match):
    with pytest.raises(ConfigError, match=match):
        call(np.random.default_rng(0))
