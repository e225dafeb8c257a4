"""Random-structure study (Stier et al. 2021, §4.3), for any MLP task.

For each prior, sample N networks (Watts–Strogatz with k = n // 5, p = 1, or Barabási–Albert with
m = n // 10, n drawn from a range, as in the source), decode each into a sparse MLP, train it with
the shared trainer and store it in the run store the moment it finishes, with its graph features.
The study is resumable: candidates already in the store are not trained again, and every
candidate's genotype is drawn from its own seed, so a resumed study is the one that would have run.

Outputs in the run directory: ``run.db``; ``correlations.csv`` (Pearson correlation of every
feature with test accuracy, their Table 1); ``predictors.csv`` (R² of each regressor under the
source's single 10 % split and under 5-fold cross-validation, side by side).
"""

from __future__ import annotations

import math
import time

import numpy as np
from rich.console import Console

from structsearch.config import EvolutionConfig, ModelConfig, RunConfig, TaskConfig
from structsearch.errors import ConfigError
from structsearch.graphs import barabasi_albert, watts_strogatz
from structsearch.graphs.features import compute_features, feature_names
from structsearch.nn.mlp import SparseMLP
from structsearch.nn.recurrent import SparseRecurrentNet, check_cell
from structsearch.pipeline import load_configured_task
from structsearch.runs import new_run_dir, write_rows
from structsearch.store import RunStore
from structsearch.train import TrainConfig, train

STUDY_PRIORS = ("watts-strogatz", "barabasi-albert")


def sample_structure(prior_name: str, n: int, n_inputs: int, n_outputs: int, rng: np.random.Generator):
    """The source's parameterisation: WS k = n // 5, p = 1; BA m = n // 10 (at least 1)."""
    if prior_name == "watts-strogatz":
        return watts_strogatz(n, max(1, n // 5), 1.0, rng, n_inputs=n_inputs, n_outputs=n_outputs)
    if prior_name == "barabasi-albert":
        return barabasi_albert(n, max(1, n // 10), rng, n_inputs=n_inputs, n_outputs=n_outputs)
    raise ConfigError(f"unknown study prior {prior_name!r}; known: {', '.join(STUDY_PRIORS)}")


def run_random_structures(task_name: str, priors: list[str], per_prior: int, n_min: int, n_max: int,
                          epochs: int, seed: int, run_dir, data_dir=None, task_options=None,
                          training: dict | None = None, cell: str | None = None,
                          embedding: int = 8, task=None) -> RunStore:
    """Train the study's networks into the store at ``run_dir`` (see the module docstring).

    With ``cell`` (a sequence task such as Reber) each genotype's inputs are the ``embedding``
    dimensions and it decodes into a sparse recurrent network of that cell; otherwise into a sparse
    MLP over the task's inputs.
    """
    if not 2 <= n_min <= n_max:
        raise ConfigError(f"node range must satisfy 2 ≤ min ≤ max, got [{n_min}, {n_max}]")
    for name in priors:
        if name not in STUDY_PRIORS:
            raise ConfigError(f"unknown study prior {name!r}; known: {', '.join(STUDY_PRIORS)}")
    config = RunConfig(task=TaskConfig(task_name, dict(task_options or {})), model=ModelConfig(cell=cell),
                       evolution=EvolutionConfig(rule="none"),
                       training=TrainConfig(epochs=epochs, seed=seed, **(training or {}))).validate()
    task = task or load_configured_task(config, data_dir)
    if task.sequence and cell is None:
        raise ConfigError(f"task {task.name!r} holds sequences: name a recurrent cell")
    stored = config.to_dict()
    stored["model"]["kind"] = cell or "mlp"
    store = RunStore.create(run_dir, {**stored, "study": "random-structures", "priors": priors,
                                      "per_prior": per_prior, "nodes": [n_min, n_max]})
    n_inputs = embedding if cell else task.n_inputs
    done = {(c.origin, c.generation) for c in store.candidates() if c.status is not None}
    console = Console(stderr=True)
    for prior_index, prior_name in enumerate(priors):
        for index in range(per_prior):
            if (prior_name, index) in done:
                continue
            rng = np.random.default_rng([seed, prior_index, index])
            n = int(rng.integers(n_min, n_max + 1))
            graph = sample_structure(prior_name, n, n_inputs, task.n_classes, rng)
            features, feature_meta = compute_features(graph)
            if cell:
                model = SparseRecurrentNet.from_graph(graph, cell, task.vocabulary_size, seed=seed + index)
            else:
                model = SparseMLP(graph.to_blocks(), activation=config.model.activation)
            started = time.perf_counter()
            result = train(model, task, TrainConfig(**{**config.training.__dict__, "seed": seed + index}))
            metrics = {"test_accuracy": result.test_accuracy, "val_accuracy": result.val_accuracy,
                       "selected_epoch": result.selected_epoch, "connections": graph.n_edges, "nodes": n}
            store.add_candidate(graph, generation=index, origin=prior_name, features=features,
                                feature_meta=feature_meta,
                                result={"status": result.status, "metrics": metrics, "curves": result.curves,
                                        "seconds": result.seconds, "reason": result.reason})
            console.print(f"{prior_name} #{index} n={n} edges={graph.n_edges} layers={graph.n_hidden_layers} "
                          f"test {result.test_accuracy if result.test_accuracy is not None else float('nan'):.4f} "
                          f"({time.perf_counter() - started:.1f} s)")
    return store


def correlations(store: RunStore) -> list[dict]:
    """Pearson correlation of every feature with test accuracy over the finished candidates."""
    rows = [c for c in store.candidates() if c.status == "ok" and c.features]
    y = np.array([c.metrics["test_accuracy"] for c in rows], dtype=float)
    table = []
    for name in feature_names():
        x = np.array([c.features[name] for c in rows], dtype=float)
        r = float(np.corrcoef(x, y)[0, 1]) if len(rows) > 2 and x.std() > 0 and y.std() > 0 else math.nan
        table.append({"feature": name, "pearson_r": r})
    return sorted(table, key=lambda row: -abs(row["pearson_r"]) if not math.isnan(row["pearson_r"]) else 0)


def predictor_comparison(store: RunStore, seed: int = 0) -> list[dict]:
    """R² of each regressor: single 10 % split (the source's protocol) beside 5-fold CV."""
    from structsearch.predictors.evaluation import cross_validate, single_split
    from structsearch.predictors.model import MODELS, make_pipeline

    rows = [c for c in store.candidates() if c.status == "ok" and c.features]
    if len(rows) < 10:
        return []
    names = feature_names()
    x = np.array([[c.features[n] for n in names] for c in rows], dtype=float)
    y = np.array([c.metrics["test_accuracy"] for c in rows], dtype=float)
    table = []
    for model in MODELS:
        cv = cross_validate(make_pipeline(model, seed), x, y, folds=5, repeats=1, seed=seed)
        single = single_split(make_pipeline(model, seed), x, y, 0.1, seed)
        table.append({"model": model, "single_split_r2": single["r2"], "cv5_r2_mean": cv["r2"]["mean"],
                      "cv5_r2_std": cv["r2"]["std"], "cv5_kendall_tau": cv["kendall_tau"]["mean"]})
    return table


def run_study_command(args) -> None:
    if args.resume:
        RunStore.open(args.resume).close()  # a clear error when it is not a run directory
    run_dir = args.resume or new_run_dir(args.name, args.runs, prefix="random-structures-")
    started = time.perf_counter()
    options = dict(args.task_option or [])
    store = run_random_structures(args.task, args.priors.split(","), args.per_prior, args.min_nodes,
                                  args.max_nodes, args.epochs, args.seed, run_dir, args.data_dir, options,
                                  {"lr": args.lr, "optimizer": args.optimizer, "batch_size": args.batch_size})
    report(store, args.seed, started)


def report(store: RunStore, seed: int, started: float) -> None:
    """Write correlations.csv and predictors.csv beside the store and print their heads."""
    table = correlations(store)
    write_rows(store.path.parent / "correlations.csv", table)
    comparison = predictor_comparison(store, seed)
    if comparison:
        write_rows(store.path.parent / "predictors.csv", comparison)
    console = Console()
    console.print(f"{store.count()} networks in {store.path} ({time.perf_counter() - started:.1f} s this session)")
    for row in table[:10]:
        console.print(f"  {row['feature']:32s} r = {row['pearson_r']:+.3f}")
    for row in comparison:
        console.print(f"  {row['model']:15s} single-split R² {row['single_split_r2']:+.3f}   "
                      f"5-fold R² {row['cv5_r2_mean']:+.3f} ± {row['cv5_r2_std']:.3f}")
    store.close()


def run_reber_priors_command(args) -> None:
    """Stier et al. §4.3 on Reber: per cell, N Watts–Strogatz and N Barabási–Albert networks.

    One run store per cell: ``<run>/<cell>/run.db``.  ``--resume <run>`` continues every cell.
    """
    from pathlib import Path

    from structsearch.tasks import load_task

    cells = [check_cell(c.strip()) for c in args.cells.split(",") if c.strip()]
    if args.resume:
        base = Path(args.resume)
        if not any((base / cell / "run.db").is_file() for cell in cells):
            RunStore.open(base)  # the one-line "not a run directory" error
    else:
        base = new_run_dir(args.name, args.runs, prefix="reber-priors-")
    task = load_task("reber", n_strings=args.n_strings, seed=args.seed)
    training = {"lr": args.lr, "optimizer": "adam", "batch_size": args.batch_size, "grad_clip": 5.0}
    for cell in cells:
        started = time.perf_counter()
        store = run_random_structures("reber", list(STUDY_PRIORS), args.per_prior, args.min_nodes,
                                      args.max_nodes, args.epochs, args.seed, base / cell,
                                      task_options={"n_strings": args.n_strings, "seed": args.seed},
                                      training=training, cell=cell, embedding=args.embedding, task=task)
        Console().print(f"[bold]{cell}[/bold]")
        report(store, args.seed, started)
