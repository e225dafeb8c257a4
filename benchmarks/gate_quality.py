"""How well can a gate rank candidates, from structure alone, with zero-cost proxies, and with the
first epoch of the learning curve?

For each meta-dataset (``--meta FILE``, or ``--runs RUN`` exported on the fly; ``structsearch meta
export`` writes the graph features, ``proxy_*`` and ``curve_val_epoch_1`` columns this needs; or
``--generate SPACE…``, which first runs ungated evolution on the efficiency benchmark's spaces,
``--candidates`` trained candidates each, into ``--out`` and uses those runs), a
predictor (``--model``, default rf) is scored by grouped cross-validation (``--group``, default
``generation``: no generation is split between training and test rows) on three feature sets:
- graph: structsearch's graph features;
- graph + proxies: and the five zero-cost proxies at initialisation;
- graph + proxies + curve: and the validation accuracy after the first epoch.
It reports Kendall τ and precision@10 % for each, each proxy's own τ with the target, and the
proxies' share of training time (Σ proxy seconds ÷ Σ training seconds), and the noise ceiling
``tau_target_test``: the τ between the target and the same candidates' test accuracy (a predictor
scored against a noisy validation accuracy cannot rank it much better than the test set does).

Targets (the gate issue): ``tau_graph_proxies`` ≥ 0.5 and ``tau_with_curve`` ≥ 0.7 on every
meta-dataset (each of ≥ 300 candidates from the Reber GRU and Fashion-MNIST search spaces);
``proxy_cost_share`` ≤ 0.05.  The last JSON line holds the smallest τ and the largest cost share
over the meta-datasets, and each one's figures.
"""

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
from _common import emit, parser, setup_threads  # noqa: E402
from scipy.stats import kendalltau  # noqa: E402

from structsearch.graphs.features import feature_names  # noqa: E402
from structsearch.meta import CURVE_COLUMNS, PROXY_COLUMNS, export, read_table  # noqa: E402
from structsearch.predictors.evaluation import cross_validate_with_baseline  # noqa: E402
from structsearch.predictors.model import make_pipeline  # noqa: E402
from structsearch.predictors.workflow import load_xy  # noqa: E402

SETS = {
    "graph": lambda: feature_names(),
    "graph_proxies": lambda: feature_names() + PROXY_COLUMNS,
    "with_curve": lambda: feature_names() + PROXY_COLUMNS + CURVE_COLUMNS,
}


def quality(path, target: str, group: str, model: str, folds: int, repeats: int) -> dict:
    table = read_table(path)
    figures = {"rows": int(table[target].size)}
    for name, columns in SETS.items():
        x, y, groups = load_xy(path, target, columns(), table=table, group=group)
        size = np.asarray(table["connections"], dtype=float) if "connections" in table else None
        cv, baseline = cross_validate_with_baseline(make_pipeline(model), x, y, size, min(folds, len(set(groups))),
                                                    repeats, 0, groups)
        if baseline is not None:  # the parameter count alone, on the same folds (the same for every set)
            figures["tau_connections"] = round(baseline["kendall_tau"]["mean"], 4)
        figures[f"tau_{name}"] = round(cv["kendall_tau"]["mean"], 4)
        figures[f"tau_{name}_std"] = round(cv["kendall_tau"]["std"], 4)
        figures[f"precision_at_10_{name}"] = round(cv["precision_at_10"]["mean"], 4)
    figures["proxy_tau"] = {column: round(float(kendalltau(table[column], table[target], nan_policy="omit")
                                                 .statistic), 4) for column in PROXY_COLUMNS}
    if "test_accuracy" in table:  # the noise ceiling: how well the test set ranks what the target ranks
        figures["tau_target_test"] = round(float(kendalltau(table[target], table["test_accuracy"],
                                                            nan_policy="omit").statistic), 4)
    figures["proxy_cost_share"] = round(float(np.nansum(table["proxy_seconds"]) / np.nansum(table["train_seconds"])), 4)
    return figures


def generate(space_name: str, candidates: int, seed: int, out: Path, data_dir: str, extra=()) -> Path:
    """Ungated evolution on one of search_efficiency.py's spaces until ``candidates`` are trained: every
    child trains, so the meta-dataset holds the children a gate would have scored."""
    from search_efficiency import SPACES

    from structsearch.search.engine import Search
    from structsearch.search.executors import InProcessExecutor
    from structsearch.search.space import load_space_with_changes

    spec = SPACES[space_name]
    changes = [*spec["changes"], *extra, ("gate.predictor", "none"), ("seed", seed),
               ("budget.max_candidates", candidates), ("evolution.generations", 10_000)]
    suffix = "".join(f"-{key.split('.')[-1]}{value}" for key, value in extra)  # e.g. -n_strings8000
    folder = out / f"{space_name}{suffix}-seed{seed}"
    started = time.perf_counter()
    if (folder / "run.db").exists():
        search = Search.resume(folder, InProcessExecutor(), data_dir)
    else:
        search = Search.start(load_space_with_changes(spec["space"], changes), folder, InProcessExecutor(), data_dir)
    search.run()
    search.store.close()
    print(f"{space_name}: {candidates} candidates in {(time.perf_counter() - started) / 60:.1f} min -> {folder}",
          file=sys.stderr, flush=True)
    return folder


def main():
    p = parser(__doc__)
    p.add_argument("--meta", nargs="*", default=[], help="meta-datasets (.csv or .parquet)")
    p.add_argument("--runs", nargs="*", default=[], help="search run directories, one meta-dataset each")
    p.add_argument("--generate", nargs="*", default=[], metavar="SPACE",
                   help="first run ungated evolution on these spaces of search_efficiency.py "
                        "(reber-gru-small, fashion-mnist-small, digits-small)")
    p.add_argument("--candidates", type=int, default=320, help="trained candidates per generated run")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated runs")
    p.add_argument("--out", default="runs/gate-quality", help="folder of the generated runs (resumed if present)")
    p.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE",
                   help="change the generated runs' space, e.g. task.n_strings=8000 (repeatable)")
    p.add_argument("--target", default="val_accuracy")
    p.add_argument("--group", default="generation")
    p.add_argument("--model", default="rf")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    setup_threads(args.threads)
    if not args.meta and not args.runs and not args.generate:
        sys.exit("gate_quality.py: give --meta FILE…, --runs RUN… or --generate SPACE…")
    from structsearch.overrides import parse_assignment

    extra = [parse_assignment(text) for text in args.set]
    args.runs += [str(generate(space, args.candidates, args.seed, Path(args.out), args.data_dir, extra))
                  for space in args.generate]
    figures = {"target": args.target, "group": args.group, "model": args.model, "datasets": {}}
    with tempfile.TemporaryDirectory() as scratch:
        paths = [Path(m) for m in args.meta]
        for run in args.runs:
            out = Path(scratch) / f"{Path(run).name}.csv"
            export([run], out)
            paths.append(out)
        for path in paths:
            figures["datasets"][path.stem] = quality(path, args.target, args.group, args.model, args.folds,
                                                      args.repeats)
            print(path.stem, figures["datasets"][path.stem], flush=True)
    sets = figures["datasets"].values()
    figures["tau_graph"] = min(d["tau_graph"] for d in sets)
    figures["tau_graph_proxies"] = min(d["tau_graph_proxies"] for d in sets)
    figures["tau_with_curve"] = min(d["tau_with_curve"] for d in sets)
    figures["proxy_cost_share"] = max(d["proxy_cost_share"] for d in sets)
    figures["targets_met"] = (figures["tau_graph_proxies"] >= 0.5 and figures["tau_with_curve"] >= 0.7
                              and figures["proxy_cost_share"] <= 0.05
                              and all(d["rows"] >= 300 for d in sets))
    emit(figures)


if __name__ == "__main__":
    main()
