"""``structsearch tasks``: the tasks with their shapes and split sizes."""

from __future__ import annotations

import json

from rich.console import Console

from structsearch.commands._options import add_data_options
from structsearch.errors import DataError
from structsearch.tables import Column, fitted_table
from structsearch.tasks import load_task, task_entry, task_names, task_options


def add_parser(commands) -> None:
    parser = commands.add_parser("tasks", help="list the tasks with their shapes and sizes")
    parser.add_argument("--json", action="store_true", help="print them as JSON (for scripts)")
    add_data_options(parser)


COLUMNS = ("task", "input shape", "classes", "train", "validation", "test")


def run(args) -> int:
    rows, notes = [], []
    for name in task_names():
        entry = task_entry(name)
        options = {}
        if entry.needs_files and "data_dir" in task_options(name):
            options["data_dir"] = args.data_dir
            if name in ("mnist", "fashion-mnist"):
                options["download"] = False
        try:
            task = load_task(name, **options)
        except DataError as error:
            rows.append([name, "needs files", "", "", "", ""])
            notes.append(f"{name}: {str(error).removeprefix(f'{name}: ')}")
            continue
        shape = "×".join(map(str, task.input_shape)) + (" (sequence)" if task.sequence else "")
        rows.append([name, shape, str(task.n_classes), f"{len(task.train):,}", f"{len(task.validation):,}",
                     f"{len(task.test):,}"])
    if args.json:
        print(json.dumps([{**dict(zip(COLUMNS, row, strict=True)), "summary": task_entry(row[0]).summary}
                          for row in rows]))
        return 0
    columns = [Column("task", identifies=True), Column("input shape", identifies=True),
               Column("classes", priority=3, justify="right"), Column("train", priority=2, justify="right"),
               Column("validation", priority=0, justify="right"), Column("test", priority=1, justify="right")]
    console = Console()
    console.print(fitted_table("tasks", columns, rows))
    for name in task_names():
        console.print(f"[bold]{name}[/bold]: {task_entry(name).summary}")
    for note in notes:
        console.print(f"[dim]{note}[/dim]")
    return 0
