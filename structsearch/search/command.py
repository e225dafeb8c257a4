"""``structsearch evolve`` and ``structsearch spaces``: options → search space → search → report."""

from __future__ import annotations

from structsearch.errors import ConfigError, DataError

# command-line option → (table, key) of the search space it overrides
OVERRIDES = {
    "seed": (None, "seed"),
    "population": ("evolution", "population"),
    "generations": ("evolution", "generations"),
    "selection": ("evolution", "selection"),
    "epochs": ("training", "epochs"),
    "predictor": ("gate", "predictor"),
    "estimation_fraction": ("gate", "estimation_fraction"),
    "max_candidates": ("budget", "max_candidates"),
    "max_hours": ("budget", "max_hours"),
}


def space_with_overrides(args):
    """The search space named by ``args.space`` with ``--set`` and the dedicated options applied."""
    from structsearch.config import read_toml, set_dotted
    from structsearch.search.space import space_from_dict, space_path

    path = space_path(args.space)
    data = read_toml(path)
    changes = []
    if getattr(args, "params", None):  # the file < --params < --set and the options
        from structsearch.studies import params_as_changes, read_params

        changes += params_as_changes(read_params(args.params), args.params)
    changes += list(args.set or [])
    changes += [(f"{table}.{key}" if table else key, getattr(args, option))
                for option, (table, key) in OVERRIDES.items() if getattr(args, option) is not None]
    for dotted, value in changes:
        set_dotted(data, dotted, value)
    source = f"{path}" + (" with command-line overrides" if changes else "")
    return space_from_dict(data, source)


def make_executor(args):
    from structsearch.search.executors import DaskExecutor, LocalExecutor

    if args.scheduler and args.dask_local:
        raise ConfigError("--scheduler and --dask-local exclude each other; give one")
    if args.scheduler or args.dask_local:
        if args.workers is not None:
            raise ConfigError("--workers is for the local executor; a Dask cluster brings its own workers")
        return DaskExecutor(args.scheduler, args.dask_local)
    return LocalExecutor(args.workers)


def run_evolve(args) -> int:
    from rich.console import Console

    from structsearch.runs import new_run_dir
    from structsearch.search.display import LiveView, summary_table, write_outputs
    from structsearch.search.engine import Search
    from structsearch.store import RunStore

    console = Console(stderr=True)
    extend = {}
    if args.resume:
        from structsearch.search.engine import RESUME_CHANGES

        given = [option for option in OVERRIDES if getattr(args, option) is not None]
        fixed = [f"--{o.replace('_', '-')}" for o in given if OVERRIDES[o] not in RESUME_CHANGES]
        fixed += (["--set"] if args.set else []) + (["SPACE"] if args.space_given else [])
        fixed += ["--params"] if args.params else []
        if fixed:
            raise ConfigError(f"--resume continues the stored search space; drop {', '.join(fixed)} "
                              "(only --generations, --max-candidates and --max-hours may change)")
        extend = {OVERRIDES[o]: getattr(args, o) for o in given}
        RunStore.open(args.resume).close()  # "not a run directory" as one line
        space = None
    else:
        space = space_with_overrides(args)
    executor = make_executor(args)
    view = None if args.quiet else LiveView(console)
    search = None
    try:
        if args.resume:
            search = Search.resume(args.resume, executor, args.data_dir, view, extend)
            if search.generation >= search.space.evolution.generations:
                console.print(f"{args.resume}: this search had finished; reporting it again "
                              "(--generations N continues it)")
        else:
            run_dir = new_run_dir(args.name, args.runs)
            search = Search.start(space, run_dir, executor, args.data_dir, view)
        outcome = search.run()
    except KeyboardInterrupt:
        if search is not None:
            console.print(f"interrupted; every finished candidate is stored. Continue with: "
                          f"structsearch evolve --resume {search.run_dir}")
        raise
    finally:
        executor.close()
    files = write_outputs(search)
    Console().print(summary_table(search))
    console.print(f"{outcome.stopped_by}: {outcome.trained} trained of {outcome.candidates} candidates over "
                  f"{outcome.generations + 1} generations; {', '.join(str(f) for f in files)}")
    search.store.close()
    return 0


def run_spaces(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from structsearch.search.space import builtin_spaces, load_space

    table = Table(title="built-in search spaces (copy one from search_spaces/ to make your own)")
    for column in ("name", "task", "model", "priors", "population × generations", "selection", "gate"):
        table.add_column(column)
    for name, path in sorted(builtin_spaces().items()):
        try:
            space = load_space(path)
        except (ConfigError, DataError) as error:
            table.add_row(name, f"[red]{error}[/red]", "", "", "", "", "")
            continue
        model = space.model.kind if space.model.kind == "mlp" else ",".join(space.model.cells)
        gate = "off" if not space.gate.enabled else f"{space.gate.predictor} ({space.gate.estimation_fraction})"
        table.add_row(name, space.task.name, model, ", ".join(space.genotype.priors),
                      f"{space.evolution.population} × {space.evolution.generations}", space.evolution.selection, gate)
    Console().print(table)
    return 0
