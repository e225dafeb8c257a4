"""``structsearch evolve``: options → search space → search → report."""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console

from structsearch.commands._options import (
    add_data_options,
    add_declared_options,
    add_memory_option,
    add_output_options,
    key_value,
    option_changes,
    positive_int,
)
from structsearch.compute import format_macs
from structsearch.errors import ConfigError, StructsearchError
from structsearch.overrides import parameter_changes, read_params, short_names
from structsearch.report import write_report
from structsearch.runs import new_run_dir
from structsearch.search.baseline import budget_unit, comparison_table, random_baseline
from structsearch.search.display import LiveView, summary_json, summary_table, write_outputs
from structsearch.search.display import spent as spent_line
from structsearch.search.engine import DRY_RUN_KEY, RESUME_CHANGES, Search
from structsearch.search.executors import EXECUTORS
from structsearch.search.gate.audit import audit_summary
from structsearch.search.space import DEFAULT_SPACE, SPACE_TABLES, load_space_with_changes
from structsearch.store import STORE_NAME, RunStore
from structsearch.tasks.tabular import TABULAR_TASKS

BASELINE_KEY = "baseline"  # the run store's record that a baseline was asked for
BUDGET_WORDS = {"macs": "training compute", "epochs": "training epochs"}

# option → the dotted key of the search space it overrides (named by the key's last part)
SPACE_OPTIONS = short_names([
    "seed", "evolution.population", "evolution.generations", "evolution.selection", "training.epochs",
    "gate.predictor", "gate.estimation_fraction", "gate.pool", "gate.acquisition", "budget.max_candidates",
    "budget.max_hours", "budget.max_epochs", "budget.max_macs",
])


def add_space_options(parser) -> None:
    """``--set`` and ``--params``: the changes of a space that evolve and study share."""
    parser.add_argument("--set", action="append", type=key_value, metavar="TABLE.KEY=VALUE",
                        help="override a key of the space, e.g. evolution.population=16 (repeatable)")


def space_changes(args, options: dict[str, str]) -> list[tuple[str, object]]:
    """The file < ``--params`` < ``--set`` and the dedicated options."""
    changes = parameter_changes(read_params(args.params), space=True) if getattr(args, "params", None) else []
    return changes + list(args.set or []) + option_changes(args, options)


def add_parser(commands) -> None:
    parser = commands.add_parser("evolve", help="the genetic structure search (default: the digits-small space)")
    parser.add_argument("space", nargs="?", help="a built-in space (see `structsearch spaces`) or a TOML file")
    parser.add_argument("--resume", metavar="RUN", help="continue the search in this run directory")
    parser.add_argument("--workers", type=positive_int, help="local worker processes (default: the cores)")
    parser.add_argument("--scheduler", metavar="URL", help="a Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("--dask-local", type=positive_int, metavar="N",
                        help="start a Dask LocalCluster of N worker processes")
    parser.add_argument("--dry-run", action="store_true",
                        help="score each candidate by its structure instead of training it: the space, its gate, "
                             "budget, selection, store and resume run in seconds; the accuracies are stand-ins")
    add_space_options(parser)
    parser.add_argument("--params", help="a [params] file written by `structsearch study`")
    parser.add_argument("--task", help="replace the space's task (a tabular task — csv, madelon, higgs — without "
                                       "SPACE searches the `tabular` space)")
    parser.add_argument("--task-option", action="append", type=key_value, metavar="KEY=VALUE",
                        help="an option of the task, e.g. path=table.csv or label=kind (repeatable)")
    add_declared_options(parser, SPACE_OPTIONS, SPACE_TABLES, default_from="the space's value")
    add_output_options(parser)
    parser.add_argument("--baseline", choices=["random"],
                        help="then run random search (same seed, no gate) with exactly the training compute "
                             "(max_macs) or epochs the search spent, into RUN-random, and compare the two")
    parser.add_argument("--quiet", action="store_true", help="no live view")
    parser.add_argument("--json", action="store_true",
                        help="print the best candidates as JSON on the last line instead of the table")
    parser.add_argument("--no-report", action="store_true",
                        help="do not write report.html at the end (also: STRUCTSEARCH_REPORT=0)")
    add_data_options(parser)
    add_memory_option(parser)


def make_executor(args):
    if args.dry_run:
        given = [option for option, value in (("--workers", args.workers), ("--scheduler", args.scheduler),
                                              ("--dask-local", args.dask_local)) if value is not None]
        if given:
            raise ConfigError(f"--dry-run trains nothing; drop {', '.join(given)}")
        return EXECUTORS.lookup("structure-score")()
    if args.scheduler and args.dask_local:
        raise ConfigError("--scheduler and --dask-local exclude each other; give one")
    if args.scheduler or args.dask_local:
        if args.workers is not None:
            raise ConfigError("--workers is for the local executor; a Dask cluster brings its own workers")
        return EXECUTORS.lookup("dask")(args.scheduler, args.dask_local)
    return EXECUTORS.lookup("local")(args.workers)


def _resume_extension(args) -> dict[str, object]:
    """The changes ``--resume`` accepts (where the search stops), or a one-line refusal."""
    given = [option for option in SPACE_OPTIONS if getattr(args, option) is not None]
    if args.selection is not None:
        with RunStore.open(args.resume, kind="evolve") as store:
            made_by = store.config.get("evolution", {}).get("selection")
        if args.selection != made_by:
            raise ConfigError(f"--resume {args.resume}: this run was made by selection {made_by!r}; "
                              f"--selection {args.selection} cannot continue it (start a new run with --name)")
    fixed = [f"--{o.replace('_', '-')}" for o in given if SPACE_OPTIONS[o] not in RESUME_CHANGES]
    fixed += (["--set"] if args.set else []) + (["SPACE"] if args.space is not None else [])
    fixed += ["--params"] if args.params else []
    fixed += ["--task"] if args.task else []
    fixed += ["--task-option"] if args.task_option else []
    if fixed:
        raise ConfigError(f"--resume continues the stored search space; drop {', '.join(fixed)} "
                          "(only --generations, --max-candidates, --max-hours and --max-epochs may change)")
    return {SPACE_OPTIONS[o]: getattr(args, o) for o in given}


def run(args) -> int:
    console = Console(stderr=True)
    extend = {}
    if args.resume:
        extend = _resume_extension(args)
        if args.name:
            raise ConfigError("--resume continues RUN where it is; drop --name")
        with RunStore.open(args.resume, kind="evolve") as store:  # "not a run directory" as one line
            dry_run = bool(store.meta(DRY_RUN_KEY, False))
        if dry_run != args.dry_run:  # stand-in accuracies and real ones never mix in one run
            made, fix = ("without", "drop") if args.dry_run else ("with", "add")
            raise ConfigError(f"--resume {args.resume}: this run was made {made} --dry-run; {fix} --dry-run")
        space = None
    else:
        changes = space_changes(args, SPACE_OPTIONS)
        if args.task:
            changes = [("task.name", args.task)] + changes
        changes += [(f"task.{key}", value) for key, value in args.task_option or []]
        default = "tabular" if args.task in TABULAR_TASKS else DEFAULT_SPACE  # a table gets the tabular space
        space = load_space_with_changes(args.space or default, changes)
    executor = make_executor(args)
    view = None if args.quiet else LiveView(console)
    search = baseline = None
    try:
        if args.resume:
            run_dir = Path(args.resume)
            baseline_dir, baseline_store = _resumed_baseline(args, run_dir)
            search = Search.resume(args.resume, executor, args.data_dir, view, extend)
            if search.generation >= search.space.evolution.generations:
                console.print(f"{args.resume}: this search had finished; reporting it again "
                              "(--generations N continues it)")
        else:
            run_dir = new_run_dir(args.name, args.runs, overwrite=args.overwrite)
            baseline_dir = _baseline_dir(args, args.runs, run_dir.name, overwrite=args.overwrite)
            baseline_store = False
            search = Search.start(space, run_dir, executor, args.data_dir, view)
            if args.dry_run:  # stand-in accuracies: the store says so (Search.start), and only a dry run resumes it
                console.print(f"{run_dir}: a dry run; candidates are scored by structure, nothing trains")
            if baseline_dir is not None:  # part of the run: --resume finishes it
                search.store.set_meta(BASELINE_KEY, {"selection": "random", "dir": baseline_dir.name,
                                                     "budget": f"the {BUDGET_WORDS[budget_unit(space)]} the "
                                                               "search spent"})
        outcome = search.run()
        if baseline_dir is not None:
            unit = budget_unit(search.space)
            spent = search.ledger.spent_macs if unit == "macs" else search.ledger.spent_epochs
            said = f"{format_macs(spent)} of training compute" if unit == "macs" else f"{spent:,} training epochs"
            key = "max_macs" if unit == "macs" else "max_epochs"
            search.store.set_meta(BASELINE_KEY, {"selection": "random", "dir": baseline_dir.name,
                                                 "budget": f"the {BUDGET_WORDS[unit]} the search spent",
                                                 key: max(1, spent)})
            if baseline_store:
                console.print(f"the random baseline: continuing {baseline_dir} to {said}")
                baseline = Search.resume(baseline_dir, executor, search.data_dir, view,
                                         {f"budget.{key}": max(1, spent)})
            else:
                console.print(f"the random baseline: {said} into {baseline_dir}")
                baseline = Search.start(random_baseline(search.space, spent, spent if unit == "macs" else None),
                                        baseline_dir, executor, search.data_dir, view)
            baseline.run()
    except KeyboardInterrupt:
        if search is not None:
            console.print(f"interrupted; every finished candidate is stored. Continue with: "
                          f"structsearch evolve --resume {search.run_dir}")
        raise
    finally:
        executor.close()
    files = write_outputs(search)
    if not args.json:
        Console().print(summary_table(search))
    console.print(f"{outcome.stopped_by}: {outcome.trained} trained of {outcome.candidates} candidates over "
                  f"{outcome.generations + 1} generations ({spent_line(search)}); "
                  f"{', '.join(str(f) for f in files)}")
    audit = audit_summary(search.history)
    if audit:
        tau = "n/a" if audit["gate_tau_weighted"] is None else f"{audit['gate_tau_weighted']:+.3f}"
        console.print(f"gate audit: {audit['audited']} dropped children trained anyway; Kendall τ over every "
                      f"scored child (weighted, mean of generations) {tau}; regret (dropped children that "
                      f"would have made a generation's top quarter, estimated) {audit['gate_regret']:.1f}")
    if baseline is not None:
        write_outputs(baseline)
        Console().print(comparison_table({search.space.evolution.selection: search.store,
                                          "random": baseline.store}, budget_unit(search.space)))
        baseline.store.close()
    summary = summary_json(search) if args.json else None
    search.store.close()
    runs = [search.run_dir] + ([baseline.run_dir] if baseline is not None else [])
    if not args.no_report and os.environ.get("STRUCTSEARCH_REPORT", "1") != "0":
        _report(console, runs)
    if summary is not None:
        print(summary)
    return 0


def _report(console, runs) -> None:
    """Write report.html into the first run; a report that fails is a note, never a lost search."""
    try:
        path = write_report(runs)
    except (StructsearchError, OSError, ValueError) as error:
        console.print(f"note: no report written ({error}); try `structsearch report {runs[0]}`")
        return
    console.print(f"report: {path}")


def _resumed_baseline(args, run_dir: Path) -> tuple[Path | None, bool]:
    """The baseline folder of a resumed search and whether it holds the baseline's store already.

    A baseline is part of its run: asked for when the search started (its store records it) or by
    this ``--baseline``.  Its folder ``RUN-random`` is continued when it holds this search's random
    baseline (finished or not: a finished one is reported again, never deleted), made when it is
    missing or empty, and otherwise refused unless ``--overwrite`` (which replaces only a run of
    structsearch)."""
    with RunStore.open(run_dir, kind="evolve") as store:
        recorded = store.meta(BASELINE_KEY)
    if not recorded and not args.baseline:
        return None, False
    path = run_dir.parent / ((recorded or {}).get("dir") or f"{run_dir.name}-random")
    if (path / STORE_NAME).is_file() and not args.overwrite:
        with RunStore.open(path) as store:
            ours = store.kind == "evolve" and store.config.get("evolution", {}).get("selection") == "random"
        if ours:
            return path, True
        raise ConfigError(f"{path} holds another run, not this search's random baseline; move it away or "
                          "replace it with --overwrite")
    if path.exists() and (not path.is_dir() or any(path.iterdir())) and not args.overwrite:
        raise ConfigError(f"{path} already exists and is not this search's random baseline; move it away or "
                          "replace it with --overwrite")
    return new_run_dir(path.name, run_dir.parent, overwrite=args.overwrite), False


def _baseline_dir(args, runs, name: str, overwrite: bool):
    """The folder of ``--baseline``'s run, made before any training (so a clash costs nothing)."""
    return new_run_dir(f"{name}-random", runs, overwrite=overwrite) if args.baseline else None
