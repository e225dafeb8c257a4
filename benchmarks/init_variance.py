"""How much of a candidate's accuracy is its initialisation?  Structures trained from several seeds.

A search can only find better structures where the structure decides the accuracy more than the
initial weights do. For each space of ``benchmarks/search_efficiency.py`` and each ``--seeds``
number, a random search at ``--budget`` (a fraction of the space's ``max_macs``) draws and trains
candidates as that benchmark's random search does; its ``--top`` best by validation and ``--others``
more drawn at random from the rest are then each retrained from ``--repeats`` new initialisations
(the search's own training counts as one more). Figures per space, over all those structures:

* ``within_sd_points``: the standard deviation of test accuracy between trainings of one structure
  (pooled over the structures), in points;
* ``between_sd_points``: the standard deviation of the structures' mean test accuracies;
* ``icc``: the share of a single training's test-accuracy variance that the structure explains,
  the one-way random-effects intraclass correlation ICC(1) (Shrout & Fleiss 1979), from the
  balanced one-way analysis of variance: (MSB − MSW) / (MSB + (k − 1) MSW);
* ``val_test_r_within``: the Pearson correlation of validation and test accuracy between the
  trainings of one structure (each centred on its structure's mean): how well validation finds a
  lucky initialisation;
* ``top_mean_gap_points``: how far the search's best training by validation lies above the mean of
  its structure's trainings (the initialisation luck in a search's pick).

Searches run in ``--jobs`` processes, each pinned to a core with one thread.

    python benchmarks/init_variance.py --spaces reber-gru-small                # ≈ 3 minutes on 2 cores
    python benchmarks/init_variance.py --spaces fashion-mnist-small --seeds 0 1 --repeats 5
    python benchmarks/init_variance.py --set training.epochs=18   # does longer training leave less to luck?
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, parser  # noqa: E402
from search_efficiency import METHODS, SPACES, pin_to_one_core, retrain_results  # noqa: E402

from structsearch.bootstrap import structure_share  # noqa: E402
from structsearch.overrides import parse_assignment  # noqa: E402


def measure(task: tuple) -> list[dict]:
    """One random search and its chosen structures retrained: per structure its trainings."""
    space_name, seed, fraction, top, others, repeats, data_dir, extra = task
    import torch

    from structsearch.search.engine import Search
    from structsearch.search.executors import InProcessExecutor
    from structsearch.search.space import load_space_with_changes

    torch.set_num_threads(1)
    spec = SPACES[space_name]
    changes = [*spec["changes"], *extra, *METHODS["random"], ("seed", seed + 1000),
               ("budget.max_macs", spec["max_macs"][0] * fraction), ("budget.max_epochs", 0),
               ("evolution.generations", 10_000)]
    space = load_space_with_changes(spec["space"], changes)
    with tempfile.TemporaryDirectory() as folder:
        search = Search.start(space, Path(folder) / "run", InProcessExecutor(), data_dir)
        search.run()
        trained = [c for c in search.store.candidates() if c.status in ("ok", "stopped-early")
                   and not c.metrics.get("duplicate_of")]
        search.store.close()
    trained.sort(key=lambda c: (-c.metrics["val_accuracy"], c.id))
    rest = trained[top:]
    drawn = np.random.default_rng(seed).choice(len(rest), size=min(others, len(rest)), replace=False)
    chosen = trained[:top] + [rest[i] for i in sorted(drawn)]
    rows = []
    for rank, candidate in enumerate(chosen):
        again = [(v, t) for v, t in retrain_results(space, search, candidate, repeats) if t is not None]
        rows.append({"space": space_name, "seed": seed, "candidate": candidate.id, "top": rank < top,
                     "best": rank == 0, "connections": candidate.metrics.get("connections"),
                     "val": [candidate.metrics["val_accuracy"], *(v for v, _ in again)],
                     "test": [candidate.metrics["test_accuracy"], *(t for _, t in again)]})
    return rows


def variance_figures(structures: list[dict]) -> dict:
    """The figures of ``structures`` (each with its ``test`` and ``val`` accuracies over its trainings),
    in points where they are accuracies."""
    share = structure_share([s["test"] for s in structures], [s["val"] for s in structures])
    k = share["trainings_each"]
    best = [s for s in structures if s["best"]]
    return {"structures": share["structures"], "trainings_each": k,
            "within_sd_points": round(100 * share["within_sd"], 2),
            "between_sd_points": round(100 * share["between_sd"], 2),
            "icc": round(share["icc"], 3), "val_test_r_within": round(share["val_test_r_within"], 3),
            "top_mean_gap_points": round(100 * statistics.fmean(s["test"][0] - statistics.fmean(s["test"][:k])
                                                                for s in best), 2) if best else None}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--spaces", nargs="+", default=["reber-gru-small"], choices=list(SPACES))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--budget", type=float, default=0.25, help="the search's fraction of the space's max_macs")
    p.add_argument("--top", type=int, default=4, help="the best structures by validation retrained")
    p.add_argument("--others", type=int, default=2, help="more structures drawn at random from the rest")
    p.add_argument("--repeats", type=int, default=7, help="new initialisations of each structure")
    p.add_argument("--jobs", type=int, default=os.cpu_count(), help="searches at once (default: the cores)")
    p.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE",
                   help="change every space, e.g. training.epochs=18 (repeatable)")
    args = p.parse_args()
    extra = [parse_assignment(text) for text in args.set]
    for name, value in (("--repeats", args.repeats), ("--top", args.top), ("--jobs", args.jobs)):
        if value < 1:
            p.error(f"{name} must be at least 1, got {value}")
    if not 0 < args.budget <= 1:
        p.error(f"--budget is a fraction of the space's max_macs in (0, 1], got {args.budget}")
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    started = time.perf_counter()
    tasks = [(space, seed, args.budget, args.top, args.others, args.repeats, args.data_dir, extra)
             for space in args.spaces for seed in args.seeds]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.jobs, mp_context=context, initializer=pin_to_one_core,
                             initargs=(context.Value("i", 0),)) as pool:
        rows = [row for block in pool.map(measure, tasks) for row in block]
    figures: dict = {"spaces": {}}
    for space in args.spaces:
        structures = [row for row in rows if row["space"] == space]
        figures["spaces"][space] = {**variance_figures(structures), "per_structure": [
            {"seed": s["seed"], "candidate": s["candidate"], "top": s["top"], "connections": s["connections"],
             "mean_test": round(statistics.fmean(s["test"]), 4), "sd_test": round(statistics.stdev(s["test"]), 4),
             "test": [round(t, 4) for t in s["test"]], "val": [round(v, 4) for v in s["val"]]}
            for s in structures]}
        summary = figures["spaces"][space]
        print(f"{space}: {summary['structures']} structures × {summary['trainings_each']} trainings; test accuracy "
              f"sd within a structure {summary['within_sd_points']} pts, between structures' means "
              f"{summary['between_sd_points']} pts, ICC {summary['icc']}; val–test r within a structure "
              f"{summary['val_test_r_within']}; the best training lies {summary['top_mean_gap_points']} pts above "
              f"its structure's mean", file=sys.stderr)
    figures["conditions"] = {"seeds": args.seeds, "set": args.set, "budget_fraction": args.budget, "top": args.top,
                             "others": args.others, "repeats": args.repeats, "jobs": args.jobs, "torch_threads": 1,
                             "wall_minutes": round((time.perf_counter() - started) / 60, 2)}
    figures["headline"] = headline(figures)
    emit(figures)


def headline(figures: dict) -> list[dict]:
    """The README's lines: per space the structure's share of a training's variance, and the two spreads."""
    spaces = figures["spaces"]
    changed = figures["conditions"].get("set") or []
    names = " / ".join(spaces) + (f" (with {', '.join(changed)})" if changed else "")
    return [{"what": f"share of one training's test-accuracy variance that its structure explains (ICC(1)): {names}",
             "value": " / ".join(f"{t['icc']:.2f}" for t in spaces.values())},
            {"what": f"test accuracy sd between trainings of one structure vs between structures, points: {names}",
             "value": " / ".join(f"{t['within_sd_points']:.1f} vs {t['between_sd_points']:.1f}"
                                 for t in spaces.values())}]


if __name__ == "__main__":
    main()
