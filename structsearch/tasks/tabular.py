"""Tabular tasks: scikit-learn's digits (no files), Madelon and HIGGS.

Standardisation, where asked for, is fitted on the training rows only (after validation is carved
out), then applied to validation and test.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
from pathlib import Path

import numpy as np
import torch

from structsearch.errors import ConfigError, DataError
from structsearch.limits import check_file
from structsearch.tasks.base import (
    Split,
    Task,
    check_fraction,
    make_task,
    register_task,
    resolve_data_dir,
    stratified_split,
    stratified_subsample,
)

# tables of numeric features, searched by the `tabular` space by default (digits has its own)
TABULAR_TASKS = ("csv", "arrays", "madelon", "higgs")


def _holdout(
    x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    train_rows, test_rows = stratified_split(y, test_fraction, np.random.default_rng(seed))
    return x[train_rows], y[train_rows], x[test_rows], y[test_rows]


def _subsample(x, y, size, seed, what, source):
    rows = stratified_subsample(y, size, np.random.default_rng(seed), what, source)
    return x[rows], y[rows]


def digits_table() -> np.ndarray:
    """scikit-learn's digits as one array: 64 pixels (0–16) and the label per row, read from the
    file scikit-learn ships without importing scikit-learn (1.3 s in every worker that loads the
    task), or through ``sklearn.datasets`` where the file is not in its usual place."""
    spec = importlib.util.find_spec("sklearn")
    folders = (spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            with gzip.open(path, "rt") as handle:
                return np.loadtxt(handle, delimiter=",")
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    return np.column_stack([bunch.data, bunch.target])


@register_task("digits", "scikit-learn's 8×8 handwritten digits (1,797 images); no files needed")
def load_digits(
    test_fraction: float = 0.2,
    validation_fraction: float = 0.1,
    scaling: str = "unit",
    seed: int = 0,
) -> Task:
    """UCI optical digits as shipped with scikit-learn; pixels 0–16 scaled to [0, 1] or standardised."""
    if scaling not in ("unit", "standardize"):
        raise ConfigError(f"scaling must be 'unit' or 'standardize', got {scaling!r}")
    table = digits_table()
    x = (table[:, :-1] / 16.0).astype(np.float32)
    y = table[:, -1].astype(np.int64)
    x_train, y_train, x_test, y_test = _holdout(x, y, test_fraction, seed)
    return make_task(
        "digits", x_train, y_train, x_test, y_test,
        validation_fraction=validation_fraction, seed=seed,
        standardize=scaling == "standardize", n_classes=10, input_shape=(8, 8),
    )


def _read_table(path: Path, delimiter: str | None) -> np.ndarray:
    check_file(path, "table")
    try:
        return np.loadtxt(path, delimiter=delimiter, ndmin=2, dtype=np.float64)
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: cannot read as a numeric table ({error})") from None


def _madelon_uci(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    parts = {}
    for split in ("train", "valid"):
        data, labels = folder / f"madelon_{split}.data", folder / f"madelon_{split}.labels"
        x, y = _read_table(data, None), _read_table(labels, None).ravel()
        if x.shape[0] != y.shape[0]:
            raise DataError(f"{data}: {x.shape[0]} rows but {labels.name} has {y.shape[0]} labels")
        parts[split] = (x, y)
    return (*parts["train"], *parts["valid"])


def _madelon_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from scipy.io import loadmat  # as scikit-learn above: not in every worker
    try:
        mat = loadmat(path)
    except Exception as error:  # scipy raises several types for a damaged file
        raise DataError(f"{path}: cannot read as a MATLAB file ({error})") from None
    if "X" not in mat or "Y" not in mat:
        raise DataError(f"{path}: expected variables X and Y, found {sorted(k for k in mat if not k.startswith('__'))}")
    x, y = mat["X"].astype(np.float64), mat["Y"].astype(np.float64).ravel()
    if x.shape[0] != y.shape[0]:
        raise DataError(f"{path}: X has {x.shape[0]} rows but Y has {y.shape[0]}")
    return x, y


@register_task("madelon", "NIPS 2003 Madelon, 500 features, 2 classes (UCI text or scikit-feature .mat)", True)
def load_madelon(
    data_dir: str | None = None,
    test_fraction: float = 0.2,
    validation_fraction: float = 0.1,
    standardize: bool = True,
    seed: int = 0,
) -> Task:
    """Madelon.  With the UCI files the official validation set is the test split (its labels are
    public, the test set's are not); with only the ``.mat`` a stratified ``test_fraction`` is held out."""
    folder = resolve_data_dir(data_dir, "madelon")
    if (folder / "uci" / "madelon_train.data").is_file():
        folder = folder / "uci"
    if (folder / "madelon_train.data").is_file():
        x_train, y_train, x_test, y_test = _madelon_uci(folder)
    elif (folder / "madelon.mat").is_file():
        x, y = _madelon_mat(folder / "madelon.mat")
        x_train, y_train, x_test, y_test = _holdout(x, (y > 0).astype(np.int64), test_fraction, seed)
    else:
        raise DataError(f"madelon: no madelon_train.data or madelon.mat in {folder}")
    y_train, y_test = (y_train > 0).astype(np.int64), (y_test > 0).astype(np.int64)
    return make_task(
        "madelon", x_train, y_train, x_test, y_test,
        validation_fraction=validation_fraction, seed=seed, standardize=standardize, n_classes=2,
    )


def read_higgs_csv(path: Path, label: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """A HIGGS table: 28 features and a 0/1 label, comma or tab separated, with or without header.

    ``label`` is ``first``, ``last`` or ``auto`` (the column whose values are all 0 or 1, checking
    the first column before the last).
    """
    check_file(path, "table")
    try:
        first_line = path.open().readline()
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error})") from None
    delimiter = "," if "," in first_line else None
    has_header = any(c.isalpha() for c in first_line.replace("e-", "").replace("e+", ""))
    try:
        table = np.loadtxt(path, delimiter=delimiter, skiprows=int(has_header), ndmin=2)
    except ValueError as error:
        raise DataError(f"{path}: cannot read as a numeric table ({error})") from None
    if table.shape[1] < 2:
        raise DataError(f"{path}: expected a label and features, found {table.shape[1]} column")

    def binary(column):
        return bool(np.isin(table[:, column], (0.0, 1.0)).all())

    if label == "auto":
        label = "first" if binary(0) else "last" if binary(-1) else ""
        if not label:
            raise DataError(f"{path}: neither the first nor the last column is a 0/1 label")
    if label not in ("first", "last"):
        raise ConfigError(f"label must be 'first', 'last' or 'auto', got {label!r}")
    column = 0 if label == "first" else table.shape[1] - 1
    y = table[:, column]
    if not binary(column):
        raise DataError(f"{path}: the {label} column is not a 0/1 label")
    return np.delete(table, column, axis=1), y.astype(np.int64)


@register_task("higgs", "HIGGS boson signal vs. background, 28 features (CSV, label first or last)", True)
def load_higgs(
    data_dir: str | None = None,
    file: str | None = None,
    label: str = "auto",
    train_size: int | None = None,
    test_fraction: float = 0.2,
    validation_fraction: float = 0.1,
    standardize: bool = True,
    seed: int = 0,
) -> Task:
    """HIGGS rows from ``file`` (absolute, or relative to the data folder); by default the first
    ``*.csv`` found, then LightGBM's ``binary.train`` (test from ``binary.test``)."""
    folder = resolve_data_dir(data_dir, "higgs")
    test_path = None
    if file is not None:
        path = Path(file) if Path(file).is_absolute() else folder / file
    else:
        csvs = sorted(folder.rglob("*.csv"))
        lightgbm = sorted(folder.rglob("binary.train"))
        if csvs:
            path = csvs[0]
        elif lightgbm:
            path = lightgbm[0]
            test_path = path.with_name("binary.test")
        else:
            raise DataError(f"higgs: no *.csv or binary.train under {folder}")
    if not path.is_file():
        raise DataError(f"higgs: {path} does not exist")
    x, y = read_higgs_csv(path, label)
    if test_path is not None and test_path.is_file():
        x_test, y_test = read_higgs_csv(test_path, label)
        x_train, y_train = x, y
    else:
        x_train, y_train, x_test, y_test = _holdout(x, y, test_fraction, seed)
    x_train, y_train = _subsample(x_train, y_train, train_size, seed, "train_size", path)
    return make_task(
        "higgs", x_train, y_train, x_test, y_test,
        validation_fraction=validation_fraction, seed=seed, standardize=standardize, n_classes=2,
    )


@register_task("arrays", "a table given as arrays: an .npz file of x (rows × features) and integer labels y "
               "(written by structsearch.sklearn's StructureSearchClassifier)", needs_files=True)
def load_arrays(path: str = "", validation_fraction: float = 0.2, seed: int = 0) -> Task:
    """The table in ``path`` (``x``, ``y`` and ``n_classes``, no pickle): a stratified validation
    share of its rows, the rest to train; its test split is the validation split (the table's own
    test rows stay with whoever holds them)."""
    if not path:
        raise DataError("arrays: needs path = an .npz file of x, y and n_classes (StructureSearchClassifier "
                        "writes one)")
    check_fraction("validation_fraction", validation_fraction)
    check_file(path, "table")
    try:
        with np.load(path, allow_pickle=False) as data:
            x, y, n_classes = np.asarray(data["x"], dtype=np.float32), np.asarray(data["y"]), int(data["n_classes"])
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"{path}: not an arrays table (.npz of x, y and n_classes): {error}") from None
    if x.ndim != 2 or y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{path}: x must be rows × features and y one integer label per row")
    return arrays_task(x, y, n_classes, validation_fraction, seed)


def arrays_task(x: np.ndarray, y: np.ndarray, n_classes: int, validation_fraction: float, seed: int) -> Task:
    """A Task over arrays: a stratified ``validation_fraction`` of the rows held out (none with
    ``validation_fraction`` 0, or where holding rows out would leave a class without training rows:
    then it selects on the training rows); the test split is the validation split."""
    kept = held = np.arange(y.size)
    if validation_fraction > 0:
        train_rows, val_rows = stratified_split(y, validation_fraction, np.random.default_rng(seed))
        if val_rows.size and np.unique(y[train_rows]).size == np.unique(y).size:
            kept, held = train_rows, val_rows

    def split(rows) -> Split:
        return Split(torch.from_numpy(np.ascontiguousarray(x[rows], dtype=np.float32)),
                     torch.from_numpy(np.asarray(y[rows], dtype=np.int64)))

    return Task("arrays", split(kept), split(held), split(held), (x.shape[1],), n_classes)


@register_task("csv", "any table in a CSV file: a label column by name, every other column a numeric feature",
               needs_files=True)
def load_csv(path: str = "", label: str = "label", test_fraction: float = 0.2, validation_fraction: float = 0.1,
             standardize: bool = True, seed: int = 0) -> Task:
    """A CSV with a header row: ``label`` names the label column (numbers or strings; classes are
    its distinct values in sorted order), every other column must be numeric.  Stratified test
    and validation splits; standardisation fitted on the training rows only."""
    if not path:
        raise DataError("csv: needs path = a CSV file with a header row (and label = its label column)")
    check_file(path, "table")
    try:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot read as CSV ({error})") from None
    if len(rows) < 2:
        raise DataError(f"{path}: needs a header row and at least one data row")
    header, body = rows[0], [row for row in rows[1:] if row]
    if label not in header:
        raise DataError(f"{path}: no label column {label!r} (label = …); its columns: {', '.join(header[:8])}"
                        f"{', …' if len(header) > 8 else ''}")
    if any(len(row) != len(header) for row in body):
        raise DataError(f"{path}: rows have different numbers of columns")
    at = header.index(label)
    features = [i for i in range(len(header)) if i != at]
    columns, bad = [], []
    for i in features:  # each column parsed once
        try:
            columns.append([float(row[i]) for row in body])
        except ValueError:
            bad.append(header[i])
    if bad:
        raise DataError(f"{path}: {len(bad)} non-numeric feature column(s): {', '.join(bad[:5])}"
                        f"{', …' if len(bad) > 5 else ''} (make them numbers, or drop them)")
    x = np.array(columns, dtype=np.float32).T.reshape(len(body), len(features))
    classes, y = np.unique(np.array([row[at] for row in body]), return_inverse=True)
    if classes.size < 2:
        raise DataError(f"{path}: the label column {label!r} has one class ({str(classes[0])!r}); a classifier "
                        "needs two")
    x_train, y_train, x_test, y_test = _holdout(x, y.astype(np.int64), test_fraction, seed)
    return make_task("csv", x_train, y_train, x_test, y_test, validation_fraction=validation_fraction, seed=seed,
                     standardize=standardize, n_classes=int(classes.size))
