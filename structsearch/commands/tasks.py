"""``structsearch tasks``: the tasks with their shapes and split sizes."""

from __future__ import annotations

from structsearch.commands._options import add_data_options


def add_parser(commands) -> None:
    parser = commands.add_parser("tasks", help="list the tasks with their shapes and sizes")
    add_data_options(parser)


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from structsearch.errors import DataError
    from structsearch.tasks import load_task, task_entry, task_names

    table = Table(title="tasks")
    for column in ("task", "input shape", "classes", "train", "validation", "test"):
        table.add_column(column)
    notes = []
    for name in task_names():
        entry = task_entry(name)
        options = {}
        if entry.needs_files:
            options["data_dir"] = args.data_dir
            if name in ("mnist", "fashion-mnist"):
                options["download"] = False
        try:
            task = load_task(name, **options)
        except DataError as error:
            table.add_row(name, "needs files", "", "", "", "")
            notes.append(f"{name}: {error}")
            continue
        shape = "×".join(map(str, task.input_shape)) + (" (sequence)" if task.sequence else "")
        table.add_row(name, shape, str(task.n_classes), f"{len(task.train):,}",
                      f"{len(task.validation):,}", f"{len(task.test):,}")
    console = Console()
    console.print(table)
    for name in task_names():
        console.print(f"[bold]{name}[/bold]: {task_entry(name).summary}")
    for note in notes:
        console.print(f"[dim]{note}[/dim]")
    return 0
