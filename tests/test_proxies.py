"""Zero-cost proxies on the truly sparse model, against the same formulas on a dense copy."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from structsearch.errors import ConfigError
from structsearch.graphs.priors import erdos_renyi
from structsearch.nn.mlp import SparseMLP
from structsearch.nn.proxies import PROXIES, check_proxies, score
from structsearch.nn.recurrent import SparseRecurrentNet


def dense_copy(model: SparseMLP) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(W, b) of every layer as dense leaf tensors, from the sparse values."""
    layers = []
    for layer in model.sparse_layers():
        rows, cols = layer.connections()
        w = torch.zeros(layer.out_features, layer.in_features, dtype=torch.float64)
        w[rows, cols] = layer.values.detach().double()
        layers.append((w.requires_grad_(), layer.bias.detach().double().clone().requires_grad_()))
    return layers


def dense_forward(layers, x, keep=None):
    """ReLU MLP on rows of x; ``keep`` collects the hidden pre-activations."""
    h = x
    for index, (w, b) in enumerate(layers):
        h = h @ w.t() + b
        if index < len(layers) - 1:
            if keep is not None:
                if h.requires_grad:
                    h.retain_grad()
                keep.append(h)
            h = torch.relu(h)
    return h


def test_each_proxy_matches_the_formula_on_a_dense_copy():
    torch.manual_seed(0)
    model = SparseMLP.from_layer_sizes([5, 4, 3, 2], seed=0, epsilon=1)  # sparse, no skip layers
    assert sum(model.connections_per_layer()) < 5 * 4 + 4 * 3 + 3 * 2
    x, y = torch.randn(6, 5), torch.tensor([0, 1, 0, 1, 1, 0])
    loss_fn = nn.functional.cross_entropy
    got, seconds = score(model, (x,), y, loss_fn)
    assert seconds > 0 and list(got) == list(PROXIES)

    layers = dense_copy(model)
    params = [t for pair in layers for t in pair]
    masks = [(w != 0).double() for w, _ in layers]
    hidden = []
    loss_fn(dense_forward(layers, x.double(), hidden), y).backward()
    grads = [p.grad * masks[i // 2] if i % 2 == 0 else p.grad for i, p in enumerate(params)]  # existing edges only
    assert got["grad_norm"] == pytest.approx(sum(float(g.norm()) for g in grads), rel=1e-4)
    snip = sum(float((p.detach() * g).abs().sum()) for p, g in zip(params, grads, strict=True))
    assert got["snip"] == pytest.approx(snip, rel=1e-4)
    # fisher: activation × its gradient per neuron, squared, averaged over samples, halved, summed
    fisher = sum(float(0.5 * ((h.detach() * h.grad) ** 2).mean(0).sum()) for h in hidden)
    assert got["fisher"] == pytest.approx(fisher, rel=1e-4)

    absolute = [(w.detach().abs().requires_grad_(), b.detach().abs().requires_grad_()) for w, b in layers]
    dense_forward(absolute, torch.ones(1, 5, dtype=torch.float64)).sum().backward()
    synflow = sum(float((p.detach() * p.grad * (masks[i] if p.dim() == 2 else 1)).sum())
                  for i, pair in enumerate(absolute) for p in pair)
    assert got["synflow"] == pytest.approx(synflow, rel=1e-6)

    with torch.no_grad():
        hidden = []
        dense_forward(layers, x.double(), hidden)
        codes = torch.cat([(h > 0).double() for h in hidden], 1)
    k = codes @ codes.t() + (1 - codes) @ (1 - codes).t()
    assert got["naswot"] == pytest.approx(math.log(float(torch.linalg.det(k + torch.eye(6, dtype=k.dtype)))), rel=1e-6)


def test_the_model_is_left_as_it_was():
    model = SparseMLP.from_layer_sizes([5, 8, 3], seed=1, epsilon=1)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    score(model, (torch.randn(4, 5),), torch.tensor([0, 1, 2, 0]), nn.functional.cross_entropy)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) and before[k].dtype == after[k].dtype for k in before)
    assert not model.training and all(p.grad is None for p in model.parameters())


def test_proxies_run_on_a_200000_wide_sparse_layer():
    # 200,000 × 200,000 dense would be 160 GB: only a sparse computation can run this
    model = SparseMLP.from_layer_sizes([16, 200_000, 200_000, 4], seed=0, epsilon=1)
    x, y = torch.randn(8, 16), torch.arange(8) % 4
    got, _ = score(model, (x,), y, nn.functional.cross_entropy)
    assert all(math.isfinite(value) for value in got.values()), got


def test_a_recurrent_net_scores_every_proxy():
    graph = erdos_renyi([7, 12, 7], 2.0, np.random.default_rng(0), recurrent=True)
    model = SparseRecurrentNet.from_graph(graph, "gru")
    codes = torch.randint(1, 8, (5, 6))
    lengths = torch.full((5,), 6)
    got, _ = score(model, (codes, lengths), torch.arange(5) % 7, nn.functional.cross_entropy)
    assert all(math.isfinite(value) for value in got.values()), got


def test_unknown_proxies_are_named():
    with pytest.raises(ConfigError, match="unknown proxy 'jacov' .known: synflow, snip"):
        check_proxies(["snip", "jacov"])


def test_the_gate_scores_children_with_the_proxies_their_training_will_see(tmp_path, capsys):
    from structsearch.commands import main
    from structsearch.store import RunStore

    tiny = ["--population", "4", "--generations", "1", "--epochs", "1", "--workers", "1", "--quiet",
            "--set", "genotype.nodes=[10, 16]", "--set", "genotype.erdos-renyi.width=[8, 16]",
            "--set", "gate.predictor=online", "--set", "gate.warmup=3", "--set", 'gate.proxies=["snip", "naswot"]']
    assert main(["evolve", "--runs", str(tmp_path), "--name", "g", *tiny]) == 0
    with RunStore.open(tmp_path / "g") as store:
        candidates = store.candidates()
    trained = [c for c in candidates if c.status == "ok" and "duplicate_of" not in c.metrics]
    assert any(c.status == "dropped-by-predictor" for c in candidates)
    for candidate in trained:  # computed in the search process before training, and by the worker
        assert candidate.features["proxy_snip"] == pytest.approx(candidate.metrics["proxies"]["snip"], rel=1e-6)
        assert candidate.features["proxy_naswot"] == pytest.approx(candidate.metrics["proxies"]["naswot"], rel=1e-6)
    # every trained candidate's five proxies (the workers score all of them) reach the meta-dataset
    from structsearch.meta import PROXY_COLUMNS, read_table
    from structsearch.predictors.workflow import select_features

    assert all(set(c.metrics["proxies"]) == set(PROXIES) and c.seconds["proxies"] > 0 for c in trained)
    assert main(["meta", "export", str(tmp_path / "g"), "--out", str(tmp_path / "meta.csv")]) == 0
    table = read_table(tmp_path / "meta.csv")
    for column in PROXY_COLUMNS:
        assert np.isfinite(table[column]).all(), column
    assert (table["proxy_seconds"] > 0).all()
    assert ((table["curve_val_epoch_1"] >= 0) & (table["curve_val_epoch_1"] <= 1)).all()
    numeric = select_features(table, "meta.csv", "val_accuracy", "numeric")
    assert set(PROXY_COLUMNS) <= set(numeric) and "curve_val_epoch_1" not in numeric and "proxy_seconds" not in numeric
    assert main(["evolve", "--runs", str(tmp_path), "--name", "bad", *tiny[:-1], 'gate.proxies=["jacov"]']) == 2
    err = capsys.readouterr().err
    assert "gate.proxies must be a list of synflow, snip, grad_norm, fisher, naswot, got ['jacov']" in err
