"""The predictor gate and parallel evaluation of `structsearch evolve`, on a built-in space.

1. **Gate.**  For each seed, the same space runs twice for the same number of generations: with
   its online predictor gate (estimation fraction 0.5) and with no gate.  Reported:
   ``gated_best_gap_points`` — the mean over seeds of (ungated best − gated best) validation
   accuracy, in points (positive: the gated search did worse); ``gated_trained_fraction`` — the
   trained share of all candidates the gated searches generated (duplicates and dropped ones
   count as generated, not trained); and, beside them, the per-seed figures, the test accuracy of
   each best candidate and the trained counts of both searches.
2. **Workers.**  The initial population of the space (no gate: every candidate trains) with 1 and
   with 2 local worker processes, --speedup-repeats times in turn (1, 2, 1, 2, …);
   ``two_worker_speedup`` is the ratio of the median candidates per minute, wall clock of the whole
   search including the start of the worker processes (forked from a server started before the
   timed runs).  ``workers_profile`` says where each run's
   wall clock went, from the times each worker reports with its results: the start of the search
   until each worker's first job began (process start, imports), each worker's busy seconds (jobs,
   first one apart: it loads the task and the kernels), the train seconds inside the jobs, and the
   rest: the search process's own work between candidates and the transfer of results.
3. **A real search** (``--real-search N``): the README's ``structsearch evolve`` on the default
   space, whole, as a user starts it (a new process), with ``--workers 1`` and ``--workers 2``, N
   times in turn; ``real_search_speedup`` is the ratio of the median trained candidates per minute.

Targets (issue #7): gap ≤ 0.5 points while training ≤ 55 % of the candidates; speedup ≥ 1.7.

    python benchmarks/evolve_gate.py                       # digits-small, seeds 0 1 2
    python benchmarks/evolve_gate.py --seeds 0 --generations 5
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, parser  # noqa: E402

from structsearch.search.engine import Search  # noqa: E402
from structsearch.search.executors import LocalExecutor  # noqa: E402
from structsearch.search.space import load_space  # noqa: E402
from structsearch.store import RunStore  # noqa: E402


def profile(search: Search, started: float, seconds: float, workers: int) -> dict:
    """Where the wall clock of a search went, from the times its workers reported (see the docstring)."""
    reports = [c.metrics.get("worker") or {} for c in search.store.candidates()]
    reports = [r for r in reports if "started" in r and "seconds" in r]
    by_pid: dict = {}
    for report in sorted(reports, key=lambda r: r["started"]):
        by_pid.setdefault(report["pid"], []).append(report)
    jobs = [r["seconds"] for r in reports]
    trained = [c for c in search.store.candidates() if c.seconds]
    first = [runs[0]["seconds"] for runs in by_pid.values()]
    later = [r["seconds"] for runs in by_pid.values() for r in runs[1:]]
    return {
        "workers": workers, "wall_seconds": round(seconds, 2), "jobs": len(jobs),
        "first_job_start_seconds": sorted(round(runs[0]["started"] - started, 2) for runs in by_pid.values()),
        "busy_seconds_per_worker": sorted(round(sum(r["seconds"] for r in runs), 2) for runs in by_pid.values()),
        "first_job_seconds": [round(x, 2) for x in first],
        "later_job_seconds_median": round(statistics.median(later), 3) if later else None,
        "train_seconds": round(sum(c.seconds.get("total", 0.0) for c in trained), 2),
        "job_seconds": round(sum(jobs), 2),
        "idle_worker_seconds": round(workers * seconds - sum(jobs), 2),
        "threads_per_worker": sorted({r.get("threads", {}).get("torch_threads") for r in reports} - {None}),
    }


def real_search(repeats: int, scratch: Path, data_dir: str) -> dict:
    """Trained candidates per minute of whole default ``structsearch evolve`` runs, 1 and 2 workers in turn."""
    rates: dict = {1: [], 2: []}
    for repeat in range(repeats):
        for workers in (1, 2):
            name = f"real-{workers}-{repeat}"
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "structsearch", "evolve", "--quiet", "--runs", str(scratch),
                                   "--name", name, "--workers", str(workers), "--data-dir", data_dir],
                                  capture_output=True, text=True)
            seconds = time.perf_counter() - started
            if done.returncode:
                sys.exit(f"evolve_gate.py: structsearch evolve failed: {done.stderr.strip().splitlines()[-1:]}")
            with RunStore.open(scratch / name) as store:
                trained = sum(1 for c in store.candidates() if c.seconds)
            rates[workers].append(trained / seconds * 60)
            print({"real_search": workers, "trained": trained, "seconds": round(seconds, 1)}, file=sys.stderr,
                  flush=True)
    return {"real_search_candidates_per_minute": {str(w): [round(r, 2) for r in rates[w]] for w in rates},
            "real_search_speedup": round(statistics.median(rates[2]) / statistics.median(rates[1]), 3)}


def warm_server() -> None:
    """Start this process's fork server (its workers' imports, once) before the timed runs, so that
    each of them forks its workers from a ready server, as every run of a process but its first does;
    ``--real-search`` times whole runs in new processes, each starting its own."""
    executor = LocalExecutor(1)
    try:
        executor._pool().submit(os.getpid).result()
    finally:
        executor.close()


def run(space, run_dir: Path, workers: int, data_dir) -> tuple[Search, float, float]:
    """The finished search, its wall seconds and when it started (the clock the workers' reports use)."""
    executor = LocalExecutor(workers)
    started = time.perf_counter()
    wall_started = time.time()
    try:
        search = Search.start(space, run_dir, executor, data_dir)
        search.run()
    finally:
        executor.close()
    return search, time.perf_counter() - started, wall_started


def best(search: Search) -> tuple[float, float]:
    top = max(search.known.values(), key=lambda ind: (ind.accuracy, -ind.graph.n_edges))
    return top.accuracy, top.metrics.get("test_accuracy")


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--space", default="digits-small")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--generations", type=int, help="override the space's generations")
    p.add_argument("--workers", type=int, default=2, help="workers of the gate comparison runs")
    p.add_argument("--skip-gate", action="store_true")
    p.add_argument("--skip-speedup", action="store_true")
    p.add_argument("--speedup-repeats", type=int, default=3, help="runs of each worker count, in turn")
    p.add_argument("--real-search", type=int, default=0, metavar="N",
                   help="also time N whole default runs with 1 and with 2 workers, in turn")
    args = p.parse_args()
    data_dir = args.data_dir if Path(args.data_dir).is_dir() else None
    figures: dict = {"space": args.space}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        if not args.skip_gate:
            per_seed = []
            for seed in args.seeds:
                row = {"seed": seed}
                for mode in ("gated", "ungated"):
                    space = load_space(args.space)
                    space.seed = seed
                    if args.generations is not None:
                        space.evolution.generations = args.generations
                    if mode == "ungated":
                        space.gate.predictor = "none"
                    search, seconds, _ = run(space.validate(), scratch / f"{mode}-{seed}", args.workers, data_dir)
                    val, test = best(search)
                    row.update({f"{mode}_best_val": val, f"{mode}_best_test": test,
                                f"{mode}_trained": search.trained, f"{mode}_candidates": search.store.count(),
                                f"{mode}_seconds": round(seconds, 1)})
                    search.store.close()
                row["gap_points"] = 100 * (row["ungated_best_val"] - row["gated_best_val"])
                print(row, file=sys.stderr)
                per_seed.append(row)
            figures["generations"] = space.evolution.generations
            figures["population"] = space.evolution.population
            figures["gated_best_gap_points"] = round(statistics.mean(r["gap_points"] for r in per_seed), 3)
            figures["gated_best_gap_points_max"] = round(max(r["gap_points"] for r in per_seed), 3)
            figures["gated_best_test_gap_points"] = round(100 * statistics.mean(
                r["ungated_best_test"] - r["gated_best_test"] for r in per_seed), 3)
            figures["gated_trained_fraction"] = round(
                sum(r["gated_trained"] for r in per_seed) / sum(r["gated_candidates"] for r in per_seed), 4)
            figures["gated_over_ungated_trained"] = round(
                sum(r["gated_trained"] for r in per_seed) / sum(r["ungated_trained"] for r in per_seed), 4)
            figures["per_seed"] = per_seed
        if not args.skip_speedup:
            rates: dict = {1: [], 2: []}
            figures["workers_profile"] = []
            warm_server()
            for repeat in range(args.speedup_repeats):
                for workers in (1, 2):
                    space = load_space(args.space)
                    space.evolution.generations = 0
                    space.gate.predictor = "none"
                    search, seconds, started = run(space.validate(), scratch / f"workers-{workers}-{repeat}",
                                                   workers, data_dir)
                    rates[workers].append(search.trained / seconds * 60)
                    figures["workers_profile"].append(profile(search, started, seconds, workers))
                    print(figures["workers_profile"][-1], file=sys.stderr, flush=True)
                    search.store.close()
            for workers in (1, 2):
                figures[f"candidates_per_minute_{workers}_worker"] = round(statistics.median(rates[workers]), 2)
            figures["two_worker_speedup"] = round(statistics.median(rates[2]) / statistics.median(rates[1]), 3)
            figures["two_worker_speedups"] = [round(b / a, 3) for a, b in zip(rates[1], rates[2], strict=True)]
        if args.real_search:
            figures.update(real_search(args.real_search, scratch, args.data_dir))
    emit(figures)


if __name__ == "__main__":
    main()
