"""Name registries: the one way TOML files and the command line refer to pluggable parts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from structsearch.errors import ConfigError

T = TypeVar("T")


def lookup(registry: Mapping[str, T], name: str, what: str) -> T:
    """``registry[name]``, or a :class:`ConfigError` that lists the known names."""
    if name not in registry:
        raise ConfigError(f"unknown {what} {name!r}; known: {', '.join(registry)}")
    return registry[name]
