import math

import pytest
import torch

from structsearch.errors import ConfigError
from structsearch.nn.mlp import SparseMLP
from structsearch.sparsity.rewiring import make_rewiring
from structsearch.tasks import load_task
from structsearch.train import TrainConfig, Trainer, train
from structsearch.train_callbacks import Callback, EarlyStopping


@pytest.fixture(scope="module")
def digits():
    return load_task("digits")


@pytest.mark.parametrize("rule", ["set", "set-motif", "rigl", "none"])
def test_sparse_mlp_learns_digits(digits, rule):
    model = SparseMLP.from_layer_sizes([64, 100, 10], seed=0, epsilon=10,
                                       motif_size=2 if rule == "set-motif" else 1)
    # 15 epochs of 1,295 images: a few seconds (timed in benchmarks, not here)
    result = train(model, digits, TrainConfig(epochs=15, batch_size=32, lr=0.05),
                   [make_rewiring(rule, drop_fraction=0.3)])
    assert result.status == "ok"
    assert result.test_accuracy >= 0.90
    assert result.connections == [model.layers[0].nnz, model.layers[1].nnz]
    assert len(result.curves["val_accuracy"]) == 15
    assert result.curves["connections"][0] == result.curves["connections"][-1]
    if rule != "none":
        assert result.seconds["evolution"] > 0


def test_selected_epoch_is_best_validation_and_test_is_read_once(digits):
    reads = []

    class CountingTrainer(Trainer):
        def evaluate(self, split):
            reads.append(split is self.task.test)
            return super().evaluate(split)

    model = SparseMLP.from_layer_sizes([64, 50, 10], seed=1, epsilon=5)
    result = CountingTrainer(model, digits, TrainConfig(epochs=6)).fit()
    curve = result.curves["val_accuracy"]
    assert result.val_accuracy == max(curve)
    assert result.selected_epoch == curve.index(max(curve))
    assert sum(reads) == 1 and reads[-1]


def test_adam_and_weight_decay(digits):
    model = SparseMLP.from_layer_sizes([64, 64, 10], seed=0, epsilon=10)
    result = train(model, digits, TrainConfig(epochs=5, optimizer="adam", lr=1e-2, weight_decay=1e-4))
    assert result.status == "ok" and result.test_accuracy > 0.8


def test_diverging_run_is_a_failed_result_not_an_exception(digits):
    model = SparseMLP.from_layer_sizes([64, 64, 10], seed=0, epsilon=10)
    result = train(model, digits, TrainConfig(epochs=5, lr=1e12, momentum=0.0))
    assert result.status == "diverged"
    assert "non-finite" in result.reason
    assert result.epochs_run < 5


def test_early_stopping_and_callbacks(digits):
    seen = []

    class Recorder(Callback):
        def on_epoch_end(self, trainer, epoch):
            seen.append(epoch)

    model = SparseMLP.from_layer_sizes([64, 30, 10], seed=0, epsilon=5)
    result = train(model, digits, TrainConfig(epochs=40, lr=0.05), [Recorder(), EarlyStopping(patience=2)])
    assert result.status == "stopped-early"
    assert seen == list(range(result.epochs_run))
    assert result.test_accuracy is not None


def test_timings_and_memory_are_reported(digits):
    model = SparseMLP.from_layer_sizes([64, 30, 10], seed=0, epsilon=5)
    result = train(model, digits, TrainConfig(epochs=2), [make_rewiring("set")])
    assert {"train", "evaluation", "evolution", "total"} <= set(result.seconds)
    assert result.seconds["total"] >= result.seconds["train"] > 0
    assert result.peak_memory_mb > 0


def test_same_seed_same_result(digits):
    def run():
        model = SparseMLP.from_layer_sizes([64, 30, 10], seed=3, epsilon=5)
        return train(model, digits, TrainConfig(epochs=3, seed=3), [make_rewiring("set", seed=3)])

    a, b = run(), run()
    assert a.curves["val_accuracy"] == b.curves["val_accuracy"]
    assert a.test_accuracy == b.test_accuracy


@pytest.mark.parametrize("key,value,match", [
    ("epochs", 0, "epochs"), ("lr", -1.0, "lr"), ("optimizer", "lbfgs", "training.optimizer must be one of sgd, adam"),
    ("momentum", 1.5, "momentum"), ("batch_size", 0, "batch_size"), ("lr", math.nan, "lr"),
    ("lr_schedule", "step", "lr_schedule must be one of constant, cosine"),
])
def test_impossible_hyperparameters(key, value, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**{key: value}).validate()


def test_training_state_dict_round_trip_after_evolution(digits, tmp_path):
    model = SparseMLP.from_layer_sizes([64, 30, 10], seed=0, epsilon=5)
    train(model, digits, TrainConfig(epochs=3), [make_rewiring("set")])
    torch.save(model.state_dict(), tmp_path / "m.pt")
    fresh = SparseMLP.from_layer_sizes([64, 30, 10], seed=9, epsilon=5)
    fresh.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    x = digits.test.x[:20]
    torch.testing.assert_close(fresh(x), model(x))


def test_a_cosine_schedule_decays_the_learning_rate_epoch_by_epoch(digits):
    """Each epoch trains at lr · ½(1 + cos(π e / E)): read from the optimizer during training."""
    seen = []

    class Record(Callback):
        def on_epoch_end(self, trainer, epoch):
            seen.append(trainer.optimizer.param_groups[0]["lr"])

    model = SparseMLP.from_layer_sizes([64, 32, 10], epsilon=4.0)
    train(model, digits, TrainConfig(epochs=4, lr=0.1, lr_schedule="cosine"), [Record()])
    assert seen == pytest.approx([0.1, 0.1 * 0.5 * (1 + math.cos(math.pi / 4)), 0.05,
                                  0.1 * 0.5 * (1 + math.cos(3 * math.pi / 4))])
