"""Does the predictor pay for itself?  Searches at equal training compute, judged on test accuracy.

For every space and seed, each method spends the same training compute (``[budget] max_macs``,
multiply-accumulates of forward and backward over the candidates' connections, evaluation and
rewiring included; a search ends within one candidate's cost of it):

* ``random`` — ``selection = "random"``: every generation drawn from the priors, no gate;
* ``evolve`` — the space's selection (aging on Reber since the built-in spaces moved to it, NSGA-II on
  Fashion-MNIST), no gate;
* ``gated`` — the 2 : 1 gate of earlier releases: the online predictor drops half of each
  generation's children (``estimation_fraction`` 0.5);
* ``pooled`` — the pooled gate: ``pool`` × offspring children per generation, the best
  ``offspring`` by ``--acquisition`` trained (``--pool``, default 10);
* ``pooled-aging`` — the same with regularized (aging) evolution;
* on request (``--methods``): ``pooled-tournament``, ``evolve-aging``, ``evolve-tournament``, ``weights``
  and ``lamarckian`` (weight inheritance), and ``pooled-size``: the pool ranked by the size-only model
  alone (``gate.model = "size"``), the ablation that asks whether the predictor beats the connections
  at choosing among the pool (a pooled variant is paired against ``pooled`` too).

Protocol. Methods are paired by seed number (seeds 0–4 by default); random search draws with a
seed of its own (seed + 1000) so that its generation 0 is never the others'. Each search picks
its candidate on validation accuracy; the headline is that pick's **test accuracy**. Beside it the
pick is **retrained from 3 new initialisations** (mean test accuracy: the structure, not a lucky
initialisation), and the best validation accuracy stays as a secondary figure. The splits are large
enough to rank on: ≥ 1,000 validation samples everywhere and 5,000 test images on Fashion-MNIST.
Per space and method the figures are the mean over seeds and the percentile-bootstrap 95 %
interval of the paired difference against random search and against evolution
(:func:`structsearch.bootstrap.paired_ci`).

Also per space: the gate's ranking (``predictor_tau_minus_params_tau``: over the pooled runs'
generations, the mean Kendall τ of the gate's predictions on the children it trained minus the τ
of their connections alone, the baseline every ranking must beat, and the share of generations in
which the gate chose the size-only baseline); ``compute_to_match_random`` (the median over seeds of
the compute fraction at which pooled first picks a candidate whose test accuracy reaches random
search's final pick; ∞ when never); the generation after which the best stopped improving, and the
final population's spread (:mod:`structsearch.diversity`).

The last line is JSON: per space ``pooled_minus_random_test_points`` and
``pooled_minus_evolution_test_points`` (each with ``_ci_low``/``_ci_high``),
``predictor_tau_minus_params_tau``, ``compute_to_match_random``; overall ``targets_met``,
``spaces_pooled_beats_random`` (CI low > 0), ``spaces_pooled_beats_evolution`` and
``spaces_pooled_worse_than_evolution`` (CI high < 0). Targets (issue 35): pooled beats random on
every space; never significantly worse than evolution and better on at least one space; the gate's τ
above the connections' (or the gate uses the size baseline there); ``compute_to_match_random``
≤ 0.5.

Searches run in ``--jobs`` processes at once, each pinned to a core and training in-process with
one thread, so the figures are about search quality per unit of compute, not speed; the wall
minutes of each method are printed too (the pool's feature computation is not training compute).

    python benchmarks/search_efficiency.py --quick          # ≤ 10 minutes on 2 cores: 3 seeds, 4 methods
    python benchmarks/search_efficiency.py                  # the full run, ≤ 2 hours on 2 cores
    python benchmarks/search_efficiency.py --spaces reber-gru-small --seeds 0 1 2 3 4 5 6 7
    python benchmarks/search_efficiency.py --methods random evolve pooled --acquisition ucb
    python benchmarks/search_efficiency.py --methods pooled --reseeds 2 --against RECORD   # pooled re-initialises
    python benchmarks/search_efficiency.py --acquisition reber-gru-small=ei-per-macs fashion-mnist-small=mean
    python benchmarks/search_efficiency.py --methods pooled --acquisition ei \
        --against docs/results/data/search_efficiency_adaptive.json   # random and evolve from that record

``--against RECORD …`` takes the methods it names and this run does not from earlier records of this
benchmark, each seed and method from the first record that has them (per seed: the pick's test accuracy, the
retrained mean, the best validation, the compute), so that a new acquisition is compared with the
same random and evolution searches without running them again. Random search and evolution do not
use the gate, and the records of stops 46–49 show them giving the same picks at every commit; the
records must have the same seeds and budgets, and the new record names the ones it took them from.
``--combine`` takes every method from the records
and runs nothing: the paired figures over the seeds of several records (the pooled runs must have the
``--acquisition``, ``--pool`` and ``--reseeds`` asked for; the gate's τ figures are the records' own
means weighted by their seeds, not recomputed over generations, and
``compute_to_match_random`` is each run's own against the random search of its record):

    python benchmarks/search_efficiency.py --combine --seeds 5 6 7 8 9 10 11 12 13 14 \
        --against docs/results/data/search_efficiency_confirm.json \
                  docs/results/data/search_efficiency_confirm_10_14.json \
        --acquisition reber-gru-small=ei-per-macs fashion-mnist-small=mean
"""

from __future__ import annotations

import math
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, parser  # noqa: E402

from structsearch import seeds as seed_streams  # noqa: E402
from structsearch.bootstrap import paired_ci  # noqa: E402
from structsearch.compute import format_macs  # noqa: E402
from structsearch.diversity import plateau_generation  # noqa: E402
from structsearch.overrides import parse_assignment  # noqa: E402
from structsearch.search.baseline import trajectory  # noqa: E402

POOL = [("gate.predictor", "online"), ("gate.estimation_fraction", 0.5)]
METHODS = {
    "random": [("evolution.selection", "random"), ("gate.predictor", "none")],
    "evolve": [("gate.predictor", "none")],
    "gated": [("gate.predictor", "online"), ("gate.estimation_fraction", 0.5), ("gate.pool", 1)],
    "pooled": POOL,  # the pool size and acquisition are added from the command line
    "pooled-aging": [*POOL, ("evolution.selection", "aging")],
    "pooled-tournament": [*POOL, ("evolution.selection", "tournament")],
    "pooled-size": [*POOL, ("gate.model", "size")],  # the pool ranked by the connections alone
    "evolve-aging": [("gate.predictor", "none"), ("evolution.selection", "aging")],
    "evolve-tournament": [("gate.predictor", "none"), ("evolution.selection", "tournament")],
    "weights": [("gate.predictor", "none"), ("evolution.inheritance", "weights")],
    "lamarckian": [("gate.predictor", "none"), ("evolution.inheritance", "lamarckian")],
}
POOLED = ("pooled", "pooled-aging", "pooled-tournament", "pooled-size")
DEFAULT_METHODS = ["random", "evolve", "gated", "pooled", "pooled-aging"]
QUICK_METHODS = ["random", "evolve", "gated", "pooled"]
RETRAINS = 3
# each benchmark space: a built-in space, its changes and its budget (full, quick) in MACs
SPACES = {
    "reber-gru-small": {
        "space": "reber-gru",
        # 4,000 strings: 1,000 test, then 35 % of the rest validation (1,050) and 1,950 to train
        "changes": [("task.n_strings", 4000), ("task.test_size", 1000), ("task.validation_fraction", 0.35),
                    ("training.epochs", 6), ("stopping.median", False), ("genotype.nodes", [4, 40]),
                    ("genotype.watts-strogatz.k", [2, 3]), ("genotype.barabasi-albert.m", [1, 3]),
                    ("evolution.population", 12), ("evolution.offspring", 6), ("gate.warmup", 12)],
        "max_macs": (15e9, 5e9),
    },
    "fashion-mnist-small": {
        "space": "fashion-mnist-set-mlp",
        # 4,000 training images, a quarter of them validation (1,000); 5,000 test images
        "changes": [("task.train_size", 4000), ("task.validation_fraction", 0.25), ("task.test_size", 5000),
                    ("genotype.erdos-renyi.layers", [1, 3]), ("genotype.erdos-renyi.width", [64, 1024]),
                    ("genotype.erdos-renyi.epsilon", [1.0, 31.0]), ("training.epochs", 5),
                    ("stopping.median", False), ("evolution.population", 12), ("evolution.offspring", 6),
                    ("gate.warmup", 12)],
        "max_macs": (150e9, 35e9),
    },
    # on request: scikit-learn's 1,797 digits cannot give 1,000 validation and 5,000 test images
    "digits-small": {"space": "digits-small", "changes": [("task.validation_fraction", 0.3)],
                     "max_macs": (2.5e9, 0.8e9)},
}
# on request: reber-gru-small trained 18 epochs instead of 6, at three times the budget (the same number of
# candidates); there the structure explains 0.90 of a training's test-accuracy variance, at 6 epochs 0.47
# (benchmarks/init_variance.py)
SPACES["reber-gru-long"] = {"space": "reber-gru", "changes": [*SPACES["reber-gru-small"]["changes"],
                                                             ("training.epochs", 18)], "max_macs": (45e9, 15e9)}
# on request: reber-gru-small trained 10 epochs at 25 GMAC (about as many candidates as 15 GMAC buys at 6): between
# the lottery of 6 epochs and the solved task of 18, the structure explains 0.78 of a training's variance and the
# best structures stay below the ceiling; the same searches as ``--spaces reber-gru-small --set training.epochs=10
# --budget 25e9`` (the records search_efficiency_reber_10_epochs*)
SPACES["reber-gru-10"] = {"space": "reber-gru", "changes": [*SPACES["reber-gru-small"]["changes"],
                                                           ("training.epochs", 10)], "max_macs": (25e9, 8e9)}
DEFAULT_SPACES = ["reber-gru-small", "fashion-mnist-small"]


def pin_to_one_core(counter) -> None:
    """A search process on one core of its own (so that each trains with one thread)."""
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cores[index % len(cores)]})


def retrain_results(space, search, candidate, repeats: int) -> list[tuple[float | None, float | None]]:
    """``(validation, test)`` accuracy of ``candidate`` retrained from ``repeats`` new initialisations
    (``None`` for a training that failed)."""
    from structsearch.search import genes as training_genes
    from structsearch.search.worker import train_candidate

    cell, genes = candidate.attributes.get("cell"), candidate.attributes.get("genes") or {}
    model, rewiring, training = training_genes.apply(space.model.model_config(cell), space.rewiring,
                                                     space.training, genes)
    results = []
    for repeat in range(repeats):
        seed = seed_streams.derive(space.seed, "retrain", candidate.id, repeat)
        result = train_candidate(candidate.genotype, search.task, model, rewiring, training, seed,
                                 family=space.model.kind)
        results.append((result.val_accuracy, result.test_accuracy) if result.status in ("ok", "stopped-early")
                       else (None, None))
    return results


def retrain(space, search, candidate, repeats: int) -> list[float | None]:
    """The test accuracy of ``candidate`` retrained from ``repeats`` new initialisations."""
    return [test for _, test in retrain_results(space, search, candidate, repeats)]


def search_once(task: tuple) -> dict:
    """One search, its pick retrained; the figures the protocol needs."""
    space_name, method, seed, max_macs, data_dir, extra = task
    import torch

    from structsearch.search.engine import Search
    from structsearch.search.executors import InProcessExecutor
    from structsearch.search.space import load_space_with_changes

    torch.set_num_threads(1)
    spec = SPACES[space_name]
    search_seed = seed + 1000 if method == "random" else seed + 2000 if method in ("weights", "lamarckian") else seed
    changes = [*spec["changes"], *METHODS[method], *extra,
               ("seed", search_seed), ("budget.max_macs", max_macs), ("budget.max_epochs", 0),
               ("evolution.generations", 10_000)]
    space = load_space_with_changes(spec["space"], changes)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        search = Search.start(space, Path(folder) / "run", InProcessExecutor(), data_dir)
        outcome = search.run()
        candidates = search.store.candidates()
        events = search.store.events("generation")
        search.store.close()
    seconds = time.perf_counter() - started
    points = trajectory(candidates, "macs")
    pick = points[-1][2] if points else None
    retrained = retrain(space, search, pick, RETRAINS) if pick is not None else []
    # per generation: the best validation so far (for the plateau) and the gate's τ against the size's
    best, best_by_generation = -math.inf, []
    for event in events:
        rows = [c for c in candidates if c.generation == event["generation"] and c.status in ("ok", "stopped-early")]
        best = max([best] + [c.metrics["val_accuracy"] for c in rows])
        best_by_generation.append(best)
    taus = [(e["gate_kendall_tau"], e["size_kendall_tau"], e.get("gate_model")) for e in events
            if e.get("gate_kendall_tau") is not None and e.get("size_kendall_tau") is not None]
    return {"space": space_name, "method": method, "seed": seed, "spent_macs": search.ledger.spent_macs,
            "spent_epochs": search.ledger.spent_epochs, "trained": len(points),
            "best_val": points[-1][1] if points else math.nan,
            "pick_test": pick.metrics.get("test_accuracy") if pick else None,
            "retrained_test": retrained,
            # (compute spent, the pick's test accuracy then) after each trained candidate
            "pick_trajectory": [(spent, c.metrics.get("test_accuracy") if c else None) for spent, _, c in points],
            "plateau_generation": plateau_generation(best_by_generation),
            "generations": outcome.generations + 1, "stopped_by": outcome.stopped_by,
            "final_spread": {k: events[-1].get(k) for k in ("unique", "spread", "distance")} if events else {},
            "gate_taus": taus, "seconds": seconds}


def compute_to_reach(trajectory_points, target: float, budget: float) -> float:
    """The compute fraction at which a search's pick first has a test accuracy ≥ ``target``."""
    for spent, test in trajectory_points:
        if test is not None and test >= target - 1e-12:
            return spent / budget
    return math.inf


def mean_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.mean(values) if values else None


def rounded(value, digits=3):
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else round(value, digits)


def paired(rows_a: list[dict], rows_b: list[dict], key) -> dict:
    """The mean and bootstrap CI of ``key(a) − key(b)`` over seeds, in points."""
    differences = [100 * (key(a) - key(b)) for a, b in zip(rows_a, rows_b, strict=True)
                   if key(a) is not None and key(b) is not None]
    mean, low, high = paired_ci(differences)
    return {"mean": rounded(mean, 2), "ci_low": rounded(low, 2), "ci_high": rounded(high, 2), "n": len(differences)}


def acquisition_by_space(texts: list[str], spaces: list[str]) -> dict[str, str]:
    """``--acquisition``: one name for every space, or ``SPACE=NAME`` for each space."""
    if len(texts) == 1 and "=" not in texts[0]:
        return dict.fromkeys(spaces, texts[0])
    chosen = dict(text.split("=", 1) if "=" in text else ("", text) for text in texts)
    missing = [space for space in spaces if space not in chosen]
    if "" in chosen or missing:
        sys.exit(f"--acquisition: give one name, or SPACE=NAME for each of {', '.join(spaces)}")
    return {space: chosen[space] for space in spaces}


def recorded_runs(paths: list[str], spaces: list[str], seeds: list[int], methods: list[str], budget_of,
                  pooled: dict) -> list[dict]:
    """The runs of ``methods`` on ``spaces`` from earlier records, per seed and method from the first
    record that has them, in the form :func:`search_once` returns (a record keeps each seed's retrained mean, so that
    mean stands for the retrained list). ``pooled`` (space → the pooled methods' ``acquisition``,
    ``pool`` and ``reseeds``) must match a record whose pooled runs are taken."""
    import json

    records = []
    for path in paths:
        record = json.loads(Path(path).read_text())
        figures = record.get("figures", record)  # a record, or the benchmark's last line
        records.append((path, figures, record.get("conditions") or figures["conditions"]))
    runs = []
    for space in spaces:
        for method in methods:
            for seed in seeds:
                found = [(path, figures, conditions) for path, figures, conditions in records
                         if seed in conditions["seeds"] and method in figures["spaces"].get(space, {})]
                if not found:
                    sys.exit(f"--against: no record has {method} on {space} for seed {seed} (they have seeds "
                             f"{sorted({s for _, _, c in records for s in c['seeds']})})")
                path, figures, conditions = found[0]
                table = figures["spaces"][space]
                if table["max_macs"] != budget_of(space):
                    sys.exit(f"--against {path}: its {space} budget is {table['max_macs']:.3g} MACs, this run's "
                             f"{budget_of(space):.3g}")
                if method in POOLED:
                    acquisition = conditions.get("acquisition", "mean")
                    recorded = {"acquisition": acquisition.get(space) if isinstance(acquisition, dict) else acquisition,
                                "pool": conditions.get("pool"), "reseeds": conditions.get("reseeds") or 0}
                    if recorded != pooled[space]:
                        sys.exit(f"--against {path}: its {method} on {space} ran with {recorded}, this run asks "
                                 f"for {pooled[space]}")
                entry, k = table[method], conditions["seeds"].index(seed)
                reach = (entry.get("compute_to_match_random") or [None] * len(conditions["seeds"]))[k]
                runs.append({"compute_to_match": math.inf if reach is None else reach,  # None: never
                             "space": space, "method": method, "seed": seed, "pick_test": entry["pick_test"][k],
                             "retrained_test": [entry["retrained_test"][k]], "best_val": entry["best_val"][k],
                             "trained": entry["trained"][k], "generations": entry["generations"][k],
                             "spent_macs": entry["spent_macs"][k],
                             "plateau_generation": entry["plateau_generation"][k],
                             "final_spread": entry["final_spread"][k], "pick_trajectory": [], "gate_taus": [],
                             # the record's own mean τ figures (its generations are not kept per seed)
                             "record_taus": tuple(entry.get(key) for key in
                                                  ("gate_tau", "params_tau", "size_baseline_share")),
                             "seconds": 60 * entry["minutes"] / len(conditions["seeds"])})
    return runs


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the small budgets (≤ 10 minutes on 2 cores)")
    p.add_argument("--spaces", nargs="+", default=DEFAULT_SPACES, choices=list(SPACES))
    p.add_argument("--seeds", type=int, nargs="+", help="default: 0 1 2 3 4 (--quick: 0 1 2)")
    p.add_argument("--jobs", type=int, default=os.cpu_count(), help="searches at once (default: the cores)")
    p.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE",
                   help="change every benchmark space, e.g. task.validation_fraction=0.2 (repeatable)")
    p.add_argument("--methods", nargs="+", choices=list(METHODS), help=f"default: {' '.join(DEFAULT_METHODS)}")
    p.add_argument("--pool", type=int, default=10, help="the pooled methods' pool (default 10)")
    p.add_argument("--acquisition", nargs="+", default=["mean"], metavar="[SPACE=]NAME",
                   help="the pooled methods' acquisition (default mean), or one per space as SPACE=NAME")
    p.add_argument("--reseeds", type=int, default=0,
                   help="the pooled methods' [evolution] reseeds: the best structures retrained from new "
                        "initialisations each generation (default 0; --set evolution.reseeds=N for every method)")
    p.add_argument("--budget", type=float, help="max_macs of every space (default: the space's own)")
    p.add_argument("--against", metavar="RECORD", nargs="+",
                   help="take random and evolve (those not in --methods) from earlier records of the benchmark, "
                        "each seed from the first record that has it")
    p.add_argument("--combine", action="store_true",
                   help="with --against: take every method of --methods (default random evolve pooled) from the "
                        "records and run no search: paired figures over the seeds of several records")
    args = p.parse_args()
    if args.combine and not args.against:
        p.error("--combine takes the runs from --against RECORD ...")
    methods = args.methods or (["random", "evolve", "pooled"] if args.combine else
                               QUICK_METHODS if args.quick else DEFAULT_METHODS)
    reused = ([*methods] if args.combine else
              [m for m in ("random", "evolve") if m not in methods] if args.against else [])
    if args.combine:
        methods = []
    args.seeds = args.seeds or ([0, 1, 2] if args.quick else [0, 1, 2, 3, 4])
    extra = [parse_assignment(text) for text in args.set]
    acquisitions = acquisition_by_space(args.acquisition, args.spaces)
    args.acquisition = (next(iter(set(acquisitions.values()))) if len(set(acquisitions.values())) == 1
                        else acquisitions)

    def budget_of(space: str) -> float:
        return args.budget or SPACES[space]["max_macs"][1 if args.quick else 0]

    def extra_of(space: str, method: str) -> list:
        if method not in POOLED:
            return extra
        return [*extra, ("gate.pool", args.pool), ("gate.acquisition", acquisitions[space]),
                *([("evolution.reseeds", args.reseeds)] if args.reseeds else [])]

    tasks = [(space, method, seed, budget_of(space), args.data_dir, extra_of(space, method))
             for space in args.spaces for seed in args.seeds for method in methods]
    tasks.sort(key=lambda t: t[1] not in POOLED)  # the longest first, so the cores end together
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"  # one thread per search: --jobs searches share the cores
    load = os.getloadavg()
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.jobs, mp_context=context, initializer=pin_to_one_core,
                             initargs=(context.Value("i", 0),)) as pool:
        futures = [pool.submit(search_once, task) for task in tasks]
        runs = []
        for future in as_completed(futures):
            run = future.result()
            runs.append(run)
            print(f"[{len(runs)}/{len(tasks)}] {run['space']} {run['method']} seed {run['seed']}: pick test "
                  f"{run['pick_test']:.4f} (retrained {mean_or_none(run['retrained_test']):.4f}), best val "
                  f"{run['best_val']:.4f}, {run['trained']} trained, {format_macs(run['spent_macs'])}, "
                  f"{run['seconds'] / 60:.1f} min", file=sys.stderr, flush=True)
    wall = time.perf_counter() - started
    if reused:
        pooled = {space: {"acquisition": acquisitions[space], "pool": args.pool, "reseeds": args.reseeds}
                  for space in args.spaces}
        runs += recorded_runs(args.against, args.spaces, args.seeds, reused, budget_of, pooled)
        methods = [*reused, *methods]
    by = {(r["space"], r["method"], r["seed"]): r for r in runs}

    figures: dict = {"spaces": {}}
    verdicts = {"beats_random": [], "beats_evolution": [], "worse_than_evolution": []}
    targets = []
    for space in args.spaces:
        budget = budget_of(space)
        table: dict = {"max_macs": budget}
        for method in methods:
            rows = [by[(space, method, seed)] for seed in args.seeds]
            entry = {
                "pick_test": [rounded(r["pick_test"], 4) for r in rows],
                "mean_pick_test": rounded(mean_or_none([r["pick_test"] for r in rows]), 4),
                "retrained_test": [rounded(mean_or_none(r["retrained_test"]), 4) for r in rows],
                "mean_retrained_test": rounded(mean_or_none([mean_or_none(r["retrained_test"]) for r in rows]), 4),
                "best_val": [rounded(r["best_val"], 4) for r in rows],
                "trained": [r["trained"] for r in rows], "generations": [r["generations"] for r in rows],
                "spent_macs": [r["spent_macs"] for r in rows],
                "plateau_generation": [r["plateau_generation"] for r in rows],
                "final_spread": [r["final_spread"] for r in rows],
                "minutes": round(sum(r["seconds"] for r in rows) / 60, 2),
            }
            for baseline in ("random", "evolve", "pooled"):  # a pooled variant against the pooled gate too
                if baseline in methods and method != baseline and (baseline != "pooled" or method in POOLED):
                    against = [by[(space, baseline, seed)] for seed in args.seeds]
                    entry[f"minus_{baseline}_test_points"] = paired(rows, against, lambda r: r["pick_test"])
                    entry[f"minus_{baseline}_retrained_points"] = paired(
                        rows, against, lambda r: mean_or_none(r["retrained_test"]))
            if method in POOLED:
                taus = [t for r in rows for t in r["gate_taus"]]
                entry["gate_tau"] = rounded(mean_or_none([t[0] for t in taus]))
                entry["params_tau"] = rounded(mean_or_none([t[1] for t in taus]))
                entry["size_baseline_share"] = rounded(sum(t[2] == "size" for t in taus) / len(taus)) if taus else None
                recorded = [r["record_taus"] for r in rows if r.get("record_taus")]
                if recorded and len(recorded) == len(rows):  # all from records: their figures, weighted by seeds
                    for index, key in enumerate(("gate_tau", "params_tau", "size_baseline_share")):
                        entry[key] = rounded(mean_or_none([t[index] for t in recorded]))
                if "random" in methods:
                    # a recorded run keeps its own, against the random search of the same record
                    reach = [r["compute_to_match"] if "compute_to_match" in r else
                             compute_to_reach(r["pick_trajectory"], by[(space, "random", r["seed"])]["pick_test"],
                                              budget) for r in rows]
                    entry["compute_to_match_random"] = [rounded(f) for f in reach]
                    entry["median_compute_to_match_random"] = rounded(statistics.median(reach))
            table[method] = entry
        if "pooled" in methods:
            pooled = table["pooled"]
            for baseline, key in (("random", "pooled_minus_random_test_points"),
                                  ("evolve", "pooled_minus_evolution_test_points")):
                if f"minus_{baseline}_test_points" in pooled:
                    difference = pooled[f"minus_{baseline}_test_points"]
                    table[key] = difference["mean"]
                    table[f"{key}_ci_low"], table[f"{key}_ci_high"] = difference["ci_low"], difference["ci_high"]
            tau_gap = (None if pooled["gate_tau"] is None or pooled["params_tau"] is None
                       else rounded(pooled["gate_tau"] - pooled["params_tau"]))
            table["predictor_tau_minus_params_tau"] = tau_gap
            table["compute_to_match_random"] = pooled.get("median_compute_to_match_random")
            beats_random = (table.get("pooled_minus_random_test_points_ci_low") or -1) > 0
            beats_evolution = (table.get("pooled_minus_evolution_test_points_ci_low") or -1) > 0
            worse = (table.get("pooled_minus_evolution_test_points_ci_high") or 0) < 0
            verdicts["beats_random"] += [space] if beats_random else []
            verdicts["beats_evolution"] += [space] if beats_evolution else []
            verdicts["worse_than_evolution"] += [space] if worse else []
            ranking_ok = (tau_gap is not None and tau_gap > 0) or (pooled["size_baseline_share"] or 0) > 0.5
            match = table["compute_to_match_random"]
            targets.append(beats_random and not worse and ranking_ok and match is not None and match <= 0.5)
        figures["spaces"][space] = table
        print(f"{space} (budget {format_macs(budget)}; seeds {args.seeds})")
        for method in methods:
            entry = table[method]
            versus = "  ".join(f"− {b}: {entry[f'minus_{b}_test_points']['mean']:+.2f} "
                               f"[{entry[f'minus_{b}_test_points']['ci_low']:+.2f}, "
                               f"{entry[f'minus_{b}_test_points']['ci_high']:+.2f}]"
                               for b in ("random", "evolve", "pooled") if f"minus_{b}_test_points" in entry)
            print(f"  {method:13s} pick test {entry['mean_pick_test']}  retrained {entry['mean_retrained_test']}  "
                  f"{versus}  plateau {entry['plateau_generation']}  {entry['minutes']} min")
    figures.update({
        "targets_met": bool(targets) and all(targets),
        "spaces_pooled_beats_random": verdicts["beats_random"],
        "spaces_pooled_beats_evolution": verdicts["beats_evolution"],
        "spaces_pooled_worse_than_evolution": verdicts["worse_than_evolution"],
        "conditions": {"quick": args.quick, "seeds": args.seeds, "set": args.set, "reseeds": args.reseeds,
                       "jobs": args.jobs,
                       "torch_threads": 1, "methods": methods, "pool": args.pool, "acquisition": args.acquisition,
                       "budget": args.budget, "retrains": RETRAINS, "cores": os.cpu_count(),
                       "reused": {"record": args.against, "methods": reused} if reused else None,
                       "cpu": _cpu(), "load_average_before": [round(x, 2) for x in load],
                       "load_average_after": [round(x, 2) for x in os.getloadavg()],
                       "wall_minutes": round(wall / 60, 2)},
    })
    if "pooled" in methods and "random" in methods and "evolve" in methods:
        figures["headline"] = headline(figures)
    emit(figures)


def headline(figures: dict) -> list[dict]:
    """The README's lines: per space, pooled − random and pooled − evolution on the pick's test
    accuracy with their 95 % intervals, and the gate's τ minus the connections'."""
    def interval(space: dict, key: str) -> str:
        if space.get(key) is None:
            return "n/a"
        return f"{space[key]:+.2f} [{space[f'{key}_ci_low']:+.2f}, {space[f'{key}_ci_high']:+.2f}]"

    spaces = figures["spaces"]
    numbers = figures["conditions"]["seeds"]
    seeds = (f"{len(numbers)} seeds" if numbers == list(range(len(numbers)))
             else f"seeds {', '.join(map(str, numbers))}")
    acquisition = figures["conditions"].get("acquisition", "mean")
    if isinstance(acquisition, dict):  # one per space
        acquisition = " / ".join(acquisition[space] for space in spaces)
    reseeds = figures["conditions"].get("reseeds") or 0
    details = [*([acquisition] if acquisition != "mean" or reseeds else []),
               *([f"{reseeds} reseeds per generation"] if reseeds else [])]
    gate = f"pooled gate ({', '.join(details)})" if details else "pooled gate"
    changed = figures["conditions"].get("set") or []
    names = " / ".join(spaces) + (f" (with {', '.join(changed)})" if changed else "")
    lines = [{"what": f"{gate} − random search, pick's test accuracy in points at equal compute ({seeds}, "
                      f"95 % CI): {names}",
              "value": " / ".join(interval(space, "pooled_minus_random_test_points") for space in spaces.values())},
             {"what": f"{gate} − ungated evolution, the same: {names}",
              "value": " / ".join(interval(space, "pooled_minus_evolution_test_points")
                                  for space in spaces.values())}]
    for variant in POOLED[1:]:  # a pooled variant (an ablation) against the pooled gate
        if all("minus_pooled_test_points" in space.get(variant, {}) for space in spaces.values()):
            label = {"pooled-size": "the pool ranked by the connections alone (pooled-size)"}.get(variant, variant)
            lines.append({"what": f"{label} − pooled gate, the same: {names}", "value": " / ".join(
                "{mean:+.2f} [{ci_low:+.2f}, {ci_high:+.2f}]".format(**space[variant]["minus_pooled_test_points"])
                for space in spaces.values())})
    taus = [space.get("predictor_tau_minus_params_tau") for space in spaces.values()]
    if all(tau is not None for tau in taus):
        lines.append({"what": f"the gate's τ minus the τ of connections alone, on the children it trained: "
                              f"{names}", "value": " / ".join(f"{tau:+.3f}" for tau in taus)})
    return lines


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
