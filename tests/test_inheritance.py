"""Weight inheritance: node identity through the operators, the transfer edge by edge, the
Lamarckian genotype, the weights files and their bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from structsearch.errors import ConfigError, DataError
from structsearch.graphs import erdos_renyi
from structsearch.graphs.lineage import origins, tagged
from structsearch.graphs.operators import (
    add_neuron,
    bridge_crossover,
    matching_layers,
    remove_edge,
    resize_layer,
    subpath_swap,
)
from structsearch.nn import weights as W
from structsearch.nn.mlp import SparseMLP
from structsearch.nn.recurrent import SparseRecurrentNet
from structsearch.search.space import load_space_with_changes


def _perturbed(model):
    """A model whose every parameter differs from any fresh initialisation (stands for training)."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=torch.Generator().manual_seed(parameter.numel())))
    return model


def _mlp(graph, seed):
    return SparseMLP(graph.to_blocks(), activation="srelu", generator=torch.Generator().manual_seed(seed))


def _gru(graph, seed):
    return SparseRecurrentNet.from_graph(graph, "gru", 16, seed=seed)


def _by_edge(weights: W.NodeWeights) -> dict:
    edge = weights.tables["edge"]
    return {key: value for key, value in zip(zip(*(edge.index[n].tolist() for n in ("gate", "src", "dst")),
                                                 strict=True), edge.channels["value"].tolist(), strict=True)}


def _check_shared_edges(child, child_model, parents: list[W.NodeWeights]) -> tuple[int, int]:
    """Every child edge whose two nodes come from one parent holding that edge has that parent's value,
    checked one edge at a time; returns (shared edges, child edges)."""
    slot, node = origins(child)
    parent_edges = [_by_edge(p) for p in parents]
    shared = 0
    child_edges = _by_edge(W.extract(child_model, child))
    for (gate, src, dst), value in child_edges.items():
        if slot[src] >= 0 and slot[src] == slot[dst]:
            key = (gate, int(node[src]), int(node[dst]))
            if key in parent_edges[slot[src]]:
                assert value == parent_edges[slot[src]][key], (gate, src, dst)
                shared += 1
    return shared, len(child_edges)


@pytest.mark.parametrize("operator", [add_neuron, remove_edge, resize_layer])
def test_a_mutated_child_starts_with_its_parents_values_on_every_shared_edge(operator):
    rng = np.random.default_rng(1)
    parent = erdos_renyi([10, 8, 6, 3], 2.0, rng)
    trained = W.NodeWeights.from_bytes(W.extract(_perturbed(_mlp(parent, 1)), parent).to_bytes(), "parent")
    child = operator(tagged(parent, 0), np.random.default_rng(4))
    model = _mlp(child, 2)
    counts = W.transfer(model, child, [trained])
    shared, total = _check_shared_edges(child, model, [trained])
    assert shared == counts["inherited_edges"] > 0
    assert counts["inherited_edges"] + counts["regrown_edges"] + counts["fresh_edges"] == total
    if operator is add_neuron:  # one neuron more, every old edge kept
        assert shared == parent.n_edges and counts["fresh_edges"] >= 2
    if operator is remove_edge:
        assert shared == parent.n_edges - 1
    # biases and SReLU parameters of inherited neurons are the parent's
    slot, node = origins(child)
    child_bias = W.extract(model, child).tables["bias"]
    parent_bias = dict(zip(trained.tables["bias"].index["node"].tolist(), trained.tables["bias"].channels["value"],
                           strict=True))
    for n, value in zip(child_bias.index["node"].tolist(), child_bias.channels["value"], strict=True):
        if slot[n] == 0:
            assert value == parent_bias[int(node[n])]


@pytest.mark.parametrize("operator", [subpath_swap, bridge_crossover, matching_layers])
def test_a_crossover_child_takes_each_edge_from_the_parent_it_came_from(operator):
    rng = np.random.default_rng(2)
    a, b = erdos_renyi([6, 5, 4, 2], 2.0, rng), erdos_renyi([6, 4, 5, 3, 2], 2.0, rng)
    parents = [W.NodeWeights.from_bytes(W.extract(_perturbed(_gru(g, k)), g).to_bytes(), f"parent {k}")
               for k, g in enumerate((a, b))]
    seen = set()
    for seed in range(6):
        for child in operator(tagged(a, 0), tagged(b, 1), np.random.default_rng(seed)):
            model = _gru(child, 9)
            counts = W.transfer(model, child, parents)
            shared, _ = _check_shared_edges(child, model, parents)
            assert shared == counts["inherited_edges"]
            seen.update(set(origins(child)[0][child.n_inputs:].tolist()) - {-1})
            hidden = W.extract(model, child).tables
            slot, node = origins(child)
            for kind, table in hidden.items():  # hidden-to-hidden weights within one parent layer
                if not kind.startswith("hidden."):
                    continue
                for parent_slot, weights in enumerate(parents):
                    for parent_kind, parent_table in weights.tables.items():
                        if not parent_kind.startswith("hidden."):
                            continue
                        where = {n: i for i, n in enumerate(parent_table.index["node"].tolist())}
                        pairs = [(i, where[int(node[n])]) for i, n in enumerate(table.index["node"].tolist())
                                 if slot[n] == parent_slot and int(node[n]) in where]
                        width, parent_width = table.index["node"].size, len(where)
                        for gate in range(3):
                            for i, pi in pairs:
                                for j, pj in pairs:
                                    assert (table.channels["value"][gate * width + i, j]
                                            == parent_table.channels["value"][gate * parent_width + pi, pj])
            inputs_from = slot[0]
            assert np.array_equal(hidden["embedding"].channels["value"],
                                  parents[inputs_from].tables["embedding"].channels["value"])
    assert seen == {0, 1}  # some children hold neurons of both parents


def test_the_lamarckian_genotype_is_the_trained_connectivity():
    from structsearch.config import RewiringConfig
    from structsearch.tasks import load_task
    from structsearch.train import TrainConfig, train

    digits_task = load_task("digits")
    graph = erdos_renyi([64, 24, 16, 10], 3.0, np.random.default_rng(0))
    model = SparseMLP(graph.to_blocks(), generator=torch.Generator().manual_seed(0))
    rule = RewiringConfig(rule="set", drop_fraction=0.3).make_rule(0)
    result = train(model, digits_task, TrainConfig(epochs=3, seed=0), [rule], keep_optimizer=True)
    weights = W.extract(model, graph, result.optimizer_state)
    assert set(weights.tables["edge"].channels) == {"value", "momentum_buffer"}  # SGD with momentum
    learned, removed = W.learned_graph(weights, graph)
    nodes = W._layer_nodes(graph)
    trained = set()
    for target, (layer, sources) in enumerate(zip(model.layers, model.sources, strict=True), start=1):
        rows, cols = (t.numpy() for t in layer.connections())
        column_nodes = np.concatenate([nodes[s] for s in sources])
        trained |= set(zip(column_nodes[cols].tolist(), nodes[target][rows].tolist(), strict=True))
    assert trained != set(zip(graph.src.tolist(), graph.dst.tolist(), strict=True))  # SET moved edges
    assert removed == 0
    assert set(zip(learned.src.tolist(), learned.dst.tolist(), strict=True)) == trained
    assert learned.violations() == []
    # its weights file, renumbered for it, belongs to it and to no other genotype
    renumbered = W.renumber(weights, learned)
    W.NodeWeights.from_bytes(renumbered.to_bytes(), "learned").check(learned.with_tags(None), "candidate 1")
    with pytest.raises(DataError, match="candidate 7: its weights file was saved for a genotype of"):
        renumbered.check(remove_edge(learned, np.random.default_rng(0)), "candidate 7")


def test_a_weights_file_of_another_genotype_names_the_candidate(tmp_path):
    graph = erdos_renyi([10, 8, 3], 2.0, np.random.default_rng(0))
    other = erdos_renyi([10, 9, 3], 2.0, np.random.default_rng(0))
    blob = W.extract(_mlp(graph, 0), graph).to_bytes()
    with pytest.raises(DataError, match=r"candidate 12: its weights file holds 21 neurons .* its genotype 22"):
        W.NodeWeights.from_bytes(blob, "f").check(other, "candidate 12")
    with pytest.raises(DataError, match="w.safetensors: not a structsearch weights file"):
        W.NodeWeights.from_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}", "w.safetensors")


def test_inheritance_settings_are_checked():
    def space(**changes):
        return load_space_with_changes("digits-small", list(changes.items()))

    with pytest.raises(ConfigError, match=r"inherited_epochs = 0 must lie between 1 and training.epochs \(8\)"):
        space(**{"evolution.inheritance": "weights", "evolution.inherited_epochs": 0})
    with pytest.raises(ConfigError, match=r"evolution.inherited_epochs = 9 must lie between 1"):
        space(**{"evolution.inherited_epochs": 9})
    with pytest.raises(ConfigError, match="evolution.inheritance.*'darwinian'"):
        space(**{"evolution.inheritance": "darwinian"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = space(**{"evolution.inheritance": "lamarckian", "rewiring.rule": "none"})
    assert loaded.inherited_epochs == 2 and loaded.keeps_weights
    assert any("the same as 'weights'" in str(w.message) for w in caught)


def test_a_child_whose_parents_weights_are_missing_trains_from_scratch_and_a_foreign_file_is_refused(tmp_path):
    import shutil

    from helpers import tiny_space

    from structsearch.search.engine import Search
    from structsearch.search.executors import InProcessExecutor
    from structsearch.store import RunStore

    space = tiny_space(evolution__generations=1, evolution__inheritance="weights", gate__predictor="none")
    first = Search.start(space, tmp_path / "a", InProcessExecutor())
    first.run()
    first.store.close()
    files = sorted((tmp_path / "a" / "weights").glob("*.safetensors"))
    assert files and all(f.stat().st_size > 0 for f in files)
    shutil.copytree(tmp_path / "a", tmp_path / "b")

    for path in files:  # every parent's weights gone: the next generation trains from scratch, and says why
        path.unlink()
    resumed = Search.resume(tmp_path / "a", InProcessExecutor(), extend={"evolution.generations": 2})
    resumed.run()
    resumed.store.close()
    with RunStore.open(tmp_path / "a") as store:
        children = [c for c in store.candidates(generation=2) if not c.metrics.get("duplicate_of")]
    assert children and all("are missing" in c.metrics["inheritance"]["from_scratch"] for c in children)
    assert all(c.metrics["cost_epochs"] == space.training.epochs for c in children)

    with RunStore.open(tmp_path / "b") as store:  # a parent's file swapped for another candidate's
        population = store.meta("search_state")["population"]
    blobs = {int(p.stem): p.read_bytes() for p in (tmp_path / "b" / "weights").glob("*.safetensors")}
    neurons = {i: W.NodeWeights.from_bytes(blob, str(i)).layers.size for i, blob in blobs.items()}
    for victim in set(population) & set(blobs):
        other = next(i for i in blobs if neurons[i] != neurons[victim])
        (tmp_path / "b" / "weights" / f"{victim}.safetensors").write_bytes(blobs[other])
    search = Search.resume(tmp_path / "b", InProcessExecutor(), extend={"evolution.generations": 2})
    with pytest.raises(DataError, match=r"candidate \d+ \(.*\.safetensors\): its weights file holds \d+ neurons"):
        search.run()
    search.store.close()
