"""Motif census against the null model, signed motifs, dynamics, the motif-informed prior."""

from __future__ import annotations

import json

import numpy as np
import pytest

from structsearch.commands import main
from structsearch.errors import ConfigError, DataError
from structsearch.graphs import LayeredGraph, erdos_renyi, motif_informed
from structsearch.graphs.motif_catalogue import count_motifs
from structsearch.motifs.census import (
    census,
    graph_of_model,
    load_census,
    null_graph,
    save_census,
    signed_motifs,
)


def layered(widths, edges):
    """A LayeredGraph from layer widths and (src, dst) node pairs."""
    layers = np.repeat(np.arange(len(widths)), widths)
    src, dst = zip(*edges, strict=True)
    return LayeredGraph(widths[0], widths[-1], layers, np.array(src), np.array(dst))


def test_counts_and_sign_patterns_on_hand_made_graphs():
    # inputs 0, 1; hidden 2, 3; output 4 — a bi-fan (0,1 → 2,3), a v into 4 and skip edges 0 → 4, 1 → 4
    graph = layered([2, 2, 1], [(0, 2), (0, 3), (1, 2), (1, 3), (2, 4), (3, 4), (0, 4), (1, 4)])
    counts = count_motifs(graph)
    # v: target 2 ← {0,1}, 3 ← {0,1}, 4 ← {2,3} from layer 1, 4 ← {0,1} from layer 0
    assert counts["v"] == 4 and counts["bi-fan"] == 1
    assert counts["chain"] == 4  # 0→2→4, 0→3→4, 1→2→4, 1→3→4
    assert counts["ffl-skip"] == 4  # each chain is closed by its skip edge
    weights = np.array([1, 1, 1, -1, 1, -1, 1, 1], dtype=float)
    signed = signed_motifs(graph, weights)
    # bi-fan signs (+, +, +, −): product negative → unbalanced
    assert signed["bi-fan"] == {"balanced": 0, "unbalanced": 1}
    # triads (a→b, b→c, a→c): 0-2-4 (+,+,+) ok, 0-3-4 (+,−,+) no, 1-2-4 (+,+,+) ok, 1-3-4 (−,−,+) ok
    assert signed["ffl-skip"] == {"balanced": 3, "unbalanced": 1}
    assert signed["balance"] == pytest.approx(3 / 5)
    # v into 2: (+,+); into 3: (+,−); into 4 from layer 1: (+,−); into 4 from layer 0: (+,+)
    assert signed["v"] == {"++": 2, "+-": 2, "--": 0}
    assert signed["chain"] == {"++": 2, "+-": 1, "-+": 0, "--": 1}  # 0-2-4, 1-2-4 | 0-3-4 | 1-3-4


def test_balance_of_single_signed_triads():
    triad = layered([1, 1, 1], [(0, 1), (1, 2), (0, 2)])
    for signs, balanced in (((1, 1, 1), 1.0), ((1, -1, -1), 1.0), ((-1, -1, -1), 0.0), ((1, 1, -1), 0.0)):
        assert signed_motifs(triad, np.array(signs, dtype=float))["balance"] == balanced


def test_the_null_model_keeps_every_degree_exactly():
    rng = np.random.default_rng(0)
    graph = erdos_renyi([30, 25, 20, 5], 4.0, rng)
    from structsearch.graphs.operators import add_edge

    for _ in range(30):
        graph = add_edge(graph, rng)  # some skip-layer edges too
    layers = graph.layers

    def degrees(g):
        key_out = g.src * 10 + layers[g.dst]
        key_in = g.dst * 10 + layers[g.src]
        return sorted(np.unique(key_out, return_counts=True)[1].tolist()), \
            np.unique(key_out, return_counts=True), np.unique(key_in, return_counts=True)

    for seed in range(5):
        randomised, frozen = null_graph(graph, np.random.default_rng(seed))
        assert frozen == 0
        _, out_a, in_a = degrees(graph)
        _, out_b, in_b = degrees(randomised)
        for a, b in ((out_a, out_b), (in_a, in_b)):
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        assert len(set(randomised.edge_keys().tolist())) == randomised.n_edges  # no repeated edge
        assert set(randomised.edge_keys().tolist()) != set(graph.edge_keys().tolist())


def test_erdos_renyi_graphs_are_not_special_under_the_null_model():
    zs = []
    for seed in range(8):
        graph = erdos_renyi([40, 30, 30, 10], 3.0, np.random.default_rng(seed))
        result = census(graph, samples=40, seed=seed)
        zs.append(result["motifs"]["bi-fan"]["z"])
        assert all(abs(result["motifs"][name]["z"]) == 0.0 for name in ("v", "fan-out", "chain"))
    assert abs(np.mean(zs)) < 1.2


def test_motif_dynamics_records_a_census_every_k_epochs():
    from structsearch.motifs.dynamics import MotifDynamics
    from structsearch.nn.mlp import SparseMLP
    from structsearch.sparsity.rewiring import make_rewiring
    from structsearch.tasks import load_task
    from structsearch.train import TrainConfig, train

    model = SparseMLP.from_layer_sizes([64, 32, 32, 10], np.random.default_rng(0), "er", 4.0)
    dynamics = MotifDynamics(every=2, samples=3)
    result = train(model, load_task("digits"), TrainConfig(epochs=4), [make_rewiring("set", seed=1), dynamics])
    assert [r["epoch"] for r in dynamics.records] == [-1, 1, 3]
    assert result.curves["motifs"] == dynamics.records
    assert {"bi-fan_z", "v_count", "balance"} <= set(dynamics.records[0])
    graph, weights = graph_of_model(model)
    assert graph.n_edges == sum(layer.nnz for layer in model.sparse_layers()) == weights.size
    assert dynamics.records[-1]["bi-fan_count"] == count_motifs(graph)["bi-fan"]


def test_motif_informed_prior_and_census_files(tmp_path):
    graph = erdos_renyi([20, 16, 16, 4], 3.0, np.random.default_rng(1))
    result = census(graph, samples=5)
    result["motifs"]["bi-fan"]["z"] = 3.0
    result["motifs"]["v"]["z"] = 1.0
    path = save_census(result, tmp_path / "census.json")
    built = motif_informed([20, 16, 16, 4], str(path), 60, np.random.default_rng(0))
    assert built.layer_widths() == [20, 16, 16, 4] and count_motifs(built)["bi-fan"] > 0
    from structsearch.search.space import space_from_dict

    space = space_from_dict({"task": {"name": "digits"}, "genotype": {
        "prior": "motif-informed", "census": str(path), "motif-informed": {"width": [8, 16], "motifs": [20, 40]}}})
    from structsearch.search.genome import random_individual

    individual = random_individual(space, 64, 10, np.random.default_rng(0))
    assert individual.origin == "prior:motif-informed" and individual.graph.n_edges > 0
    broken = dict(result, motifs={**result["motifs"], "triangle": result["motifs"]["v"]})
    (tmp_path / "bad.json").write_text(json.dumps(broken))
    with pytest.raises(DataError, match="does not match the motif catalogue .unknown motif 'triangle'"):
        load_census(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="genotype.census: .*does not match the motif catalogue"):
        space_from_dict({"task": {"name": "digits"}, "genotype": {"prior": "motif-informed",
                                                                  "census": str(tmp_path / "bad.json")}})
    with pytest.raises(ConfigError, match="genotype.census must name a census file"):
        space_from_dict({"task": {"name": "digits"}, "genotype": {"prior": "motif-informed"}})


def test_motifs_command_on_a_genotype_and_a_trained_run(tmp_path, capsys):
    graph = erdos_renyi([64, 20, 10], 3.0, np.random.default_rng(0))
    graph.save(tmp_path / "g.json")
    assert main(["motifs", str(tmp_path / "g.json"), "--samples", "5", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["motifs"]["bi-fan"]["count"] == count_motifs(graph)["bi-fan"] and "signed" not in printed
    assert main(["train", "--epochs", "1", "--runs", str(tmp_path), "--name", "t", "--save-model",
                 "--architecture", "64-32-10", "--no-progress"]) == 0
    assert main(["motifs", str(tmp_path / "t"), "--samples", "5", "--out", str(tmp_path / "c.json")]) == 0
    out = capsys.readouterr().out
    assert "structural balance" in out and "bi-fan" in out
    assert load_census(tmp_path / "c.json")["signed"]["balance"] >= 0

    def error_of(*argv) -> str:
        assert main(["motifs", *argv]) in (1, 2)
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        return err

    assert "neither a genotype file nor a run directory" in error_of(str(tmp_path / "missing.json"))
    assert "neither a genotype file nor a run directory with model.pt" in error_of(str(tmp_path))
    assert "--samples: expected a positive integer, got '0'" in error_of(str(tmp_path / "g.json"), "--samples", "0")


def test_motif_emergence_experiment_runs_end_to_end(tmp_path, capsys):
    assert main(["experiment", "motif-emergence", "--task", "digits", "--architecture", "64-32-32-10",
                 "--epsilon", "4", "--epochs", "2", "--seeds", "2", "--samples", "3", "--final-samples", "5",
                 "--runs", str(tmp_path), "--name", "me"]) == 0
    run = tmp_path / "me"
    summary = json.loads((run / "summary.json").read_text())
    assert {"dynamics.csv", "census.json", "summary.json", "motif_emergence.png"} <= {p.name for p in run.iterdir()}
    if summary["mix"] is not None:
        rows = (run / "priors.csv").read_text().splitlines()
        assert len(rows) == 1 + 2 * 2
        assert summary["motif-informed"]["n"] == summary["erdos-renyi"]["n"] == 2
