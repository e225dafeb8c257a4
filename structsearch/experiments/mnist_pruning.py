"""MNIST pruning study (Stier et al. 2021, §4.1, their Figure 2a).

For each network (784-100-10 and 784-300-100-10, fully connected), train a base model, then for
every pruning method and compression level prune a copy of the base model in one shot and measure
test accuracy right after pruning and after retraining (``--retrain-epochs``; the pruned
connections stay removed).  One CSV row per (network, method, compression); a plot of test
accuracy against remaining weights, solid with retraining and dashed without.
"""

from __future__ import annotations

import copy
import time

from rich.console import Console

from structsearch.config import ModelConfig, RewiringConfig, RunConfig, TaskConfig
from structsearch.errors import ConfigError
from structsearch.experiments.set_vs_motif import parse_floats
from structsearch.experiments.settings import MnistPruningConfig
from structsearch.pipeline import load_configured_task, run_training
from structsearch.prune_run import pruning_curve
from structsearch.runs import new_run_dir, write_json, write_rows
from structsearch.sparsity.pruning import METHODS
from structsearch.train import TrainConfig


def run_mnist_pruning(config: MnistPruningConfig) -> list[dict]:
    methods = [m.strip() for m in config.methods.split(",") if m.strip()]
    for method in methods:
        METHODS.check(method)
    levels = parse_floats(config.compressions, "--compressions")
    if any(not 0 < level < 100 for level in levels):
        raise ConfigError(f"--compressions are percentages in (0, 100), got {config.compressions}")
    networks = [n.strip() for n in config.networks.split(",") if n.strip()]
    options = {"train_size": config.train_size} if config.train_size else {}
    training = TrainConfig(epochs=config.epochs, batch_size=config.batch_size, optimizer="sgd", lr=config.lr,
                           momentum=0.9, seed=config.seed)
    run_dir = new_run_dir(config.name, config.runs, prefix="mnist-pruning-", overwrite=config.overwrite)
    console = Console(stderr=True)
    rows: list[dict] = []
    task = None
    for network in networks:
        run_config = RunConfig(task=TaskConfig(config.task, options), model=ModelConfig(
            architecture=network, density_scheme="uniform", density=1.0),
            rewiring=RewiringConfig(rule="none"), training=training).validate()
        task = task or load_configured_task(run_config, config.data_dir)
        started = time.perf_counter()
        base, result = run_training(run_config, task)
        console.print(f"{network}: base test accuracy {result.test_accuracy:.4f} "
                      f"({time.perf_counter() - started:.0f} s, {sum(result.connections):,} weights)")
        rows.append({"network": network, "method": "none", "compression": 0.0, "remaining": sum(result.connections),
                     "test_accuracy_pruned": result.test_accuracy, "test_accuracy_retrained": result.test_accuracy,
                     "val_accuracy_pruned": result.val_accuracy, "val_accuracy_retrained": result.val_accuracy,
                     "seconds": 0.0})
        for method in methods:
            for level in levels:
                model = copy.deepcopy(base)
                curve = pruning_curve(model, task, method, "one-shot", level / 100, 1, config.retrain_epochs,
                                      training, seed=config.seed, samples=config.obd_samples)
                last = curve[-1]
                row = {"network": network, "method": method, "compression": level, "remaining": last["remaining"],
                       **{k: last[k] for k in ("test_accuracy_pruned", "test_accuracy_retrained",
                                               "val_accuracy_pruned", "val_accuracy_retrained", "seconds")}}
                rows.append(row)
                console.print(f"  {network} {method:22s} {level:4.0f} %: pruned {row['test_accuracy_pruned']:.4f} "
                              f"→ retrained {row['test_accuracy_retrained']:.4f} ({row['seconds']:.0f} s)")
                write_rows(run_dir / "mnist_pruning.csv", rows)
    write_json(run_dir / "config.json", {"networks": networks, "methods": methods, "compressions": levels,
                                         "retrain_epochs": config.retrain_epochs, "training": training.__dict__,
                                         "task": config.task, "task_options": options})
    plot(rows, run_dir / "mnist_pruning.png")
    console.print(f"results in {run_dir} (mnist_pruning.csv, mnist_pruning.png)")
    return rows


def plot(rows: list[dict], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    networks = sorted({r["network"] for r in rows}, key=len)
    figure, axes = plt.subplots(1, len(networks), figsize=(6 * len(networks), 4.5), squeeze=False)
    for axis, network in zip(axes[0], networks, strict=True):
        base = next(r for r in rows if r["network"] == network and r["method"] == "none")
        methods = sorted({r["method"] for r in rows if r["network"] == network} - {"none"})
        for index, method in enumerate(methods):
            points = sorted((r for r in rows if r["network"] == network and r["method"] == method),
                            key=lambda r: -r["remaining"])
            x = [base["remaining"]] + [r["remaining"] for r in points]
            colour = f"C{index}"
            axis.plot(x, [base["test_accuracy_pruned"]] + [r["test_accuracy_retrained"] for r in points],
                      "-o", color=colour, markersize=3, label=f"{method}, retrained")
            axis.plot(x, [base["test_accuracy_pruned"]] + [r["test_accuracy_pruned"] for r in points],
                      "--", color=colour, alpha=0.6, label=f"{method}, not retrained")
        axis.set_xscale("log")
        axis.invert_xaxis()
        axis.set_xlabel("remaining weights")
        axis.set_ylabel("test accuracy")
        axis.set_title(f"MNIST {network}")
        axis.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
