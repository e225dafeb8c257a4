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

import hashlib
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from rich.console import Console

from structsearch import seeds
from structsearch.config import ModelConfig, RewiringConfig, RunConfig, TaskConfig
from structsearch.errors import ConfigError
from structsearch.experiments.settings import RandomStructuresConfig, ReberPriorsConfig
from structsearch.graphs import barabasi_albert, watts_strogatz
from structsearch.graphs.features import compute_features, feature_names
from structsearch.nn.recurrent import check_cell
from structsearch.pipeline import ModelSpec, build_candidate, load_configured_task
from structsearch.predictors.evaluation import cross_validate, single_split
from structsearch.predictors.model import MODELS, make_pipeline
from structsearch.runs import new_run_dir, write_rows
from structsearch.store import RunStore
from structsearch.tasks import load_task
from structsearch.train import TrainConfig, train

STUDY_PRIORS = ("watts-strogatz", "barabasi-albert")


def sample_structure(prior_name: str, n: int, n_inputs: int, n_outputs: int, rng: np.random.Generator):
    """The source's parameterisation: WS k = n // 5, p = 1; BA m = n // 10 (at least 1)."""
    if prior_name == "watts-strogatz":
        return watts_strogatz(n, max(1, n // 5), 1.0, rng, n_inputs=n_inputs, n_outputs=n_outputs)
    if prior_name == "barabasi-albert":
        return barabasi_albert(n, max(1, n // 10), rng, n_inputs=n_inputs, n_outputs=n_outputs)
    raise ConfigError(f"unknown study prior {prior_name!r}; known: {', '.join(STUDY_PRIORS)}")


def training_runs(candidate) -> list[dict]:
    """The trainings stored for a candidate (a store written before repeats existed holds one)."""
    metrics = candidate.metrics
    if "runs" in metrics:
        return [dict(run) for run in metrics["runs"]]
    return [{"seed": None, "status": candidate.status, "test_accuracy": metrics.get("test_accuracy"),
             "val_accuracy": metrics.get("val_accuracy"), "selected_epoch": metrics.get("selected_epoch"),
             "reason": candidate.reason}]


def combine_runs(runs: list[dict]) -> dict:
    """Status and metrics of a network from its trainings: means over them, each kept in ``runs``.

    The network is ``ok`` only when every training is; otherwise it takes the first failure's
    status and reason, and its accuracies are the means over the trainings that finished.
    """
    failed = [run for run in runs if run["status"] != "ok"]
    finished = [run for run in runs if run["test_accuracy"] is not None]

    def mean(key):
        return float(np.mean([run[key] for run in finished])) if finished else None

    metrics = {"test_accuracy": mean("test_accuracy"), "val_accuracy": mean("val_accuracy"),
               "selected_epoch": runs[0]["selected_epoch"], "runs": runs}
    if len(finished) > 1:
        metrics["test_accuracy_std"] = float(np.std([run["test_accuracy"] for run in finished], ddof=1))
    return {"status": failed[0]["status"] if failed else "ok", "metrics": metrics,
            "reason": failed[0]["reason"] if failed else ""}


def run_random_structures(task_name: str, priors: list[str], per_prior: int, n_min: int, n_max: int,
                          epochs: int, seed: int, run_dir, data_dir=None, task_options=None,
                          training: dict | None = None, cell: str | None = None,
                          embedding: int = 8, task=None, repeats: int = 1) -> RunStore:
    """Train the study's networks into the store at ``run_dir`` (see the module docstring).

    With ``cell`` (a sequence task such as Reber) each genotype's inputs are the ``embedding``
    dimensions and it decodes into a sparse recurrent network of that cell; otherwise into a sparse
    MLP over the task's inputs.

    Each network is trained ``repeats`` times from different initial weights (and batch orders);
    its stored accuracies are the means over those trainings, and ``metrics["runs"]`` keeps each
    one.  Resuming with a larger ``repeats`` adds the missing trainings to networks already stored.
    """
    if repeats < 1:
        raise ConfigError(f"repeats must be ≥ 1, got {repeats}")
    if not 2 <= n_min <= n_max:
        raise ConfigError(f"node range must satisfy 2 ≤ min ≤ max, got [{n_min}, {n_max}]")
    for name in priors:
        if name not in STUDY_PRIORS:
            raise ConfigError(f"unknown study prior {name!r}; known: {', '.join(STUDY_PRIORS)}")
    config = RunConfig(task=TaskConfig(task_name, dict(task_options or {})), model=ModelConfig(cell=cell),
                       rewiring=RewiringConfig(rule="none"),
                       training=TrainConfig(epochs=epochs, seed=seed, **(training or {}))).validate()
    task = task or load_configured_task(config, data_dir)
    if task.sequence and cell is None:
        raise ConfigError(f"task {task.name!r} holds sequences: name a recurrent cell")
    stored = config.to_dict()
    stored["model"]["kind"] = cell or "mlp"
    store = RunStore.create(run_dir, {**stored, "study": "random-structures", "priors": priors,
                                      "per_prior": per_prior, "nodes": [n_min, n_max],
                                      "seed_version": seeds.SEED_VERSION}, kind="random-structures")
    if store.count():
        seeds.check_version(store.config.get("seed_version", 1), run_dir)
    n_inputs = embedding if cell else task.n_inputs
    stored_runs = {(c.origin, c.generation): c for c in store.candidates() if c.status is not None}
    console = Console(stderr=True)
    for prior_name in priors:
        for index in range(per_prior):
            existing = stored_runs.get((prior_name, index))
            runs = training_runs(existing) if existing else []
            if len(runs) >= repeats:
                continue
            # the genotype depends on (seed, prior, index) only, whichever priors this call runs
            prior_index = STUDY_PRIORS.index(prior_name)
            rng = seeds.generator(seed, "network", prior_index, index)
            n = int(rng.integers(n_min, n_max + 1))
            graph = sample_structure(prior_name, n, n_inputs, task.n_classes, rng)
            started = time.perf_counter()
            curves, seconds = (existing.curves, existing.seconds) if existing else ({}, {})
            for repeat in range(len(runs), repeats):
                init_seed = seeds.derive(seed, "network-init", prior_index, index, repeat)
                model, _ = build_candidate(graph, ModelSpec(config.model), task, init_seed)
                result = train(model, task, replace(config.training, seed=init_seed))
                runs.append({"seed": init_seed, "status": result.status, "test_accuracy": result.test_accuracy,
                             "val_accuracy": result.val_accuracy, "selected_epoch": result.selected_epoch,
                             "reason": result.reason})
                curves = curves or result.curves  # the first training's curves
                seconds = {key: seconds.get(key, 0.0) + value for key, value in result.seconds.items()}
            outcome = combine_runs(runs)
            metrics = {**outcome["metrics"], "connections": graph.n_edges, "nodes": n}
            if existing:
                store.record_result(existing.id, outcome["status"], metrics, curves, seconds,
                                    reason=outcome["reason"])
            else:
                features, feature_meta = compute_features(graph)
                store.add_candidate(graph, generation=index, origin=prior_name, features=features,
                                    feature_meta=feature_meta,
                                    result={"status": outcome["status"], "metrics": metrics, "curves": curves,
                                            "seconds": seconds, "reason": outcome["reason"]})
            test = metrics["test_accuracy"]
            console.print(f"{prior_name} #{index} n={n} edges={graph.n_edges} layers={graph.n_hidden_layers} "
                          f"test {test if test is not None else float('nan'):.4f}"
                          f"{f' (mean of {len(runs)})' if len(runs) > 1 else ''} "
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


COMPARISON_KEY = "predictor_comparison"  # the store's record of the last comparison and its digest


def predictor_comparison(store: RunStore, seed: int = 0) -> list[dict]:
    """R² of each regressor: single 10 % split (the source's protocol) beside 5-fold CV.  Kept in the
    store with a digest of its rows and seed: a resumed study that trained nothing new reprints it
    without refitting every model."""
    rows = [c for c in store.candidates() if c.status == "ok" and c.features]
    if len(rows) < 10:
        return []
    names = feature_names()
    x = np.array([[c.features[n] for n in names] for c in rows], dtype=float)
    y = np.array([c.metrics["test_accuracy"] for c in rows], dtype=float)
    digest = hashlib.sha256(x.tobytes() + y.tobytes() + f"{seed} {' '.join(MODELS)}".encode()).hexdigest()
    kept = store.meta(COMPARISON_KEY)
    if kept and kept.get("digest") == digest:
        return kept["table"]
    table = []
    for model in MODELS:
        cv = cross_validate(make_pipeline(model, seed), x, y, folds=5, repeats=1, seed=seed)
        single = single_split(make_pipeline(model, seed), x, y, 0.1, seed)
        table.append({"model": model, "single_split_r2": single["r2"], "cv5_r2_mean": cv["r2"]["mean"],
                      "cv5_r2_std": cv["r2"]["std"], "cv5_kendall_tau": cv["kendall_tau"]["mean"]})
    store.set_meta(COMPARISON_KEY, {"digest": digest, "table": table})
    return table


def run_random_structures_study(config: RandomStructuresConfig) -> Path:
    """``structsearch experiment random-structures``: train the networks, then report; the run directory."""
    if config.resume:
        RunStore.open(config.resume, kind="random-structures").close()  # one line when it is not one
    run_dir = Path(config.resume) if config.resume else new_run_dir(
        config.name, config.runs, prefix="random-structures-", overwrite=config.overwrite)
    started = time.perf_counter()
    store = run_random_structures(config.task, config.priors.split(","), config.per_prior, config.min_nodes,
                                  config.max_nodes, config.epochs, config.seed, run_dir, config.data_dir,
                                  dict(config.task_options or {}),
                                  {"lr": config.lr, "optimizer": config.optimizer, "batch_size": config.batch_size},
                                  repeats=config.repeats)
    report(store, config.seed, started)
    return run_dir


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


def run_reber_priors(config: ReberPriorsConfig) -> Path:
    """Stier et al. §4.3 on Reber: per cell, N Watts–Strogatz and N Barabási–Albert networks.

    One run store per cell: ``<run>/<cell>/run.db``.  ``--resume <run>`` continues every cell.
    """
    cells = [check_cell(c.strip()) for c in config.cells.split(",") if c.strip()]
    if config.resume:
        base = Path(config.resume)
        if not any((base / cell / "run.db").is_file() for cell in cells):
            RunStore.open(base, kind="random-structures")  # the one-line "not a run directory" error
    else:
        base = new_run_dir(config.name, config.runs, prefix="reber-priors-", overwrite=config.overwrite)
    task = load_task("reber", n_strings=config.n_strings, seed=config.seed)
    training = {"lr": config.lr, "optimizer": "adam", "batch_size": config.batch_size, "grad_clip": 5.0}
    for cell in cells:
        started = time.perf_counter()
        store = run_random_structures("reber", config.priors.split(","), config.per_prior, config.min_nodes,
                                      config.max_nodes, config.epochs, config.seed, base / cell,
                                      task_options={"n_strings": config.n_strings, "seed": config.seed},
                                      training=training, cell=cell, embedding=config.embedding, task=task,
                                      repeats=config.repeats)
        Console().print(f"[bold]{cell}[/bold]")
        report(store, config.seed, started)
    return base
