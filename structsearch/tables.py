"""Terminal tables that never crop what identifies a row.

Rich shrinks every column of a table that is too wide and cuts cells with "…", so in an
80-column terminal (or a pipe) the names that identify rows became unreadable.  :func:`fitted_table`
gives each *identifying* column (a name, a structure, an origin) at least the width of its longest
word and lets it wrap at spaces, and drops the least important other columns first until the table
fits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table


@dataclass
class Column:
    header: str
    identifies: bool = False  # wraps, never cut; never dropped
    wraps: bool = False  # wraps at spaces instead of widening the table (droppable)
    priority: int = 0  # other columns are dropped lowest priority first when space is short
    justify: str = "left"


def _words(text: str) -> list[str]:
    return [word for word in re.split(r"[\s]+", text) if word]


def fitted_table(title: str | None, columns: list[Column], rows: list[list[str]], width: int | None = None):
    """A rich Table of ``rows`` that fits ``width`` (the console's by default); the columns kept are
    returned in the table's ``columns``."""
    width = width or Console().width
    cells = [[str(row[i]) for row in rows] for i in range(len(columns))]

    def natural(i: int) -> int:
        return max([len(columns[i].header)] + [len(c) for c in cells[i]])

    def need(i: int) -> int:
        column = columns[i]
        if column.identifies or column.wraps:  # the longest word whole; longer cells wrap at spaces
            return max([len(w) for w in _words(column.header)] + [len(w) for c in cells[i] for w in _words(c)] + [1])
        return natural(i)

    def frame(n: int) -> int:  # borders and one space of padding either side of every cell
        return 3 * n + 1

    kept = list(range(len(columns)))
    droppable = sorted((i for i, c in enumerate(columns) if not c.identifies), key=lambda i: (columns[i].priority, -i))
    while sum(need(i) for i in kept) + frame(len(kept)) > width and droppable:
        kept.remove(droppable.pop(0))
    # every column at its natural width; wrapping ones give up width (the widest first) until it fits
    widths = {i: natural(i) for i in kept}
    while sum(widths.values()) + frame(len(kept)) > width:
        shrinkable = [i for i in kept if widths[i] > need(i)]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i] - need(i))
        widths[widest] -= 1
    table = Table(title=title)
    for i in kept:
        column = columns[i]
        wraps = column.identifies or column.wraps
        table.add_column(column.header, justify=column.justify, width=widths[i],
                         overflow="fold" if wraps else "ellipsis", no_wrap=not wraps)
    for row in rows:
        table.add_row(*(str(row[i]) for i in kept))
    return table
