"""Tasks by name: ``load_task("digits")``, ``load_task("reber", n_strings=2000)``, …"""

from structsearch.tasks import cifar, idx, reber, tabular  # noqa: F401  (registers the tasks)
from structsearch.tasks.base import (
    DATA_ENV,
    OPTION_DOCS,
    Split,
    Task,
    load_task,
    register_task,
    task_entry,
    task_names,
    task_options,
)

DEFAULT_TASK = "digits"

__all__ = [
    "DATA_ENV",
    "DEFAULT_TASK",
    "OPTION_DOCS",
    "Split",
    "Task",
    "load_task",
    "register_task",
    "task_entry",
    "task_names",
    "task_options",
]
