"""What a task is: train, validation and test splits plus the loss and metric that judge a model.

Validation is always carved from the training data (stratified, seeded); the test split is only
ever what the data's owners published as test, or a held-out part of the data that no other split
touches.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from structsearch.errors import ConfigError, DataError, check_range
from structsearch.registry import Registry

DATA_ENV = "STRUCTSEARCH_DATA"


@dataclass
class Split:
    """Inputs ``x`` and integer labels ``y``; ``lengths`` for padded sequences."""

    x: torch.Tensor
    y: torch.Tensor
    lengths: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, index: np.ndarray | torch.Tensor) -> Split:
        index = torch.as_tensor(index, dtype=torch.long)
        lengths = None if self.lengths is None else self.lengths[index]
        return Split(self.x[index], self.y[index], lengths)


def image_shape(input_shape: tuple[int, ...]) -> tuple[int, int, int] | None:
    """``(channels, height, width)`` of inputs of ``input_shape`` ((H, W) is one channel), or None
    when they are not images."""
    shape = tuple(int(n) for n in input_shape)
    if len(shape) == 2:
        return (1, *shape)
    return shape if len(shape) == 3 else None


@dataclass
class Task:
    """A learning problem: three splits, the input shape, the class count, the loss and the metric.

    Parameters
    ----------
    name : str
        The registered task name.
    train, validation, test : Split
        The splits (inputs, labels and, for sequences, lengths). The search selects on
        ``validation``; ``test`` is read once, at the best validation epoch.
    input_shape : tuple of int
        One sample's shape (features, an image's channels × height × width, or a padded length).
    n_classes : int
        Classes of the labels.
    loss, metric : str
        ``cross_entropy`` and ``accuracy``.
    sequence : bool
        Whether samples are symbol sequences (recurrent models).
    vocabulary_size : int
        Symbols of a sequence task.
    options : dict
        The options it was loaded with.
    augment : callable, optional
        ``(training inputs, generator) -> inputs``, applied to each training batch.
    """

    name: str
    train: Split
    validation: Split
    test: Split
    input_shape: tuple[int, ...]
    n_classes: int
    loss: str = "cross_entropy"
    metric: str = "accuracy"
    sequence: bool = False
    vocabulary_size: int = 0
    options: dict = field(default_factory=dict)
    augment: Callable | None = None  # (training inputs, generator) -> inputs (structsearch.tasks.augment)

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        """(channels, height, width) when the inputs are images (see :func:`image_shape`)."""
        return None if self.sequence else image_shape(self.input_shape)

    @property
    def n_inputs(self) -> int:
        """Flat input width for an MLP (the product of ``input_shape``)."""
        return int(np.prod(self.input_shape))

    def loss_fn(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, y)

    @staticmethod
    def metric_fn(logits: torch.Tensor, y: torch.Tensor) -> float:
        """Accuracy: the fraction of rows whose arg-max is the label."""
        return float((logits.argmax(dim=1) == y).float().mean())

    def describe(self) -> dict:
        return {
            "task": self.name,
            "input_shape": list(self.input_shape),
            "classes": self.n_classes,
            "train": len(self.train),
            "validation": len(self.validation),
            "test": len(self.test),
            "loss": self.loss,
            "metric": self.metric,
        }


# ---------------------------------------------------------------------------------------------
# Registry


@dataclass(frozen=True)
class TaskEntry:
    name: str
    loader: Callable[..., Task]
    summary: str
    needs_files: bool


TASKS: Registry[TaskEntry] = Registry("task", sort=True)


def register_task(name: str, summary: str, needs_files: bool = False):
    """Register ``loader(**options) -> Task`` under ``name`` (the name TOML and the CLI use)."""

    def decorate(loader: Callable[..., Task]) -> Callable[..., Task]:
        TASKS.register(name, TaskEntry(name, loader, summary, needs_files))
        return loader

    return decorate


def task_names() -> list[str]:
    return sorted(TASKS)


def task_entry(name: str) -> TaskEntry:
    return TASKS.lookup(name)


# what each task option means, for the configuration reference (a test checks that every option of
# every registered task has its line here)
OPTION_DOCS = {
    "augment_crop": "pixels of zero padding for random crops of the training images (0: none)",
    "augment_flip": "flip training images left–right at random",
    "data_dir": "the folder with the dataset (else --data-dir, else $STRUCTSEARCH_DATA)",
    "download": "download missing files, checking their official sha256",
    "file": "the data file, when the folder holds several",
    "label": "the label column: by name (csv), or first / last / auto (higgs)",
    "max_length": "the longest string generated",
    "n_strings": "strings generated, half true and half one-symbol-corrupted",
    "path": "the file to read",
    "scaling": "unit: pixels scaled to [0, 1]; standardize: zero mean and unit variance per feature",
    "seed": "the seed of the task's splits and generation",
    "standardize": "standardise features, fitted on the training rows only",
    "test_fraction": "share of the rows held out for test",
    "test_size": "test samples (unset: the official test split, or a quarter of the strings)",
    "train_size": "training samples, a stratified seeded subset (unset: all)",
    "validation_fraction": "share of the training rows held out for validation",
    "verify": "check the files against the official checksums",
}


def task_options(name: str) -> dict[str, object]:
    """The options a task accepts, with their defaults."""
    signature = inspect.signature(task_entry(name).loader)
    return {p.name: p.default for p in signature.parameters.values()}


def load_task(name: str, **options) -> Task:
    """Load the task registered as ``name``; unknown options are a :class:`ConfigError`.

    Parameters
    ----------
    name : str
        A registered task (``structsearch tasks`` lists them).
    **options
        The task's options (the configuration reference lists each task's).

    Returns
    -------
    Task
        Its splits, shapes and class count.
    """
    entry = task_entry(name)
    allowed = task_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(
            f"task {name!r} has no option {unknown[0]!r}; its options are: {', '.join(allowed)}"
        )
    for key, value in options.items():
        _check_option_type(name, key, value, allowed[key])
    task = entry.loader(**options)
    task.options = {**allowed, **options}
    return task


_KINDS = ((bool, "true or false"), (int, "an integer"), (float, "a number"), (str, "a string"),
          (list, "a list"), (dict, "a table"))


def _check_option_type(task: str, key: str, value, default) -> None:
    """A task option given with the type of its default (a number where the default is one, …)."""
    if default is None or value is None:
        return
    for kind, words in _KINDS:
        if isinstance(default, kind):
            fits = (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
                    if kind is float else isinstance(value, kind) and (kind is bool or not isinstance(value, bool)))
            if not fits:
                raise ConfigError(f"task {task!r} option {key} must be {words}, got {value!r}")
            return


# ---------------------------------------------------------------------------------------------
# Helpers shared by the loaders


def default_data_dir() -> Path:
    """Where downloads go when neither ``--data-dir`` nor ``$STRUCTSEARCH_DATA`` is given."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "structsearch"


def resolve_data_dir(data_dir: str | os.PathLike | None, subdir: str) -> Path:
    """The folder holding one dataset.

    The base is ``data_dir``, else ``$STRUCTSEARCH_DATA``, else :func:`default_data_dir`; the
    dataset lives in ``base/subdir`` when that exists, else in ``base`` itself (so ``data_dir``
    may point straight at the dataset's own folder).  A base that was named but does not exist
    is a :class:`DataError`.
    """
    named = data_dir if data_dir is not None else os.environ.get(DATA_ENV)
    if named is None:
        return default_data_dir() / subdir
    base = Path(named).expanduser()
    if not base.is_dir():
        source = "--data-dir" if data_dir is not None else DATA_ENV
        what = "is a file, not a folder" if base.exists() else "does not exist"
        raise DataError(f"data directory {base} (from {source}) {what}")
    candidate = base / subdir
    return candidate if candidate.is_dir() else base


def check_fraction(name: str, value: float, low_open: bool = True) -> None:
    check_range(name, value, low_open=low_open, high_open=True)


def stratified_split(
    y: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices of ``y`` into (kept, held out), holding out ``round(fraction · n)`` rows.

    Each class gives its share (largest-remainder rounding, so the total is exact); rows are drawn
    at random within each class.
    """
    labels, counts = np.unique(y, return_counts=True)
    n_held = int(round(fraction * y.shape[0]))
    quota = fraction * counts
    held_counts = np.floor(quota).astype(np.int64)
    remainder = n_held - int(held_counts.sum())
    if remainder > 0:
        # largest fractional parts first; random tie-breaks
        order = np.lexsort((rng.random(labels.size), -(quota - held_counts)))
        held_counts[order[:remainder]] += 1
    kept, held = [], []
    for label, n in zip(labels, held_counts, strict=True):
        rows = np.flatnonzero(y == label)
        rows = rows[rng.permutation(rows.size)]
        held.append(rows[:n])
        kept.append(rows[n:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def stratified_subsample(
    y: np.ndarray, size: int | None, rng: np.random.Generator, what: str, source
) -> np.ndarray:
    """Indices of a stratified, seeded subsample of ``size`` rows (all rows when ``size`` is None)."""
    if size is None:
        return np.arange(y.shape[0])
    if size <= 0:
        raise ConfigError(f"{what} must be positive, got {size}")
    if size > y.shape[0]:
        raise ConfigError(f"{what}={size} is larger than the {y.shape[0]} rows of {source}")
    if size == y.shape[0]:
        return np.arange(y.shape[0])
    return stratified_split(y, size / y.shape[0], rng)[1]


def make_task(
    name: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    validation_fraction: float,
    seed: int,
    standardize: bool,
    n_classes: int | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> Task:
    """Carve validation from train, standardise on the remaining train rows only, and wrap."""
    check_fraction("validation_fraction", validation_fraction)
    rng = np.random.default_rng(seed)
    train_rows, val_rows = stratified_split(y_train, validation_fraction, rng)
    x_fit, x_val = x_train[train_rows], x_train[val_rows]
    x_test = np.asarray(x_test)
    if standardize:
        mean = x_fit.mean(axis=0, dtype=np.float64)
        std = x_fit.std(axis=0, dtype=np.float64)
        std[std == 0] = 1.0
        x_fit, x_val, x_test = ((a - mean) / std for a in (x_fit, x_val, x_test))

    def as_split(x: np.ndarray, y: np.ndarray) -> Split:
        return Split(
            torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
            torch.from_numpy(np.asarray(y, dtype=np.int64)),
        )

    return Task(
        name=name,
        train=as_split(x_fit, y_train[train_rows]),
        validation=as_split(x_val, y_train[val_rows]),
        test=as_split(x_test, y_test),
        input_shape=input_shape or tuple(x_train.shape[1:]),
        n_classes=int(n_classes or (max(y_train.max(), y_test.max()) + 1)),
    )
