"""``structsearch spaces``: the built-in search spaces."""

from __future__ import annotations


def add_parser(commands) -> None:
    commands.add_parser("spaces", help="list the built-in search spaces")


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from structsearch.errors import ConfigError, DataError
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
