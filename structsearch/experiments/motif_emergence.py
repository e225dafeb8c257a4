"""Motif emergence: which patterns does SET keep, and does building from them help?

1. Train a SET-MLP (default: Fashion-MNIST, 5,000 training images, 784-256-256-10, ε = 10,
   ζ = 0.3) with a motif census every epoch (:class:`~structsearch.motifs.dynamics.MotifDynamics`):
   z-scores and structural balance over training.
2. From the final census, the motif-informed prior (over-represented motifs weighted by z).
3. For each seed: a motif-informed genotype on the same layer sizes, and an Erdős–Rényi control with
   the *same number of connections in every layer pair*; both train statically (no rewiring) for
   the same epochs.  Test accuracy by prior, mean ± std over the seeds.

Writes ``dynamics.csv``, ``census.json``, ``priors.csv``, ``summary.json`` and two plots
(z-scores over epochs; accuracy by prior).
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import numpy as np
from rich.console import Console

from structsearch import seeds
from structsearch.config import ModelConfig, RewiringConfig, RunConfig, TaskConfig
from structsearch.errors import ConfigError, DataError
from structsearch.experiments.settings import MotifEmergenceConfig
from structsearch.graphs import LayeredGraph, motif_informed
from structsearch.graphs.density import sample_positions
from structsearch.motifs.census import census, graph_of_model, motif_mix, save_census, signed_motifs
from structsearch.motifs.dynamics import MotifDynamics
from structsearch.nn.mlp import parse_architecture
from structsearch.pipeline import ModelSpec, build_candidate, build_model, load_configured_task
from structsearch.runs import new_run_dir, write_json, write_rows
from structsearch.train import TrainConfig, train


def matched_erdos_renyi(graph: LayeredGraph, rng: np.random.Generator) -> LayeredGraph:
    """Uniformly random edges with exactly ``graph``'s count in every (source, target) layer pair."""
    layers = graph.layers
    src, dst = graph.src.astype(np.int64), graph.dst.astype(np.int64)
    width = np.bincount(layers)
    start = np.concatenate([[0], np.cumsum(width)])
    new_src, new_dst = [], []
    pairs, counts = np.unique(np.stack([layers[src], layers[dst]], 1), axis=0, return_counts=True)
    for (a, b), k in zip(pairs, counts, strict=True):
        rows, cols = sample_positions(int(width[b]), int(width[a]), int(k), rng)
        new_src.append(start[a] + cols)
        new_dst.append(start[b] + rows)
    return graph.with_edges(np.concatenate(new_src), np.concatenate(new_dst))


def informed_with_edges(sizes: list[int], census_data: dict, target_edges: int, rng: np.random.Generator,
                        tries: int = 6) -> LayeredGraph:
    """A motif-informed genotype on ``sizes`` whose connection count is close to ``target_edges``
    (the number of motifs placed is adjusted by secant steps)."""
    motifs = max(1, target_edges // 3)
    best = None
    for _ in range(tries):
        graph = motif_informed(sizes, census_data, motifs, np.random.default_rng(rng.integers(2**62)))
        if best is None or abs(graph.n_edges - target_edges) < abs(best.n_edges - target_edges):
            best = graph
        if abs(graph.n_edges - target_edges) <= 0.01 * target_edges:
            break
        motifs = max(1, int(round(motifs * target_edges / max(graph.n_edges, 1))))
    return best


def run_motif_emergence(settings: MotifEmergenceConfig) -> dict:
    if settings.seeds < 1 or settings.samples < 1:
        raise ConfigError(f"--seeds and --samples must be positive, got {settings.seeds} and {settings.samples}")
    options = {"train_size": settings.train_size, "test_size": settings.test_size} \
        if settings.task in ("mnist", "fashion-mnist") else {}
    config = RunConfig(task=TaskConfig(settings.task, options),
                       model=ModelConfig(architecture=settings.architecture, epsilon=settings.epsilon),
                       rewiring=RewiringConfig(rule=settings.rule, drop_fraction=settings.drop_fraction),
                       training=TrainConfig(epochs=settings.epochs, batch_size=settings.batch_size, lr=settings.lr,
                                            momentum=0.9, weight_decay=2e-4, seed=0)).validate()
    task = load_configured_task(config, settings.data_dir)
    run_dir = new_run_dir(settings.name, settings.runs, prefix="motif-emergence-", overwrite=settings.overwrite)
    console = Console(stderr=True)

    # 1. SET with a census every epoch
    started = time.perf_counter()
    model, rule = build_model(config, task)
    dynamics = MotifDynamics(every=1, samples=settings.samples, seed=settings.seed)
    result = train(model, task, config.training, [rule, dynamics])
    write_rows(run_dir / "dynamics.csv", dynamics.records)
    final_graph, weights = graph_of_model(model)
    final = census(final_graph, settings.final_samples, settings.seed)
    final["signed"] = signed_motifs(final_graph, weights)
    save_census(final, run_dir / "census.json")
    console.print(f"{settings.rule} on {task.name} {settings.architecture}: test {result.test_accuracy:.4f}, "
                  f"{final_graph.n_edges:,} connections ({time.perf_counter() - started:.0f} s); final z: "
                  + ", ".join(f"{k} {v['z']:+.2f}" for k, v in final["motifs"].items())
                  + f"; balance {final['signed']['balance']:.3f}")

    # 2–3. motif-informed prior against a matched Erdős–Rényi control
    rows = []
    try:
        mix = motif_mix(final, "the final census")
    except DataError as error:  # no over-represented motif: report it, nothing to compare
        console.print(f"[yellow]{error}[/yellow]")
        mix = None
    sizes = parse_architecture(settings.architecture)
    if mix is not None:
        for seed in range(settings.seeds):
            rng = seeds.generator(settings.seed, "repeat", seed)
            informed = informed_with_edges(sizes, final, final_graph.n_edges, rng)
            control = matched_erdos_renyi(informed, rng)
            for prior, graph in (("motif-informed", informed), ("erdos-renyi", control)):
                network, _ = build_candidate(graph, ModelSpec(), task, seed)
                trained = train(network, task, dataclasses.replace(config.training, seed=seed))
                rows.append({"seed": seed, "prior": prior, "connections": graph.n_edges,
                             "skip_connections": int(graph.skip_edges().sum()),
                             "test_accuracy": trained.test_accuracy, "val_accuracy": trained.val_accuracy,
                             "status": trained.status})
                console.print(f"  seed {seed} {prior:15s} {graph.n_edges:,} connections: test "
                              f"{trained.test_accuracy:.4f}")
        write_rows(run_dir / "priors.csv", rows)
    summary = {"set_test_accuracy": result.test_accuracy, "set_connections": final_graph.n_edges,
               "final_z": {k: v["z"] for k, v in final["motifs"].items()},
               "final_balance": final["signed"]["balance"], "mix": mix}
    for prior in ("motif-informed", "erdos-renyi"):
        values = [r["test_accuracy"] for r in rows if r["prior"] == prior]
        if values:
            summary[prior] = {"mean": statistics.mean(values),
                              "std": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}
    write_json(run_dir / "summary.json", summary)
    plot(dynamics.records, rows, run_dir, settings.rule)
    for prior in ("motif-informed", "erdos-renyi"):
        if prior in summary:
            console.print(f"{prior}: test {summary[prior]['mean']:.4f} ± {summary[prior]['std']:.4f} "
                          f"over {summary[prior]['n']} seeds")
    console.print(f"results in {run_dir}")
    return summary


def plot(records: list[dict], rows: list[dict], run_dir, rule: str = "set") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    epochs = [r["epoch"] + 1 for r in records]
    for name in ("bi-fan", "ffl-skip", "v", "fan-out", "chain"):
        left.plot(epochs, [r[f"{name}_z"] for r in records], marker="o", markersize=3, label=name)
    balance = left.twinx()
    balance.plot(epochs, [r["balance"] for r in records], "k--", label="balance")
    balance.set_ylabel("structural balance")
    left.set_xlabel("epoch (0: initialisation)")
    left.set_ylabel("z-score against the null model")
    left.legend(fontsize=8, loc="upper left")
    left.set_title(f"motifs during {rule} training")
    priors = [p for p in ("motif-informed", "erdos-renyi") if any(r["prior"] == p for r in rows)]
    for index, prior in enumerate(priors):
        values = [r["test_accuracy"] for r in rows if r["prior"] == prior]
        right.bar(index, np.mean(values), yerr=np.std(values, ddof=1) if len(values) > 1 else 0, capsize=6)
        right.scatter([index] * len(values), values, color="k", s=10, zorder=3)
    right.set_xticks(range(len(priors)), priors)
    right.set_ylabel("test accuracy")
    right.set_title("same connections per layer pair")
    if rows:
        low = min(r["test_accuracy"] for r in rows)
        right.set_ylim(max(0.0, low - 0.05), min(1.0, max(r["test_accuracy"] for r in rows) + 0.02))
    figure.tight_layout()
    figure.savefig(run_dir / "motif_emergence.png", dpi=120)
    plt.close(figure)
