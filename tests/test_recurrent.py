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
