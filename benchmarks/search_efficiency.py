"""Does `structsearch evolve` search?  Random search, evolution and gated evolution at equal budgets.

For every space and seed, three searches spend the same budget of training epochs
(``[budget] max_epochs``; a search ends within one candidate's epochs of it):

* ``random`` — ``selection = "random"``: every generation drawn from the priors, no gate;
* ``evolve`` — the space's selection (tournament or NSGA-II), no gate;
* ``gated`` — the same with the online predictor gate (``estimation_fraction`` 0.5);
* ``gated-proxies`` (on request: ``--methods``) — the gate with the five zero-cost proxies among its
  features (issue 18);
* ``gated-curve`` (on request: ``--methods``) — the gate's structure stage, then its curve stage after
  one epoch (issue 18).  Each gated method reports the share of children trained to the end and its
  best minus ``evolve``'s; issue 18's target: ≤ 55 % trained, within 0.5 points, on every space.

Evolution with and without the gate share the seed (their generation 0 is the same draw);
random search draws with a seed of its own (seed + 1000), and inheritance too (seed + 2000), so
that reaching a baseline's best is never a matter of having drawn the same first candidates.
Per space and method it prints the best validation accuracy, the test accuracy of that pick,
the budget fraction at which the method first reaches random search's final best (of the same
seed number), and, on NSGA-II spaces, the hypervolume of (validation accuracy ↑, connections ↓)
over every trained candidate, against the reference point (accuracy 0, the space's reference
connection count).

The last line is JSON with, beside the per-space figures:

* ``evolve_minus_random_points``, ``gated_minus_random_points`` — best validation accuracy minus
  random search's, in points, mean over spaces and seeds;
* ``budget_to_match_random`` — the median over spaces and seeds of the budget fraction at which
  gated evolution reaches random search's final best (a search that never does counts as ∞);
* ``hypervolume_ratio_vs_random`` — gated NSGA-II's hypervolume over random search's, mean over
  seeds of the NSGA-II spaces.

Targets (issue 17): on every space, gated evolution beats random search by ≥ 0.5 points or
reaches its final best within ≤ 50 % of the budget; NSGA-II hypervolume ≥ 1.05 × random.

``--inheritance`` compares weight inheritance with training from scratch instead (issue 19):
``evolve`` (no inheritance), ``weights`` and ``lamarckian`` (``[evolution] inheritance``, children
training ``inherited_epochs``), at the same ``max_epochs`` — only the epochs actually trained count.
Its JSON adds ``inheritance_budget_to_match`` (per mode, the median over spaces and seeds of the
budget fraction at which the mode first reaches ``evolve``'s final best of the same seed) and
``inheritance_minus_none_points`` (per mode, best validation accuracy minus ``evolve``'s, in points,
mean over spaces and seeds).  Target: ≤ 0.5 of the budget on every space.

Searches run in ``--jobs`` processes at once, each pinned to a core of its own and training
in-process with one thread, so the figures are about search quality per training epoch, not
about speed.

    python benchmarks/search_efficiency.py --quick          # ≤ 10 minutes on 2 cores
    python benchmarks/search_efficiency.py                  # the full run, ≤ 90 minutes
    python benchmarks/search_efficiency.py --spaces digits-small --seeds 0 1 2 3 4
    python benchmarks/search_efficiency.py --spaces fashion-mnist-small --set evolution.selection=tournament
    python benchmarks/search_efficiency.py --inheritance --spaces reber-gru-small fashion-mnist-small
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

from structsearch.nn.proxies import PROXIES  # noqa: E402
from structsearch.overrides import parse_assignment  # noqa: E402
from structsearch.search.baseline import budget_to_reach, trained, trajectory  # noqa: E402

METHODS = {
    "random": [("evolution.selection", "random"), ("gate.predictor", "none")],
    "evolve": [("gate.predictor", "none")],
    "gated": [("gate.predictor", "online"), ("gate.estimation_fraction", 0.5)],
    # the gate of issue 18 with the zero-cost proxies at initialisation among its features
    "gated-proxies": [("gate.predictor", "online"), ("gate.estimation_fraction", 0.5),
                      ("gate.proxies", list(PROXIES))],
    # the gate of issue 18: the structure stage, then the curve stage after one epoch (graph features
    # and the first validation accuracy predict the last)
    "gated-curve": [("gate.predictor", "online"), ("gate.estimation_fraction", 0.5), ("gate.stage", "both"),
                    ("gate.curve_epochs", 1)],
    # weight inheritance (issue 19): evolution without the gate, children starting from their parents
    "weights": [("gate.predictor", "none"), ("evolution.inheritance", "weights")],
    "lamarckian": [("gate.predictor", "none"), ("evolution.inheritance", "lamarckian")],
}
DEFAULT_METHODS = ["random", "evolve", "gated"]
GATED = ("gated", "gated-proxies", "gated-curve")  # each gate's share of children trained, against evolve
INHERITING = ("weights", "lamarckian")
# each benchmark space: a built-in space, its changes, the budget (full, quick) in training epochs,
# and for NSGA-II spaces the reference connection count of the hypervolume
SPACES = {
    "digits-small": {"space": "digits-small", "changes": [], "max_epochs": (720, 400), "reference_connections": None},
    "reber-gru-small": {
        "space": "reber-gru",
        "changes": [("task.n_strings", 2000), ("training.epochs", 6), ("stopping.median", False),
                    ("genotype.nodes", [4, 40]), ("genotype.watts-strogatz.k", [2, 3]),
                    ("genotype.barabasi-albert.m", [1, 3]), ("evolution.population", 12),
                    ("evolution.offspring", 6), ("gate.warmup", 12)],
        "max_epochs": (360, 90), "reference_connections": None,
    },
    "fashion-mnist-small": {
        "space": "fashion-mnist-set-mlp",
        "changes": [("task.train_size", 5000), ("task.test_size", 1000), ("genotype.erdos-renyi.layers", [1, 3]),
                    ("genotype.erdos-renyi.width", [64, 1024]), ("genotype.erdos-renyi.epsilon", [1.0, 31.0]),
                    ("training.epochs", 5), ("stopping.median", False), ("evolution.population", 12),
                    ("evolution.offspring", 6), ("gate.warmup", 12)],
        "max_epochs": (300, 50), "reference_connections": 300_000,
    },
}


def pin_to_one_core(counter) -> None:
    """A search process on one core of its own (so that each trains with one thread)."""
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cores[index % len(cores)]})


def search_once(task: tuple) -> dict:
    """One search; its trajectory of (cumulative epochs, best validation so far) and its picks."""
    space_name, method, seed, max_epochs, data_dir, extra = task
    import torch

    from structsearch.search.engine import Search
    from structsearch.search.executors import InProcessExecutor
    from structsearch.search.space import load_space_with_changes

    torch.set_num_threads(1)
    spec = SPACES[space_name]
    # random search draws with a seed of its own: a shared generation 0 would make "evolution
    # reaches random search's best" true by construction whenever random's best came early
    # likewise inheritance against evolution from scratch (seed + 2000): their generation 0 would be
    # the same draw, and "inheritance reaches evolution's best" true whenever that best came from it
    search_seed = seed + 1000 if method == "random" else seed + 2000 if method in INHERITING else seed
    changes = [*spec["changes"], *extra, *METHODS[method], ("seed", search_seed), ("budget.max_epochs", max_epochs),
               ("evolution.generations", 10_000)]
    space = load_space_with_changes(spec["space"], changes)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        search = Search.start(space, Path(folder) / "run", InProcessExecutor(), data_dir)
        outcome = search.run()
        candidates = search.store.candidates()
        search.store.close()
    points = trajectory(candidates)
    pick = points[-1][2] if points else None
    children = [c for c in candidates if c.generation > 0 and not c.metrics.get("duplicate_of")]
    return {"space": space_name, "method": method, "seed": seed, "spent_epochs": search.ledger.spent_epochs,
            "trained": len(points), "best_val": points[-1][1] if points else math.nan,
            "pick_test": pick.metrics.get("test_accuracy") if pick else None,
            "trajectory": [(spent, best, None) for spent, best, _ in points],
            "points": [(c.metrics["val_accuracy"], c.metrics.get("connections", c.genotype.n_edges))
                       for c in trained(candidates) if c.status in ("ok", "stopped-early")],
            "seconds": time.perf_counter() - started, "stopped_by": outcome.stopped_by,
            "children_trained_share": (sum(c.status == "ok" for c in children) / len(children)) if children else None,
            "generations": outcome.generations + 1,
            "inherited": sum("inheritance" in c.metrics and "from_scratch" not in c.metrics["inheritance"]
                             for c in trained(candidates)),
            "weights_bytes": [c.metrics["weights_bytes"] for c in trained(candidates) if "weights_bytes" in c.metrics]}


def hypervolume(points: list[tuple[float, int]], reference_connections: int) -> float:
    """The area dominated by (accuracy ↑, connections ↓) points above the reference (0, reference)."""
    front, best = [], -1.0
    for accuracy, connections in sorted(points, key=lambda p: (p[1], -p[0])):
        if connections < reference_connections and accuracy > best:
            front.append((accuracy, connections))
            best = accuracy
    area = 0.0
    for i, (accuracy, connections) in enumerate(front):
        right = front[i + 1][1] if i + 1 < len(front) else reference_connections
        area += accuracy * (right - connections) / reference_connections
    return area


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the small budgets (≤ 10 minutes on 2 cores)")
    p.add_argument("--spaces", nargs="+", default=list(SPACES), choices=list(SPACES))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--jobs", type=int, default=os.cpu_count(), help="searches at once (default: the cores)")
    p.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE",
                   help="change every benchmark space, e.g. task.validation_fraction=0.2 (repeatable)")
    p.add_argument("--methods", nargs="+", choices=list(METHODS), help=f"default: {' '.join(DEFAULT_METHODS)}")
    p.add_argument("--inheritance", action="store_true",
                   help="compare weight inheritance with none: the methods evolve, weights and lamarckian")
    p.add_argument("--budget", type=int, help="max_epochs of every space (default: the space's own)")
    args = p.parse_args()
    methods = args.methods or (["evolve", *INHERITING] if args.inheritance else DEFAULT_METHODS)
    extra = [parse_assignment(text) for text in args.set]

    def budget_of(space: str) -> int:
        return args.budget or SPACES[space]["max_epochs"][1 if args.quick else 0]

    tasks = [(space, method, seed, budget_of(space), args.data_dir, extra)
             for space in args.spaces for seed in args.seeds for method in methods]
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
            print(f"[{len(runs)}/{len(tasks)}] {run['space']} {run['method']} seed {run['seed']}: best val "
                  f"{run['best_val']:.4f} after {run['trained']} candidates, {run['spent_epochs']} epochs, "
                  f"{run['seconds'] / 60:.1f} min", file=sys.stderr, flush=True)
    wall = time.perf_counter() - started
    by = {(r["space"], r["method"], r["seed"]): r for r in runs}

    figures: dict = {"spaces": {}}
    differences = {"evolve": [], "gated": []}
    fractions, ratios = [], []
    inheritance = {mode: {"reach": [], "points": []} for mode in INHERITING if mode in methods}
    baseline = "random" if "random" in methods else "evolve"
    for space in args.spaces:
        budget = budget_of(space)
        reference = SPACES[space]["reference_connections"]
        table = {}
        gated_points = gated_reach = None
        for method in methods:
            rows = [by[(space, method, seed)] for seed in args.seeds]
            reach = [budget_to_reach(r["trajectory"], by[(space, baseline, r["seed"])]["best_val"], budget)
                     for r in rows]
            entry = {
                "best_val": [round(r["best_val"], 4) for r in rows],
                "pick_test": [None if r["pick_test"] is None else round(r["pick_test"], 4) for r in rows],
                "mean_best_val": round(statistics.mean(r["best_val"] for r in rows), 4),
                f"budget_to_match_{baseline}": [None if math.isinf(f) else round(f, 3) for f in reach],
                "spent_epochs": [r["spent_epochs"] for r in rows], "trained": [r["trained"] for r in rows],
                "generations": [r["generations"] for r in rows],
                "children_trained_share": [None if r["children_trained_share"] is None
                                           else round(r["children_trained_share"], 3) for r in rows],
                "minutes": round(sum(r["seconds"] for r in rows) / 60, 2),
            }
            if reference:
                entry["hypervolume"] = [round(hypervolume(r["points"], reference), 4) for r in rows]
            table[method] = entry
            points = [100 * (r["best_val"] - by[(space, baseline, r["seed"])]["best_val"]) for r in rows]
            if method in inheritance:  # against evolution from scratch of the same seed number
                pairs = [(r, by[(space, "evolve", r["seed"])]) for r in rows]
                entry["budget_to_match_none"] = [
                    None if math.isinf(f) else round(f, 3)
                    for f in (budget_to_reach(r["trajectory"], n["best_val"], budget) for r, n in pairs)]
                entry["minus_none_points"] = [round(100 * (r["best_val"] - n["best_val"]), 2) for r, n in pairs]
                entry["inherited_candidates"] = [r["inherited"] for r in rows]
                sizes = [size for r in rows for size in r["weights_bytes"]]
                entry["weights_bytes_per_candidate"] = round(statistics.mean(sizes)) if sizes else None
                inheritance[method]["reach"] += [math.inf if f is None else f for f in entry["budget_to_match_none"]]
                inheritance[method]["points"] += entry["minus_none_points"]
                table.setdefault("target_met_inheritance", {})[method] = (
                    statistics.median(math.inf if f is None else f for f in entry["budget_to_match_none"]) <= 0.5)
            if method in differences and baseline == "random":
                differences[method] += points
            if method == "gated" and baseline == "random":
                fractions += reach
                gated_points, gated_reach = statistics.mean(points), statistics.median(reach)
                if reference:
                    ratios += [e / max(r, 1e-12) for e, r in
                               zip(entry["hypervolume"], table["random"]["hypervolume"], strict=True)]
        if gated_points is not None:
            table["target_met"] = gated_points >= 0.5 or gated_reach <= 0.5
        if "evolve" in methods:  # issue 18: a gate trains ≤ 55 % of the children, within 0.5 points of evolve
            for method in GATED:
                if method in methods:
                    shares = [x for x in table[method]["children_trained_share"] if x is not None]
                    gap = 100 * (table[method]["mean_best_val"] - table["evolve"]["mean_best_val"])
                    table[method]["minus_evolve_points"] = round(gap, 2)
                    table[method]["gate_target_met"] = bool(shares) and max(shares) <= 0.55 and gap >= -0.5
        table["max_epochs"] = budget
        figures["spaces"][space] = table
        print(f"{space} (budget {budget} epochs; seeds {args.seeds})")
        for method in methods:
            entry = table[method]
            hv = f"  hypervolume {entry['hypervolume']}" if "hypervolume" in entry else ""
            versus = (f"  reaches evolve's best at {entry['budget_to_match_none']}, {entry['minus_none_points']} points"
                      if method in inheritance and baseline != "evolve" else "")
            print(f"  {method:10s} best val {entry['best_val']}  pick test {entry['pick_test']}  "
                  f"reaches {baseline}'s best at {entry[f'budget_to_match_{baseline}']}{hv}{versus}  "
                  f"children trained {entry['children_trained_share']}")
        if gated_points is not None:
            print(f"  gated − random: {gated_points:+.2f} points; median budget to match random "
                  f"{gated_reach:.2f}; target met: {table['target_met']}")

    def finite_median(values):
        value = statistics.median(values) if values else math.nan
        return None if math.isinf(value) or math.isnan(value) else round(value, 3)

    if differences["gated"]:
        figures.update({
            "evolve_minus_random_points": round(statistics.mean(differences["evolve"]), 3),
            "gated_minus_random_points": round(statistics.mean(differences["gated"]), 3),
            "budget_to_match_random": finite_median(fractions),
            "hypervolume_ratio_vs_random": round(statistics.mean(ratios), 4) if ratios else None,
            "targets_met": all(figures["spaces"][s]["target_met"] for s in args.spaces),
        })
    for method in GATED:
        if method in methods and "evolve" in methods:
            figures[f"{method}_gate_targets_met"] = all(figures["spaces"][s][method]["gate_target_met"]
                                                        for s in args.spaces)
    if inheritance:
        figures.update({
            "inheritance_budget_to_match": {m: finite_median(v["reach"]) for m, v in inheritance.items()},
            "inheritance_minus_none_points": {m: round(statistics.mean(v["points"]), 3)
                                              for m, v in inheritance.items()},
            "inheritance_targets_met": all(all(figures["spaces"][s]["target_met_inheritance"].values())
                                           for s in args.spaces),
        })
    figures.update({
        "conditions": {"quick": args.quick, "seeds": args.seeds, "set": args.set, "jobs": args.jobs, "torch_threads": 1,
                       "methods": methods, "budget": args.budget,
                       "cores": os.cpu_count(), "load_average_before": [round(x, 2) for x in load],
                       "load_average_after": [round(x, 2) for x in os.getloadavg()],
                       "wall_minutes": round(wall / 60, 2)},
    })
    emit(figures)


if __name__ == "__main__":
    main()
