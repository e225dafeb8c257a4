"""Pruning methods and schedules on sparse MLPs and recurrent layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from structsearch.errors import ConfigError
from structsearch.nn.mlp import SparseMLP
from structsearch.nn.recurrent import SparseRecurrentNet
from structsearch.sparsity.pruning import (
    METHODS,
    SCHEDULES,
    PruningContext,
    exact_hessian_diagonal,
    fisher_diagonal,
    live_count,
    make_method,
    prune,
    run_schedule,
    schedule_counts,
    weight_groups,
)


def mlp(sizes=(64, 40, 30, 10), density=0.5, seed=0, dtype=torch.float32):
    model = SparseMLP.from_layer_sizes(list(sizes), np.random.default_rng(seed), "uniform", 0.0, density)
    return model.to(dtype)


def recurrent(seed=0):
    from structsearch.graphs import erdos_renyi

    graph = erdos_renyi([8, 12, 12, 2], 4.0, np.random.default_rng(seed))
    return SparseRecurrentNet.from_graph(graph, "gru", 128, seed=seed)


def digits_context(model, samples=300):
    from structsearch.tasks import load_task

    task = load_task("digits")
    return task, PruningContext(model, task.loss_fn, (task.train.x[:samples],), samples=samples)


@pytest.mark.parametrize("name", sorted(METHODS))
@pytest.mark.parametrize("count", [0, 1, 137])
def test_every_method_removes_exactly_the_requested_count(name, count):
    model = mlp()
    task, context = digits_context(model)
    before = live_count(model)
    assert prune(model, make_method(name, seed=1), count, context) == count
    assert live_count(model) == before - count
    assert sum(layer.nnz for layer in model.sparse_layers()) == before - count


@pytest.mark.parametrize("name", ["random", "magnitude-blinded", "magnitude-uniform", "magnitude-distributed"])
def test_methods_prune_recurrent_input_and_hidden_weights(name):
    model = recurrent()
    groups = weight_groups(model)
    assert {g.sparse is None for g in groups} == {True, False}  # sparse inputs and dense hidden
    before = [g.count for g in groups]
    prune(model, make_method(name), 300)
    after = [g.count for g in weight_groups(model)]
    assert sum(before) - sum(after) == 300
    for layer in model.recurrent:
        assert torch.count_nonzero(layer.hidden_weight()) <= int(layer.hh_mask.sum())


def test_class_uniform_removes_the_same_fraction_in_each_layer():
    model = mlp()
    sizes = [g.count for g in weight_groups(model)]
    prune(model, make_method("magnitude-uniform"), int(0.4 * sum(sizes)))
    for before, after in zip(sizes, [g.count for g in weight_groups(model)], strict=True):
        assert abs((before - after) - 0.4 * before) <= 1


def test_class_blinded_uses_one_global_threshold_and_distributed_scales_by_layer():
    model = mlp()
    values = [np.abs(g.values()) for g in weight_groups(model)]
    prune(model, make_method("magnitude-blinded"), 500)
    kept = np.concatenate([np.abs(g.values()) for g in weight_groups(model)])
    removed_max = np.sort(np.concatenate(values))[499]
    assert kept.min() >= removed_max
    blinded, distributed = mlp(), mlp()
    original = blinded.sparse_layers()[0].nnz
    for model in (blinded, distributed):
        with torch.no_grad():
            model.sparse_layers()[0].values.mul_(100.0)  # a layer of large weights
    prune(blinded, make_method("magnitude-blinded"), 300)
    prune(distributed, make_method("magnitude-distributed"), 300)
    # the global threshold all but spares the scaled layer; scaling by its standard deviation does not
    assert original - weight_groups(blinded)[0].count < 10 < 50 < original - weight_groups(distributed)[0].count


def test_obd_ranks_weights_like_the_exact_hessian_diagonal():
    torch.manual_seed(0)
    model = mlp((6, 8, 3), density=1.0, seed=3, dtype=torch.float64)
    x = torch.randn(64, 6, dtype=torch.float64)
    y = torch.randint(0, 3, (64,))
    loss_fn = torch.nn.functional.cross_entropy
    groups = weight_groups(model)
    exact = np.concatenate(exact_hessian_diagonal(model, groups, (x,), y, loss_fn))
    repeated = (x.repeat(200, 1),)  # many label draws per input: a low-variance estimate
    context = PruningContext(model, loss_fn, repeated, samples=len(repeated[0]), batch_size=1)
    estimate = np.concatenate(fisher_diagonal(model, groups, context.batches(), loss_fn, np.random.default_rng(0)))
    weights = np.concatenate([g.values() for g in groups])
    rho = stats.spearmanr(exact * weights**2, estimate * weights**2).statistic
    assert rho >= 0.8
    assert stats.spearmanr(exact, estimate).statistic >= 0.8


def test_pruned_connections_stay_pruned_through_retraining():
    from structsearch.train import TrainConfig, train

    model = mlp()
    task, _ = digits_context(model)
    prune(model, make_method("magnitude-blinded"), int(0.5 * live_count(model)))
    kept = [set(zip(*(t.tolist() for t in layer.connections()), strict=True)) for layer in model.sparse_layers()]
    rnn = recurrent()
    prune(rnn, make_method("magnitude-uniform"), 200, targets=("hidden",))
    masks = [layer.hh_mask.clone() for layer in rnn.recurrent]
    train(model, task, TrainConfig(epochs=2, lr=0.05))
    after = [set(zip(*(t.tolist() for t in layer.connections()), strict=True)) for layer in model.sparse_layers()]
    assert after == kept
    from structsearch.tasks import load_task

    reber = load_task("reber", n_strings=200, seed=0)
    train(rnn, reber, TrainConfig(epochs=1, optimizer="adam", lr=1e-2, weight_decay=1e-3))
    for layer, mask in zip(rnn.recurrent, masks, strict=True):
        assert torch.equal(layer.hh_mask, mask)
        assert torch.count_nonzero(layer.hidden_weight()[mask == 0]) == 0


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_schedules_reach_the_target_and_call_between_after_every_step(schedule):
    model = mlp()
    total = live_count(model)
    seen = []
    counts = run_schedule(model, make_method("magnitude-blinded"), schedule, 0.8, steps=4,
                          between=lambda step, removed: seen.append((step, removed)))
    assert sum(counts) == round(0.8 * total) == total - live_count(model)
    assert [removed for _, removed in seen] == list(np.cumsum(counts))
    assert len(counts) == (1 if schedule == "one-shot" else 4)


def test_iterative_relative_removes_the_same_share_of_what_remains():
    counts = schedule_counts("iterative-relative", 10_000, 0.9, steps=3)
    remaining = 10_000 - np.concatenate([[0], np.cumsum(counts)[:-1]])
    shares = np.array(counts) / remaining
    assert sum(counts) == 9000 and np.allclose(shares, shares[0], atol=0.01)


def test_bucket_ranks_once_and_removes_the_one_shot_selection():
    one_shot, bucket = mlp(), mlp()
    run_schedule(one_shot, make_method("magnitude-blinded"), "one-shot", 0.6)
    run_schedule(bucket, make_method("magnitude-blinded"), "bucket", 0.6, steps=3)
    for a, b in zip(one_shot.sparse_layers(), bucket.sparse_layers(), strict=True):
        assert all(torch.equal(u, v) for u, v in zip(a.connections(), b.connections(), strict=True))


def test_bad_pruning_requests_are_clear_errors():
    model = mlp()
    total = live_count(model)
    with pytest.raises(ConfigError, match="negative"):
        prune(model, make_method("random"), -1)
    with pytest.raises(ConfigError, match=f"only {total} remain"):
        prune(model, make_method("random"), total + 1)
    with pytest.raises(ConfigError, match="unknown pruning method 'smallest'"):
        make_method("smallest")
    with pytest.raises(ConfigError, match="unknown pruning schedule 'gradual'"):
        run_schedule(model, make_method("random"), "gradual", 0.5)
    with pytest.raises(ConfigError, match=r"fraction must lie in \[0, 1\]"):
        schedule_counts("one-shot", total, 1.5)


def test_prune_command_on_a_saved_model_and_on_a_train_configuration(tmp_path, capsys):
    import csv

    from structsearch.commands import main

    assert main(["train", "--epochs", "2", "--runs", str(tmp_path), "--name", "base", "--save-model",
                 "--no-progress"]) == 0
    assert main(["prune", "--model", str(tmp_path / "base"), "--method", "obd", "--schedule", "iterative-fixed",
                 "--amount", "0.5", "--steps", "2", "--retrain-epochs", "1", "--runs", str(tmp_path),
                 "--name", "pruned"]) == 0
    rows = list(csv.DictReader((tmp_path / "pruned" / "pruning.csv").open()))
    assert [int(r["step"]) for r in rows] == [0, 1, 2]
    assert int(rows[-1]["remaining"]) == int(rows[0]["remaining"]) // 2
    assert float(rows[-1]["test_accuracy_retrained"]) > 0.5
    assert main(["prune", "--count", "100", "--epochs", "1", "--runs", str(tmp_path), "--name", "fresh"]) == 0
    rows = list(csv.DictReader((tmp_path / "fresh" / "pruning.csv").open()))
    assert int(rows[0]["remaining"]) - int(rows[-1]["remaining"]) == 100
    capsys.readouterr()

    def error_of(*argv) -> str:
        assert main(["prune", "--model", str(tmp_path / "base"), "--runs", str(tmp_path), *argv]) in (1, 2)
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        return err

    # the declared bounds and choices of --amount, --method and --schedule: test_declared_settings
    assert "--amount must be unset or a number in [0, 1], got -0.2" in error_of("--amount", "-0.2")
    assert "--count: expected a positive integer, got '-5'" in error_of("--count", "-5")
    assert "only 19200 remain" in error_of("--count", "20000")
    assert "not a trained model's run directory" in error_of("--amount", "0.5", "--model", str(tmp_path))


def test_a_pruned_recurrent_model_round_trips_through_prune_command(tmp_path):
    from structsearch.commands import main

    assert main(["train", "--task", "reber", "--task-option", "n_strings=400", "--architecture", "8-12-2",
                 "--epsilon", "4", "--epochs", "1", "--runs", str(tmp_path), "--name", "rnn", "--save-model",
                 "--no-progress"]) == 0
    assert main(["prune", "--model", str(tmp_path / "rnn"), "--method", "magnitude-uniform", "--amount", "0.5",
                 "--retrain-epochs", "0", "--runs", str(tmp_path), "--name", "rnn-pruned"]) == 0
    assert main(["prune", "--model", str(tmp_path / "rnn-pruned"), "--amount", "0.5", "--retrain-epochs", "0",
                 "--runs", str(tmp_path), "--name", "rnn-pruned-twice"]) == 0
    import csv

    first = list(csv.DictReader((tmp_path / "rnn-pruned" / "pruning.csv").open()))
    second = list(csv.DictReader((tmp_path / "rnn-pruned-twice" / "pruning.csv").open()))
    assert int(second[0]["remaining"]) == int(first[-1]["remaining"])
    assert int(second[-1]["remaining"]) == int(first[-1]["remaining"]) - round(0.5 * int(first[-1]["remaining"]))
