"""Run directories: ``runs/<name>/`` holds the resolved configuration and a command's outputs.

A run directory belongs to one process at a time (:class:`RunLock`), is never overwritten unless
asked (``overwrite``), and a command that fails before it stored anything leaves none behind
(:func:`discard_unfinished`).  Names are single path components, so no name writes outside
``--runs``.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import re
import shutil
import socket
import sqlite3
import time
from datetime import datetime
from pathlib import Path

from structsearch.errors import ConfigError, DataError
from structsearch.limits import format_size

DEFAULT_RUNS = Path("runs")
LOCK_NAME = ".lock"
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
MAX_NAME = 200
_CREATED: list[Path] = []  # run directories this process made (see discard_unfinished)


def check_name(name: str, option: str = "--name") -> str:
    """``name`` if it is one path component of letters, digits, ``-``, ``_`` and ``.``; else a
    :class:`ConfigError` naming ``option``."""
    if len(name.encode()) > MAX_NAME:
        raise ConfigError(f"{option} {name[:24]}…: {len(name)} characters; a name has at most {MAX_NAME} "
                          "(file systems allow 255 bytes a folder name, and runs add suffixes)")
    if not _NAME.fullmatch(name) or name in (".", ".."):
        raise ConfigError(f"{option} {name!r}: a name is one path component of letters, digits, "
                          "'-', '_' and '.' (not '.' or '..')")
    return name


def new_run_dir(name: str | None = None, base: str | os.PathLike = DEFAULT_RUNS,
                prefix: str = "", overwrite: bool = False) -> Path:
    """Create and return ``base/name`` (``name`` defaults to a timestamp, made unique).

    An existing ``base/name`` that holds anything is a :class:`ConfigError` unless ``overwrite``,
    which removes it first (refused while another process holds it).
    """
    base = Path(base)
    if base.exists() and not base.is_dir():
        raise ConfigError(f"--runs {base}: not a folder")
    if name is not None:
        check_name(name)
    stem = name or prefix + datetime.now().strftime("%Y%m%d-%H%M%S")
    path = base / stem
    suffix = 1
    while name is None and path.exists():
        suffix += 1
        path = base / f"{stem}-{suffix}"
    if path.is_symlink():
        raise ConfigError(f"{path} is a symbolic link; a run folder never leads outside itself (choose another "
                          "--name)")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        if not overwrite:
            raise ConfigError(f"{path} already exists; choose another --name, continue it with --resume where "
                              "the command has one, or replace it with --overwrite")
        if not path.is_dir():
            raise ConfigError(f"{path} exists and is not a run folder; it is not replaced")
        if not is_run(path):
            raise ConfigError(f"{path} is not a run of structsearch (no {STORE_NAME} or config.json of ours); "
                              "--overwrite replaces only runs, so it is left as it is")
        with RunLock(path):  # not while another process works in it
            shutil.rmtree(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"{path}: cannot create the run folder ({error.strerror or error})") from None
    _CREATED.append(path)
    return path


STORE_NAME = "run.db"
# keys one of which every config.json structsearch writes has (train, prune, the experiments)
CONFIG_KEYS = {"task", "model", "training", "networks", "command", "cells", "methods"}


def is_run(path: Path) -> bool:
    """Whether ``path`` is a run folder structsearch wrote: it holds a run store, or a config.json
    that is a JSON object with structsearch's keys."""
    store = path / STORE_NAME
    if store.is_file() and not store.is_symlink():
        try:
            with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as connection:
                if connection.execute("SELECT value FROM meta WHERE key = 'structsearch_version'").fetchone():
                    return True
        except sqlite3.Error:
            pass
    config = path / "config.json"
    if config.is_file() and not config.is_symlink() and config.stat().st_size < 2**24:
        try:
            data = json.loads(config.read_text())
        except (ValueError, UnicodeDecodeError, RecursionError):
            return False
        return isinstance(data, dict) and bool(CONFIG_KEYS & set(data))
    return False


def check_inside(run_dir: str | os.PathLike, path: str | os.PathLike | None = None) -> None:
    """Refuse (a :class:`DataError` naming it) a run folder that is a symbolic link, or a folder
    ``path`` inside it (default: every folder inside it) that is one or is reached through one: a
    run folder never leads outside itself.  (``--runs`` itself may be a link: where runs live is the
    user's choice.)"""
    run_dir = Path(run_dir)
    if run_dir.is_symlink():
        raise DataError(f"{run_dir}: the run folder is a symbolic link; a run folder never leads outside itself")
    if path is not None:
        current = Path(path)
        while current != run_dir and current != current.parent:
            if current.is_symlink():
                raise DataError(f"{current}: a symbolic link inside the run folder {run_dir}; a run folder never "
                                "leads outside itself (replace the link by a folder)")
            current = current.parent
        return
    if not run_dir.is_dir():
        return
    for folder, names, _ in os.walk(run_dir):
        for name in names:
            if os.path.islink(os.path.join(folder, name)):
                raise DataError(f"{os.path.join(folder, name)}: a symbolic link inside the run folder {run_dir}; a "
                                "run folder never leads outside itself (replace the link by a folder)")


def check_out(path: str | os.PathLike, overwrite: bool, option: str = "--out") -> Path:
    """``path`` for an output file: refused if it exists, unless ``overwrite`` (then only a regular
    file is replaced, never a folder, a device or a link's target)."""
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise ConfigError(f"{option} {path}: exists and is not a regular file; it is not replaced")
    if path.exists() and not overwrite:
        raise ConfigError(f"{option} {path}: already exists; choose another name or replace it with --overwrite")
    return path


def disk_full(folder: str | os.PathLike) -> str:
    """The one line for a full disk: the folder, the bytes free and how to go on."""
    try:
        free = format_size(shutil.disk_usage(folder).free)
    except OSError:
        free = "unknown"
    return (f"{folder}: the disk is full ({free} free); everything stored before is kept: free some space, then "
            "continue with --resume where the command has it")


def holds_results(path: Path) -> bool:
    """Whether a run directory holds anything worth keeping: an output file, or a run store with
    at least one stored result."""
    for item in path.rglob("*"):
        if not item.is_file() or item.name in (LOCK_NAME, "config.json") or item.name.startswith("run.db-"):
            continue
        if item.name != "run.db":
            return True
        try:
            with sqlite3.connect(f"file:{item}?mode=ro", uri=True) as connection:
                if connection.execute("SELECT COUNT(*) FROM results").fetchone()[0]:
                    return True
        except sqlite3.Error:
            return True  # not ours to judge: keep it
    return False


def discard_unfinished() -> list[Path]:
    """Remove the run directories this process created that hold no results (a command failed
    before storing any); the ones removed.  Called by the command line when a command fails."""
    removed = []
    while _CREATED:
        path = _CREATED.pop()
        if path.is_dir() and not holds_results(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def forget_created() -> None:
    """Keep the run directories made so far whatever happens next (a command that succeeded)."""
    _CREATED.clear()


class RunLock:
    """Exclusive ownership of a run directory by this process: an ``flock`` on ``<run>/.lock``,
    which records the holder's pid and host.

    The kernel drops the lock when its process dies, however it dies, so a lock left by a
    ``kill -9`` is taken over by the next process.  A second process gets a :class:`DataError`
    naming the holder.  (``flock`` is per host; on a network file system two hosts are told apart
    only where the file system passes the lock on.)
    """

    def __init__(self, run_dir: str | os.PathLike):
        self.path = Path(run_dir) / LOCK_NAME
        self.fd: int | None = None

    def acquire(self) -> RunLock:
        check_inside(self.path.parent)  # never write through a link
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise DataError(f"{self.path.parent}: cannot lock the run folder ({error.strerror or error})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
            except ValueError:
                holder = {}
            os.close(fd)
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("since", 0)))
            raise DataError(f"{self.path.parent} is in use by pid {holder.get('pid', '?')} on "
                            f"{holder.get('host', '?')} (since {since}); wait for it to end or stop it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}).encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def write_json(path: str | os.PathLike, data) -> Path:
    """Write ``data`` as indented JSON atomically (a crash leaves the old file or the new one)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")
    tmp.replace(path)
    return path


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def write_rows(path: str | os.PathLike, rows: list[dict]) -> Path:
    """Write dict rows as CSV, columns in first-seen order."""
    path = Path(path)
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_curves(path: str | os.PathLike, curves: dict[str, list]) -> Path:
    """One CSV row per epoch; per-layer connection counts become ``connections_<layer>`` columns."""
    rows = []
    for i in range(len(curves.get("epoch", []))):
        row = {k: v[i] for k, v in curves.items() if k != "connections" and i < len(v)}
        for layer, count in enumerate(curves.get("connections", [[]] * (i + 1))[i]):
            row[f"connections_{layer}"] = count
        rows.append(row)
    return write_rows(path, rows)
