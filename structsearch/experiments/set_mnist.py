"""The original SET setting end to end (Mocanu et al. 2018): MNIST, 784-1000-1000-1000-10, ε = 20.

The SET-MLP of the paper's MNIST experiment: three sparse hidden layers of 1,000 SReLU neurons,
Erdős–Rényi connectivity with ε = 20, SET with ζ = 0.3 at the end of every epoch, SGD with momentum
0.9, learning rate 0.01, weight decay 2e-4, batch 100, dropout 0.3 on the hidden activations (the
values of the paper's code).  The paper trains for 1,000 epochs and reports 98.74 % test accuracy.

A CPU does not run 1,000 such epochs in an afternoon, so the experiment trains for as many epochs as
fit ``hours`` (an epoch starts only if the epochs so far say it will end in time) or ``epochs``,
whichever comes first.  After every epoch, before the rewiring (the paper's order), it reads the test
accuracy, and it writes one row per epoch to ``set_mnist.csv``: the seconds spent training,
evaluating (validation and test) and rewiring, the connections, and the accuracies; ``summary.json``
holds the epochs run, the mean seconds per phase, the peak memory and the paper's figure beside the
best and last test accuracy.  Both are rewritten after every epoch, so a stopped run loses nothing.

Reference: Mocanu et al. (2018), Nature Communications 9, 2383, table 2 (MNIST, SET-MLP 98.74 %).
"""

from __future__ import annotations

import time
from dataclasses import asdict

from rich.console import Console

from structsearch.config import ModelConfig, RewiringConfig, RunConfig, TaskConfig
from structsearch.experiments.settings import SetMnistConfig
from structsearch.pipeline import build_model, load_configured_task
from structsearch.runs import new_run_dir, write_json, write_rows
from structsearch.train import TrainConfig, Trainer, peak_memory_mb
from structsearch.train_callbacks import Callback, StopTraining

PAPER_TEST_ACCURACY = 0.9874  # Mocanu et al. (2018), table 2: SET-MLP on MNIST, 1,000 epochs
PHASES = ("train", "evaluation", "evolution")


class EpochLog(Callback):
    """After each epoch (before the rewiring rule, which comes after it): the test accuracy, the
    epoch's seconds per phase, a row in the CSV and the summary; then a stop if the next epoch would
    not end within the time budget.  An epoch's rewiring runs after its row is written, so its
    seconds reach the row at the next epoch's end (or at the end of training)."""

    def __init__(self, run_dir, budget_seconds: float, config: dict):
        self.run_dir, self.budget, self.config = run_dir, budget_seconds, config
        self.rows: list[dict] = []
        self.console = Console(stderr=True)

    def on_train_begin(self, trainer) -> None:
        self.started = time.perf_counter()
        self.before = dict.fromkeys(PHASES, 0.0)

    def seconds_since_last_row(self, trainer) -> dict:
        now = {phase: trainer.phase_seconds[phase] for phase in PHASES}
        spent = {phase: round(now[phase] - self.before[phase], 4) for phase in PHASES}
        self.before = now
        if self.rows:
            self.rows[-1]["evolution_seconds"] = spent["evolution"]
        return spent

    def on_epoch_end(self, trainer, epoch: int) -> None:
        with trainer.timer("evaluation"):
            _, test_accuracy = trainer.evaluate(trainer.task.test)
        spent = self.seconds_since_last_row(trainer)
        self.rows.append({"epoch": epoch, "val_accuracy": trainer.history["val_accuracy"][-1],
                          "test_accuracy": test_accuracy, "train_loss": trainer.history["train_loss"][-1],
                          "connections": sum(trainer.connections()), "train_seconds": spent["train"],
                          "evaluation_seconds": spent["evaluation"]})
        self.write(trainer)
        elapsed = time.perf_counter() - self.started
        self.console.print(f"epoch {epoch}: test {test_accuracy:.4f} val {self.rows[-1]['val_accuracy']:.4f} "
                           f"({elapsed:.0f} s)")
        if elapsed * (epoch + 2) / (epoch + 1) > self.budget:  # one more mean epoch would overrun
            raise StopTraining(f"time budget of {self.budget / 3600:g} h")

    def on_train_end(self, trainer) -> None:
        if self.rows:
            self.seconds_since_last_row(trainer)
        self.write(trainer)

    def write(self, trainer) -> None:
        write_rows(self.run_dir / "set_mnist.csv", self.rows)
        write_json(self.run_dir / "summary.json", summary(self.rows, self.config, peak_memory_mb(trainer.device),
                                                          time.perf_counter() - self.started))


def summary(rows: list[dict], config: dict, peak_mb: float, seconds: float) -> dict:
    """The run so far: epochs, mean seconds per phase (over epochs whose seconds are known), peak
    memory, best and last test accuracy beside the paper's."""
    mean = {}
    for phase in PHASES:
        known = [row[f"{phase}_seconds"] for row in rows if f"{phase}_seconds" in row]
        if known:
            mean[f"{phase}_seconds_per_epoch"] = round(sum(known) / len(known), 3)
    return {"epochs": len(rows), "seconds": round(seconds, 1), **mean, "peak_memory_mb": round(peak_mb, 1),
            "best_test_accuracy": max((r["test_accuracy"] for r in rows), default=None),
            "last_test_accuracy": rows[-1]["test_accuracy"] if rows else None,
            "paper_test_accuracy": PAPER_TEST_ACCURACY, "paper_epochs": 1000,
            "test_accuracy_curve": [r["test_accuracy"] for r in rows], "config": config}


def run_set_mnist(config: SetMnistConfig) -> dict:
    """Train Mocanu et al.'s SET-MLP on MNIST for ``config.hours`` (or ``config.epochs``).

    Returns
    -------
    dict
        The summary (also ``summary.json`` in the run folder): epochs run, mean seconds per epoch
        for training, evaluation and rewiring, peak memory, the test-accuracy curve and the paper's
        98.74 % beside it.
    """
    task_config = TaskConfig(config.task, {"train_size": config.train_size} if config.train_size else {})
    task = load_configured_task(RunConfig(task=task_config).validate(), config.data_dir)
    run_config = RunConfig(
        task=task_config,
        model=ModelConfig(architecture=f"{task.n_inputs}-{config.hidden}-{task.n_classes}", epsilon=config.epsilon,
                          activation="srelu", dropout=config.dropout),
        rewiring=RewiringConfig(rule="set", drop_fraction=config.drop_fraction, evolve_output_layer=True),
        training=TrainConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, momentum=0.9,
                             weight_decay=config.weight_decay, seed=config.seed),
    ).validate()
    run_dir = new_run_dir(config.name, config.runs, prefix="set-mnist-", overwrite=config.overwrite)
    settings = asdict(config)
    write_json(run_dir / "config.json", settings)
    model, rule = build_model(run_config, task)
    log = EpochLog(run_dir, config.hours * 3600, settings)
    result = Trainer(model, task, run_config.training, [log, rule]).fit()
    figures = summary(log.rows, settings, result.peak_memory_mb, time.perf_counter() - log.started)
    figures["status"], figures["reason"] = result.status, result.reason
    write_json(run_dir / "summary.json", figures)
    Console(stderr=True).print(
        f"{figures['epochs']} epochs in {figures['seconds']:.0f} s: test accuracy {figures['last_test_accuracy']:.4f} "
        f"(best {figures['best_test_accuracy']:.4f}; the paper: {PAPER_TEST_ACCURACY:.4f} after 1,000 epochs); "
        f"results in {run_dir}")
    return figures
