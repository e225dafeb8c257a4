"""Name registries: the one way TOML files and the command line refer to pluggable parts.

Every kind of pluggable part (tasks, priors, operators, motifs, pruning methods and schedules,
rewiring rules, activations, recurrent cells, Optuna pruners, executors, predictor models) is a
:class:`Registry`: a read-only mapping from the name a user writes to the part, filled either from
a table or with the decorator form::

    PRIORS = Registry("prior")

    @PRIORS.register("erdos-renyi")
    def erdos_renyi(...): ...

``PRIORS.lookup(name)`` returns the part or raises a :class:`ConfigError` that lists the known
names; ``PRIORS.choices`` and ``PRIORS.help`` feed the command line, so help text never drifts from what
the code accepts.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

from structsearch.errors import ConfigError

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """Named parts of one kind (``what``: ``"prior"``, ``"pruning method"``, …)."""

    def __init__(self, what: str, entries: Mapping[str, T] | None = None, sort: bool = False):
        self.what, self.sort = what, sort  # sort: list names alphabetically (else as registered)
        self._entries: dict[str, T] = dict(entries or {})

    def register(self, name: str, part: T | None = None):
        """Add ``part`` as ``name``; without ``part``, a decorator that adds what it decorates."""
        if part is not None:
            self._add(name, part)
            return part

        def decorate(target: T) -> T:
            self._add(name, target)
            return target

        return decorate

    def _add(self, name: str, part: T) -> None:
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} is registered twice")
        self._entries[name] = part

    def remove(self, name: str) -> T:
        """Take ``name`` out again (a plug-in that unloads; a test that registered a part of its own)."""
        return self._entries.pop(name)

    def lookup(self, name: str, key: str | None = None) -> T:
        """The part registered as ``name``, or a :class:`ConfigError` listing the known names
        (naming the configuration ``key`` or option that held ``name``, when given)."""
        if not isinstance(name, str) or name not in self._entries:
            if key is not None:
                raise ConfigError(f"{key} must be one of {', '.join(self.choices)}, got {name!r}")
            known = f"known {self.what}s" if self.sort else "known"  # "known tasks: …" (sorted)
            raise ConfigError(f"unknown {self.what} {name!r}; {known}: {', '.join(self.choices)}")
        return self._entries[name]

    def check(self, name: str, key: str | None = None) -> str:
        """``name`` itself, once known to be registered."""
        self.lookup(name, key)
        return name

    @property
    def choices(self) -> list[str]:
        return sorted(self._entries) if self.sort else list(self._entries)

    @property
    def help(self) -> str:
        """``a | b | c``, for help strings."""
        return " | ".join(self.choices)

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self._entries)})"


def names_registry(what: str, names: tuple[str, ...] | list[str]) -> Registry[str]:
    """A registry of plain names (each registered as itself), for choices without a part behind them."""
    return Registry(what, {name: name for name in names})


def renamed(namespace: dict, renames: Mapping[str, str], module: str):
    """A module ``__getattr__`` under which each old name of ``renames`` (old → new) still gives the
    new object, with a :class:`DeprecationWarning`, for one release::

        __getattr__ = renamed(globals(), {"OldName": "NewName"}, __name__)
    """

    def __getattr__(name: str):
        if name in renames:
            warnings.warn(f"{name} is now {renames[name]}; the old name works until structsearch 0.3",
                          DeprecationWarning, stacklevel=2)
            return namespace[renames[name]]
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__


def moved(moves: Mapping[str, str], module: str):
    """A module ``__getattr__`` under which each name of ``moves`` (name → the module it moved to)
    still imports from ``module``, with a :class:`DeprecationWarning`, for one release::

        __getattr__ = moved({"Search": "structsearch.search.engine"}, __name__)
    """

    def __getattr__(name: str):
        if name not in moves:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warnings.warn(f"{module}.{name} is now imported from {moves[name]} (or structsearch.api); the old path "
                      "works until structsearch 0.3", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(moves[name]), name)

    return __getattr__


__all__ = ["Registry", "moved", "names_registry", "renamed"]
