"""The gate's curve stage against the median stopping rule and no stopping, on the same seeds and
the same training-epoch budget (issue 18).

Runs ``structsearch evolve`` on a space (default digits-small, its 720-epoch budget) for every
seed in three ways:

* ``none`` — no gate, no stopping;
* ``median`` — no gate, ``stopping.median = true`` (Optuna's median rule);
* ``curve`` — ``gate.stage = "curve"`` with ``curve_epochs`` (the linear curve model stops a child
  predicted below the population's ``estimation_fraction`` quantile).

Per method: best validation accuracy at the budget, the pick's test accuracy, candidates trained,
candidates stopped, epochs per candidate.

    python benchmarks/stopping_rules.py                        # digits-small, seeds 0 1 2 (~15 min on 2 cores)
    python benchmarks/stopping_rules.py --seeds 0 --curve-epochs 1
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, parser  # noqa: E402


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--space", default="digits-small")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--curve-epochs", type=int, default=2)
    p.add_argument("--keep", help="keep the runs in this folder")
    args = p.parse_args()
    from structsearch.search.baseline import trained, trajectory
    from structsearch.store import RunStore

    methods = {
        "none": ["--set", "gate.predictor=none"],
        "median": ["--set", "gate.predictor=none", "--set", "stopping.median=true"],
        "curve": ["--set", "gate.predictor=online", "--set", "gate.stage=curve",
                  "--set", f"gate.curve_epochs={args.curve_epochs}"],
    }
    figures: dict = {"space": args.space, "methods": {}}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.keep or scratch)
        for seed in args.seeds:
            for name, extra in methods.items():
                run = root / f"{name}-{seed}"
                started = time.perf_counter()
                if not (run / "run.db").exists():
                    subprocess.run([sys.executable, "-m", "structsearch", "evolve", args.space, "--runs", str(root),
                                    "--name", run.name, "--quiet", "--no-report", "--seed", str(seed), *extra],
                                   check=True, stdout=subprocess.DEVNULL)
                with RunStore.open(run) as store:
                    candidates = store.candidates()
                rows, points = trained(candidates), trajectory(candidates)
                pick = points[-1][2]
                figures["methods"].setdefault(name, []).append({
                    "seed": seed, "best_val": round(points[-1][1], 4),
                    "pick_test": round(pick.metrics.get("test_accuracy"), 4),
                    "trained": len(rows), "stopped": sum(c.status == "stopped-early" for c in rows),
                    "epochs": sum(int(c.metrics.get("cost_epochs", 0)) for c in rows),
                    "epochs_per_candidate": round(statistics.mean(c.metrics.get("cost_epochs", 0) for c in rows), 2),
                    "minutes": round((time.perf_counter() - started) / 60, 2)})
                print(name, seed, figures["methods"][name][-1], file=sys.stderr, flush=True)
    for name, rows in figures["methods"].items():
        figures[f"{name}_mean_best_val"] = round(statistics.mean(r["best_val"] for r in rows), 4)
        figures[f"{name}_mean_pick_test"] = round(statistics.mean(r["pick_test"] for r in rows), 4)
    emit(figures)


if __name__ == "__main__":
    main()
