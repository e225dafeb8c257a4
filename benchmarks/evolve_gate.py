"""The predictor gate and parallel evaluation of `structsearch evolve`, on a built-in space.

1. **Gate.**  For each seed, the same space runs twice for the same number of generations: with
   its online predictor gate (estimation fraction 0.5) and with no gate.  Reported:
   ``gated_best_gap_points`` — the mean over seeds of (ungated best − gated best) validation
   accuracy, in points (positive: the gated search did worse); ``gated_trained_fraction`` — the
   trained share of all candidates the gated searches generated (duplicates and dropped ones
   count as generated, not trained); and, beside them, the per-seed figures, the test accuracy of
   each best candidate and the trained counts of both searches.
2. **Workers.**  The initial population of the space (no gate: every candidate trains) with 1 and
   with 2 local worker processes; ``two_worker_speedup`` is the ratio of candidates per minute,
   wall clock of the whole search including the start of the worker processes.

Targets (issue #7): gap ≤ 0.5 points while training ≤ 55 % of the candidates; speedup ≥ 1.7.

    python benchmarks/evolve_gate.py                       # digits-small, seeds 0 1 2
    python benchmarks/evolve_gate.py --seeds 0 --generations 5
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, parser  # noqa: E402

from structsearch.search.engine import Search  # noqa: E402
from structsearch.search.executors import LocalExecutor  # noqa: E402
from structsearch.search.space import load_space  # noqa: E402


def run(space, run_dir: Path, workers: int, data_dir) -> tuple[Search, float]:
    executor = LocalExecutor(workers)
    started = time.perf_counter()
    try:
        search = Search.start(space, run_dir, executor, data_dir)
        search.run()
    finally:
        executor.close()
    return search, time.perf_counter() - started


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
                    search, seconds = run(space.validate(), scratch / f"{mode}-{seed}", args.workers, data_dir)
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
            rates = {}
            for workers in (1, 2):
                space = load_space(args.space)
                space.evolution.generations = 0
                space.gate.predictor = "none"
                search, seconds = run(space.validate(), scratch / f"workers-{workers}", workers, data_dir)
                rates[workers] = search.trained / seconds * 60
                figures[f"candidates_per_minute_{workers}_worker"] = round(rates[workers], 2)
                search.store.close()
            figures["two_worker_speedup"] = round(rates[2] / rates[1], 3)
    emit(figures)


if __name__ == "__main__":
    main()
