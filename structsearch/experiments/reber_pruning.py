"""Pruning study on Reber (Stier et al. 2021, §4.2; their Figures 2b and 5).

For each cell type, train one base model (dense-equivalent recurrent layers), then for every
percentage p = 10 %, 20 %, …, 100 % and every target — input-to-hidden weights, hidden-to-hidden
weights, or both — start again from the base model, remove the p % of smallest-magnitude weights of
every recurrent layer (per layer), and record test accuracy right after pruning and after one and
two retraining epochs (pruned weights stay removed).  Writes ``reber_pruning.csv`` and
``reber_pruning.png`` to the run directory.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, replace

from rich.console import Console

from structsearch.config import ModelConfig
from structsearch.experiments.settings import ReberPruningConfig
from structsearch.nn.recurrent import SparseRecurrentNet, check_cell, dense_equivalent
from structsearch.pipeline import ModelSpec, build_candidate
from structsearch.runs import new_run_dir, write_json, write_rows
from structsearch.sparsity.pruning import WeightGroup, prune_smallest
from structsearch.tasks import load_task
from structsearch.train import TrainConfig, Trainer

TARGETS = ("input", "hidden", "both")


def prune_model(model: SparseRecurrentNet, target: str, fraction: float) -> dict[str, int]:
    """Prune every recurrent layer of ``model`` in place; returns the weights removed per kind."""
    removed = {"input": 0, "hidden": 0}
    for layer in model.recurrent:
        if target in ("input", "both"):
            removed["input"] += prune_smallest(WeightGroup("input", sparse=layer.input), fraction)
        if target in ("hidden", "both"):
            removed["hidden"] += prune_smallest(WeightGroup("hidden", owner=layer), fraction)
    return removed


def run_reber_pruning(config: ReberPruningConfig) -> list[dict]:
    cells = [check_cell(c.strip()) for c in config.cells.split(",") if c.strip()]
    hidden = [int(h) for h in config.hidden.split("-")]
    task = load_task("reber", n_strings=config.n_strings, seed=config.seed)
    run_dir = new_run_dir(config.name, config.runs, prefix="reber-pruning-", overwrite=config.overwrite)
    write_json(run_dir / "config.json", asdict(config))
    training = TrainConfig(epochs=config.epochs, optimizer="adam", lr=config.lr, batch_size=config.batch_size,
                           grad_clip=5.0, seed=config.seed)
    console = Console(stderr=True)
    rows: list[dict] = []
    for cell in cells:
        spec = ModelSpec(ModelConfig(cell=cell))
        base, _ = build_candidate(dense_equivalent(config.embedding, hidden), spec, task, config.seed)
        started = time.perf_counter()
        base_result = Trainer(base, task, training).fit()
        console.print(f"{cell}: base model test accuracy {base_result.test_accuracy:.4f} "
                      f"({time.perf_counter() - started:.1f} s)")
        for target in TARGETS:
            for percent in range(10, 101, 10):
                model = copy.deepcopy(base)
                removed = prune_model(model, target, percent / 100)
                retrain = Trainer(model, task, replace(training, epochs=2))
                row = {"cell": cell, "target": target, "percent": percent,
                       "removed_input": removed["input"], "removed_hidden": removed["hidden"],
                       "base_accuracy": base_result.test_accuracy,
                       "accuracy_pruned": retrain.evaluate(task.test)[1]}
                for epoch in (1, 2):
                    retrain.train_epoch()
                    row[f"accuracy_retrain_{epoch}"] = retrain.evaluate(task.test)[1]
                rows.append(row)
                write_rows(run_dir / "reber_pruning.csv", rows)  # after every row: nothing is lost
                console.print(f"  {cell} {target:6s} {percent:3d}%: pruned {row['accuracy_pruned']:.3f} "
                              f"→ {row['accuracy_retrain_1']:.3f} → {row['accuracy_retrain_2']:.3f}")
    plot(rows, run_dir / "reber_pruning.png")
    console.print(f"results in {run_dir}")
    return rows


def plot(rows: list[dict], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = sorted({r["cell"] for r in rows})
    figure, axes = plt.subplots(1, len(cells), figsize=(4.2 * len(cells), 3.6), squeeze=False, sharey=True)
    styles = {"accuracy_pruned": "-", "accuracy_retrain_1": "--", "accuracy_retrain_2": ":"}
    colours = {"input": "tab:blue", "hidden": "tab:orange", "both": "tab:green"}
    for axis, cell in zip(axes[0], cells, strict=True):
        for target in TARGETS:
            group = sorted((r for r in rows if r["cell"] == cell and r["target"] == target), key=lambda r: r["percent"])
            for key, style in styles.items():
                axis.plot([r["percent"] for r in group], [r[key] for r in group], style, color=colours[target],
                          label=f"{target}, {key.replace('accuracy_', '').replace('_', ' ')}")
        axis.set_title(cell)
        axis.set_xlabel("weights pruned (%)")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy")
    axes[0][-1].legend(fontsize=6, loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
