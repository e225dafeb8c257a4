"""SET vs SET-motif (Su 2022): the same network, data and budget, two rules, several ε and seeds.

Su's setting: Fashion-MNIST with 5,000 training and 1,000 test images, 784-3000-3000-3000-10,
ζ = 0.3, SGD lr 0.05, momentum 0.9, weight decay 2e-4, batch 40.  The output layer stays static
under SET-motif, as in the study's code; SET evolves every layer, as in Mocanu et al.
Each row of the CSV is one run: selected-epoch validation accuracy, test accuracy (read once, at
that epoch), and seconds per phase.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
from rich.console import Console
from rich.table import Table

from structsearch import seeds
from structsearch.config import ModelConfig, RewiringConfig, RunConfig, TaskConfig
from structsearch.errors import ConfigError
from structsearch.experiments.settings import SetVsMotifConfig
from structsearch.pipeline import load_configured_task, run_training
from structsearch.runs import new_run_dir, write_json, write_rows
from structsearch.train import TrainConfig


def parse_floats(text: str, what: str) -> list[float]:
    try:
        values = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise ConfigError(f"{what} is empty")
    return values


def run_set_vs_motif(config: SetVsMotifConfig) -> list[dict]:
    """Train the same sparse MLPs with SET and with SET-motif, over ε values and repeats.

    Parameters
    ----------
    config : SetVsMotifConfig
        The task, the hidden layers, the ε values, the training setting and where to write.

    Returns
    -------
    list of dict
        One row per training: rule, ε, repeat, status, connections, selected epoch, validation
        and test accuracy, seconds by phase (also written to the run folder's
        ``set_vs_motif.csv`` after every training).

    References
    ----------
    Su (2022), SET-motif; Mocanu et al. (2018), SET.
    """
    epsilons = parse_floats(config.epsilons, "--epsilons")
    task_config = TaskConfig(config.task, {"train_size": config.train_size, "test_size": config.test_size}
                             if config.task in ("mnist", "fashion-mnist") else {})
    probe = RunConfig(task=task_config).validate()
    task = load_configured_task(probe, config.data_dir)
    architecture = f"{task.n_inputs}-{config.hidden}-{task.n_classes}"
    run_dir = new_run_dir(config.name, config.runs, prefix="set-vs-motif-", overwrite=config.overwrite)
    rows: list[dict] = []
    console = Console(stderr=True)
    for epsilon in epsilons:
        for repeat in range(config.repeats):
            for rule in ("set", "set-motif"):
                run_config = RunConfig(
                    task=task_config,
                    model=ModelConfig(architecture=architecture, epsilon=epsilon),
                    rewiring=RewiringConfig(rule=rule, drop_fraction=config.drop_fraction,
                                            evolve_output_layer=rule == "set"),
                    training=TrainConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                                         momentum=0.9, weight_decay=2e-4,
                                         seed=seeds.derive(config.seed, "repeat", repeat)),
                )
                _, result = run_training(run_config, task)
                seconds = result.seconds
                row = {
                    "rule": rule, "epsilon": epsilon, "repeat": repeat, "status": result.status,
                    "connections": sum(result.connections), "selected_epoch": result.selected_epoch,
                    "val_accuracy": result.val_accuracy, "test_accuracy": result.test_accuracy,
                    "train_seconds": seconds.get("train", 0.0),
                    "evaluation_seconds": seconds.get("evaluation", 0.0),
                    "evolution_seconds": seconds.get("evolution", 0.0),
                    "total_seconds": seconds.get("total", 0.0),
                }
                rows.append(row)
                write_rows(run_dir / "set_vs_motif.csv", rows)  # after every run: nothing is lost
                console.print(
                    f"ε={epsilon:g} repeat {repeat} {rule:9s} test {row['test_accuracy']:.4f} "
                    f"val {row['val_accuracy']:.4f} connections {row['connections']:,} "
                    f"train {row['train_seconds']:.1f}s evolution {row['evolution_seconds']:.2f}s"
                )
    write_json(run_dir / "config.json", asdict(config) | {"architecture": architecture})
    summarise(rows)
    console.print(f"results in {run_dir}")
    return rows


def summarise(rows: list[dict]) -> None:
    table = Table(title="SET vs SET-motif (mean ± std over repeats)")
    for column in ("ε", "rule", "connections", "val acc", "test acc", "train s", "evolution s"):
        table.add_column(column)
    keys = sorted({(r["epsilon"], r["rule"]) for r in rows})
    for epsilon, rule in keys:
        group = [r for r in rows if r["epsilon"] == epsilon and r["rule"] == rule and r["test_accuracy"] is not None]
        if not group:
            continue

        def stat(key, digits=4, group=group):
            values = np.array([r[key] for r in group], dtype=float)
            return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"

        table.add_row(f"{epsilon:g}", rule, f"{group[0]['connections']:,}", stat("val_accuracy"),
                      stat("test_accuracy"), stat("train_seconds", 2), stat("evolution_seconds", 3))
    Console().print(table)
