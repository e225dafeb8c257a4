"""``structsearch spaces``: the built-in search spaces."""

from __future__ import annotations

import json

from rich.console import Console

from structsearch.errors import ConfigError, DataError
from structsearch.search.space import builtin_spaces, load_space
from structsearch.tables import Column, fitted_table


def add_parser(commands) -> None:
    parser = commands.add_parser("spaces", help="list the built-in search spaces")
    parser.add_argument("--json", action="store_true", help="print them as JSON (for scripts)")


COLUMNS = ("name", "task", "model", "priors", "population × generations", "selection", "gate")


def run(args) -> int:
    rows = []
    for name, path in sorted(builtin_spaces().items()):
        try:
            space = load_space(path)
        except (ConfigError, DataError) as error:
            rows.append([name, f"error: {error}", "", "", "", "", ""])
            continue
        model = ", ".join(space.cells) or space.model.kind
        gate = "off" if not space.gate.enabled else f"{space.gate.predictor} ({space.gate.estimation_fraction})"
        rows.append([name, space.task.name, model, ", ".join(space.genotype.priors),
                     f"{space.evolution.population} × {space.evolution.generations}", space.evolution.selection, gate])
    if args.json:
        print(json.dumps([dict(zip(COLUMNS, row, strict=True)) for row in rows]))
        return 0
    columns = [Column("name", identifies=True), Column("task", priority=5), Column("model", wraps=True, priority=4),
               Column("priors", wraps=True, priority=1), Column("population × generations", wraps=True, priority=2),
               Column("selection", priority=3), Column("gate", priority=0)]
    Console().print(fitted_table("built-in search spaces (copy one from search_spaces/ to make your own)",
                                 columns, rows))
    return 0
