import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from structsearch.errors import ConfigError
from structsearch.graphs import LayeredGraph, barabasi_albert
from structsearch.nn.recurrent import SparseRecurrentLayer, SparseRecurrentNet, dense_equivalent
from structsearch.tasks import load_task
from structsearch.train import TrainConfig, train

TORCH_CELLS = {
    "lstm": lambda n_in, h: torch.nn.LSTM(n_in, h),
    "gru": lambda n_in, h: torch.nn.GRU(n_in, h),
    "rnn_tanh": lambda n_in, h: torch.nn.RNN(n_in, h, nonlinearity="tanh"),
    "rnn_relu": lambda n_in, h: torch.nn.RNN(n_in, h, nonlinearity="relu"),
}


@pytest.mark.parametrize("cell", sorted(TORCH_CELLS))
def test_full_connectivity_equals_torch(cell):
    torch.manual_seed(0)
    n_in, hidden, steps, batch = 5, 7, 6, 4
    rows, cols = np.repeat(np.arange(hidden), n_in), np.tile(np.arange(n_in), hidden)
    ours = SparseRecurrentLayer(n_in, hidden, rows, cols, cell).double()
    reference = TORCH_CELLS[cell](n_in, hidden).double()
    with torch.no_grad():
        reference.weight_ih_l0.copy_(ours.input.to_dense())
        reference.bias_ih_l0.copy_(ours.input.bias)
        reference.weight_hh_l0.copy_(ours.hh_weight)
        reference.bias_hh_l0.copy_(ours.hh_bias)
    x = torch.randn(steps, batch, n_in, dtype=torch.float64)
    lengths = torch.tensor([6, 3, 5, 1])
    states, final = ours(x.permute(0, 2, 1), lengths)
    _, h_n = reference(pack_padded_sequence(x, lengths, enforce_sorted=False))
    if cell == "lstm":
        h_n = h_n[0]
    torch.testing.assert_close(final.t(), h_n[0])
    full, _ = reference(x)
    torch.testing.assert_close(states[:, :, 0], full[:, 0])  # the full-length sequence, every step


def test_gradients_are_zero_outside_the_connectivity():
    # embedding dimension 2 feeds nothing: its embedding column gets no gradient
    graph = LayeredGraph(3, 2, np.array([0, 0, 0, 1, 1, 2, 2]),
                         np.array([0, 1, 0, 1, 3, 4, 3, 4]), np.array([3, 3, 4, 4, 5, 5, 6, 6]))
    graph.validate()
    model = SparseRecurrentNet.from_graph(graph, "gru")
    codes = torch.tensor([[66, 84, 69, 0], [66, 80, 86, 69]])
    lengths = torch.tensor([3, 4])
    model(codes, lengths).sum().backward()
    grad = model.embedding.weight.grad
    assert grad[:, 2].abs().sum() == 0 and grad[:, :2].abs().sum() > 0
    layer = model.recurrent[0]
    assert layer.input.values.grad.shape == (layer.input.nnz,)  # gradients exist only on edges


def test_sparse_hidden_to_hidden_stays_sparse():
    layer = SparseRecurrentLayer(3, 4, [0, 1, 2, 3], [0, 1, 2, 0], "lstm")
    mask = torch.rand(16, 4, generator=torch.Generator().manual_seed(0)) < 0.5
    layer.make_hidden_sparse(mask)
    states, final = layer(torch.randn(5, 3, 2), torch.tensor([5, 2]))
    final.sum().backward()
    assert (layer.hh_weight.grad[~mask] == 0).all()


@pytest.mark.parametrize("cell", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
def test_each_cell_from_a_10_node_graph_trains_an_epoch(cell):
    task = load_task("reber", n_strings=500)
    graph = barabasi_albert(10, 2, np.random.default_rng(0), n_inputs=8, n_outputs=2)
    model = SparseRecurrentNet.from_graph(graph, cell)
    result = train(model, task, TrainConfig(epochs=1, optimizer="adam", lr=1e-3, batch_size=32, grad_clip=5.0))
    assert result.status == "ok" and 0.0 <= result.test_accuracy <= 1.0
    assert result.connections == model.connections_per_layer()


def test_dense_lstm_learns_reber():
    task = load_task("reber", n_strings=3000)
    model = SparseRecurrentNet.from_graph(dense_equivalent(8, [32]), "lstm")
    result = train(model, task, TrainConfig(epochs=12, optimizer="adam", lr=1e-2, batch_size=32, grad_clip=5.0))
    assert result.test_accuracy >= 0.95


def test_recurrent_bad_inputs():
    with pytest.raises(ConfigError, match="known: rnn_tanh, rnn_relu, lstm, gru"):
        SparseRecurrentNet.from_graph(dense_equivalent(4, [3]), "transformer")
    unconnected = LayeredGraph(2, 1, np.array([0, 0, 1, 2]), np.array([], dtype=int), np.array([], dtype=int))
    with pytest.raises(ConfigError, match="no path from its inputs to its outputs"):
        SparseRecurrentNet.from_graph(unconnected, "gru")
    model = SparseRecurrentNet.from_graph(dense_equivalent(4, [3]), "gru")
    with pytest.raises(ConfigError, match="length of 0"):
        model(torch.tensor([[66, 0]]), torch.tensor([0]))


@pytest.mark.parametrize("percent", [10, 30, 50, 100])
def test_pruning_percentiles_remove_the_right_counts(percent):
    from structsearch.experiments.reber_pruning import prune_model

    model = SparseRecurrentNet.from_graph(dense_equivalent(6, [9, 7]), "lstm")
    input_before = [layer.input.nnz for layer in model.recurrent]
    magnitudes = [layer.input.values.detach().abs().sort().values for layer in model.recurrent]
    removed = prune_model(model, "both", percent / 100)
    for layer, before in zip(model.recurrent, input_before, strict=True):
        assert layer.input.nnz == before - round(percent / 100 * before)
        hidden_total = layer.hh_weight.numel()
        assert int(layer.hh_mask.sum()) == hidden_total - round(percent / 100 * hidden_total)
    for layer, sorted_before in zip(model.recurrent, magnitudes, strict=True):
        kept = layer.input.values.detach().abs().sort().values
        torch.testing.assert_close(kept, sorted_before[sorted_before.numel() - kept.numel():])  # the largest stay
    assert removed["input"] == sum(round(percent / 100 * b) for b in input_before)
    assert prune_model(model, "input", 0.0) == {"input": 0, "hidden": 0}


def test_pruning_keeps_removed_weights_at_zero_through_retraining():
    from structsearch.experiments.reber_pruning import prune_model

    task = load_task("reber", n_strings=300)
    model = SparseRecurrentNet.from_graph(dense_equivalent(6, [8]), "gru")
    prune_model(model, "both", 0.5)
    nnz = model.recurrent[0].input.nnz
    train(model, task, TrainConfig(epochs=1, optimizer="adam", lr=1e-2, batch_size=32))
    layer = model.recurrent[0]
    assert layer.input.nnz == nnz
    assert (layer.hidden_weight()[layer.hh_mask == 0] == 0).all()


def test_reber_pruning_experiment_writes_csv_and_plot(tmp_path):
    from structsearch.commands import main

    code = main(["experiment", "reber-pruning", "--cells", "gru", "--hidden", "8", "--n-strings", "200",
                 "--epochs", "1", "--runs", str(tmp_path), "--name", "p"])
    assert code == 0
    lines = (tmp_path / "p" / "reber_pruning.csv").read_text().splitlines()
    assert len(lines) == 1 + 3 * 10
    assert lines[0].startswith("cell,target,percent,removed_input,removed_hidden,base_accuracy,accuracy_pruned")
    assert (tmp_path / "p" / "reber_pruning.png").stat().st_size > 1000


def test_reber_priors_study_stores_each_network(tmp_path):
    from structsearch.commands import main
    from structsearch.store import RunStore

    code = main(["experiment", "reber-priors", "--cells", "gru,rnn_relu", "--per-prior", "2", "--epochs", "1",
                 "--n-strings", "200", "--min-nodes", "10", "--max-nodes", "12", "--runs", str(tmp_path),
                 "--name", "rp"])
    assert code == 0
    for cell in ("gru", "rnn_relu"):
        with RunStore.open(tmp_path / "rp" / cell) as store:
            candidates = store.candidates()
            assert len(candidates) == 4 and {c.origin for c in candidates} == {"watts-strogatz", "barabasi-albert"}
            assert store.config["model"]["kind"] == cell


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_a_candidates_initial_weights_depend_on_its_seed_alone_not_on_torchs_global_stream(cell):
    """A worker trains one candidate after another; the next one's weights must not depend on what
    the last left in torch's global random state (the embedding once was drawn from it)."""
    from structsearch.config import ModelConfig, RewiringConfig
    from structsearch.pipeline import ModelSpec, build_candidate

    task = load_task("reber", n_strings=60)
    graph = barabasi_albert(12, 2, np.random.default_rng(3), n_inputs=8, n_outputs=2)
    spec = ModelSpec(ModelConfig(cell=cell), RewiringConfig(rule="none"))
    built = []
    for state in (1, 2):
        torch.manual_seed(state)  # as if another candidate had trained before
        model, _ = build_candidate(graph, spec, task, 5)
        built.append(model.state_dict())
    assert built[0].keys() == built[1].keys()
    for name in built[0]:
        assert torch.equal(built[0][name], built[1][name]), name
    assert built[0]["embedding.weight"][0].abs().sum() == 0  # the padding code's row stays zero
    torch.manual_seed(1)
    other, _ = build_candidate(graph, spec, task, 6)
    assert not torch.equal(other.state_dict()["embedding.weight"], built[0]["embedding.weight"])
