"""Training compute: every result's cost_macs, counted by hand for an MLP with skip edges, a GRU
layer and a convolution; and a max_macs budget that stops a search within one candidate's cost."""

import numpy as np
import pytest
import torch
from helpers import tiny_space
from torch import nn

from structsearch.compute import candidate_cost, format_macs, forward_macs
from structsearch.config import ModelConfig, RewiringConfig
from structsearch.graphs.layered import LayeredGraph
from structsearch.nn.mlp import SparseMLP
from structsearch.nn.recurrent import SparseRecurrentNet
from structsearch.pipeline import ModelSpec, build_candidate
from structsearch.search.engine import Search
from structsearch.search.executors import InProcessExecutor, LocalExecutor
from structsearch.search.fake import StructureScoreExecutor
from structsearch.store import RunStore
from structsearch.tasks import load_task
from structsearch.train import TrainConfig, train


def skip_mlp_graph() -> LayeredGraph:
    """4 inputs → 3 hidden → 2 hidden → 3 outputs: 5 + 4 + 3 layer-to-layer edges and 2 skip edges
    (input 0 → hidden-2 node 7, hidden-1 node 5 → output 10)."""
    layers = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3])
    edges = [(0, 4), (1, 4), (2, 5), (3, 6), (1, 6),  # inputs → hidden 1
             (4, 7), (5, 7), (6, 8), (4, 8),  # hidden 1 → hidden 2
             (7, 9), (8, 10), (8, 11),  # hidden 2 → outputs
             (0, 7), (5, 10)]  # skip edges
    src, dst = zip(*edges, strict=True)
    return LayeredGraph(4, 3, layers, np.array(src), np.array(dst))


def test_an_mlp_with_skip_edges_costs_one_mac_per_connection_per_sample():
    task = _four_feature_task(load_task("digits"))
    network, _ = build_candidate(skip_mlp_graph(), ModelSpec(ModelConfig(), RewiringConfig(rule="none")), task, 0)
    assert isinstance(network, SparseMLP)
    assert forward_macs(network, task.train) == 14  # 12 layer-to-layer edges + 2 skip edges


def _four_feature_task(task):
    """The digits task cut to its first 4 pixels and 3 classes (a 4-input, 3-output MLP)."""
    import copy

    small = copy.copy(task)
    for name in ("train", "validation", "test"):
        split = getattr(task, name)
        keep = split.y < 3
        setattr(small, name, type(split)(split.x[keep][:, :4], split.y[keep]))
    small.input_shape, small.n_classes = (4,), 3
    return small


def test_a_trained_mlp_costs_forward_and_backward_on_every_sample_plus_its_evaluations():
    task = _four_feature_task(load_task("digits"))
    network, rule = build_candidate(skip_mlp_graph(), ModelSpec(ModelConfig(), RewiringConfig(rule="none")), task, 0)
    result = train(network, task, TrainConfig(epochs=3, batch_size=32, lr=0.01), [rule])
    n_train, n_val, n_test = len(task.train), len(task.validation), len(task.test)
    by_hand = 3 * (3 * 14 * n_train + 14 * n_val) + 14 * n_test
    assert candidate_cost(network, task, rule, 3, result.epochs_run, result.curves.get("connections")) == by_hand
    assert candidate_cost(network, task, rule, 3, 1) == 3 * 14 * n_train + 14 * n_val + 14 * n_test  # stopped early


def test_set_rewiring_adds_one_mac_per_rewired_connection_per_update():
    task = _four_feature_task(load_task("digits"))
    network, rule = build_candidate(skip_mlp_graph(), ModelSpec(ModelConfig(), RewiringConfig(rule="set")), task, 0)
    plain = candidate_cost(network, task, None, 4, 4)
    rewired = sum(layer.nnz for layer in rule.layers(network))
    updates = sum(rule.active(epoch, 4) for epoch in range(4))
    assert updates == 3 and candidate_cost(network, task, rule, 4, 4) == plain + updates * rewired


def test_a_gru_layer_costs_its_gates_input_and_hidden_weights_per_step():
    # 3 embedding inputs → 2 GRU units → 2 outputs: 3 input edges, 2 head edges and a skip edge to the head
    layers = np.array([0, 0, 0, 1, 1, 2, 2])
    src, dst = np.array([0, 1, 2, 3, 4, 0]), np.array([3, 3, 4, 5, 6, 5])
    graph = LayeredGraph(3, 2, layers, src, dst)
    network = SparseRecurrentNet.from_graph(graph, "gru", vocabulary=8)
    lengths = torch.tensor([2, 4, 3, 3])
    split = type(load_task("digits").train)(torch.ones(4, 4, dtype=torch.long), torch.zeros(4, dtype=torch.long),
                                            lengths)
    gates = 3
    per_step = gates * 3 + gates * 2 * 2  # every gate's input edges, the dense hidden-to-hidden weights
    assert forward_macs(network, split) == pytest.approx(3.0 * per_step + 3)  # mean length 3, head 2 + 1 skip
    lstm = SparseRecurrentNet.from_graph(graph, "lstm", vocabulary=8)
    assert forward_macs(lstm, split) == pytest.approx(3.0 * (4 * 3 + 4 * 2 * 2) + 3)


class TinyConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.reduce = nn.Conv2d(4, 2, 3, stride=2, padding=1)
        self.head = nn.Linear(2, 10)

    def forward(self, x):
        x = self.reduce(torch.relu(self.conv(x.reshape(-1, 1, 6, 6))))
        return self.head(x.mean(dim=(2, 3)))


def test_a_convolution_costs_its_weights_once_per_output_position():
    split = type(load_task("digits").train)(torch.zeros(3, 36), torch.zeros(3, dtype=torch.long))
    by_hand = 4 * 1 * 3 * 3 * 6 * 6 + 2 * 4 * 3 * 3 * 3 * 3 + 2 * 10  # 6×6 out, then 3×3 after stride 2
    assert forward_macs(TinyConvNet(), split) == by_hand


def test_the_macs_read_in_a_friendly_unit():
    assert format_macs(2.5e12) == "2.5 TMAC" and format_macs(3.2e9) == "3.2 GMAC" and format_macs(12) == "12 MAC"


def _budget_search(path, executor, max_macs):
    space = tiny_space(budget__max_epochs=0, budget__max_macs=max_macs, evolution__generations=50,
                       evolution__population=4, evolution__offspring=4)
    search = Search.start(space, path, executor)
    outcome = search.run()
    search.store.close()
    with RunStore.open(path) as store:
        costs = [c.metrics["cost_macs"] for c in store.candidates() if c.status == "ok"
                 and not c.metrics.get("duplicate_of")]
    return outcome, costs


@pytest.mark.parametrize("executor", [StructureScoreExecutor, InProcessExecutor])
def test_a_max_macs_budget_stops_within_one_candidates_cost_on_one_worker(tmp_path, executor):
    outcome, costs = _budget_search(tmp_path / "run", executor(), 2e7)
    assert outcome.stopped_by.startswith("budget:") and "training compute" in outcome.stopped_by
    assert all(cost > 0 for cost in costs) and len(costs) > 4
    assert 2e7 <= sum(costs) < 2e7 + max(costs)


@pytest.mark.slow
def test_a_max_macs_budget_stops_within_one_candidates_cost_on_two_workers(tmp_path):
    outcome, costs = _budget_search(tmp_path / "run", LocalExecutor(2), 2e7)
    assert outcome.stopped_by.startswith("budget:") and len(costs) > 4
    assert 2e7 <= sum(costs) < 2e7 + max(costs)
