"""Changes to a configuration before it is built: ``--set a.b=c``, dedicated options and ``--params``.

Every command turns what it was given into a list of ``(dotted key, value)`` changes on the TOML
data of a train file or a search space, in this order: the file, then ``--params``, then ``--set``
and the options.  The dotted keys are the same in both kinds of file (``training.lr``,
``rewiring.rule``, ``model.dropout``, …), so a study's best parameters apply to either.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from structsearch.config import deprecated, read_toml, rename_key
from structsearch.errors import ConfigError

Change = tuple[str, Any]



def short_names(dotted_keys: Iterable[str], renames: dict[str, str] | None = None) -> dict[str, str]:
    """Short name → dotted key: each key by its last part (``training.lr`` → ``lr``, the name of its
    ``--lr`` option or study parameter), or by its entry in ``renames``. The one way a command or a
    study names the keys it changes."""
    names: dict[str, str] = {}
    for dotted in dotted_keys:
        name = (renames or {}).get(dotted, dotted.rsplit(".", 1)[-1])
        if name in names:
            raise ValueError(f"{dotted} and {names[name]} would both be {name!r}")
        names[name] = dotted
    return names


# the keys a study tunes and a search's genes draw, with the type of their values (a study parameter
# is named by its key's last part: lr, batch_size, rule, epsilon, …)
_PARAMETER_TYPES = {
    "training.lr": float, "training.momentum": float, "training.weight_decay": float, "training.batch_size": int,
    "training.epochs": int, "training.optimizer": str, "training.grad_clip": float, "rewiring.rule": str,
    "rewiring.drop_fraction": float, "rewiring.motif_size": int, "model.epsilon": float, "model.dropout": float,
    "model.activation": str, "training.lr_schedule": str,
}
# study parameter → (dotted key in a train file and in a search space, type of its value)
PARAMETERS: dict[str, tuple[str, type]] = {name: (dotted, _PARAMETER_TYPES[dotted])
                                           for name, dotted in short_names(_PARAMETER_TYPES).items()}
LEGACY_PARAMETERS = {"zeta": "drop_fraction"}
# a search space draws ε per genotype from its Erdős–Rényi prior's range: a value fixes the range
SPACE_EPSILON = "genotype.erdos-renyi.epsilon"


def parse_assignment(text: str) -> Change:
    """``key=value`` with the value read as TOML (numbers, booleans, strings, lists)."""
    if "=" not in text:
        raise ConfigError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def set_dotted(data: dict, dotted: str, value: Any, source: str = "--set") -> None:
    """``data[a][b][c] = value`` for ``dotted`` = ``a.b.c``, creating tables on the way."""
    *tables, key = dotted.split(".")
    target = data
    for table in tables:
        target = target.setdefault(table, {})
        if not isinstance(target, dict):
            raise ConfigError(f"{source} {dotted}: {table} is not a table")
    target[key] = value


def apply_changes(data: dict, changes: Iterable[Change], source: str = "--set",
                  renames: dict[str, str] | None = None) -> dict:
    """A copy of ``data`` with every change applied in order; a change under an old name
    (``renames``: old dotted key or table → new) sets the new one, with a one-line note."""
    data = copy.deepcopy(data)
    for dotted, value in changes:
        set_dotted(data, rename_key(dotted, renames or {}, source), value, source)
    return data


def rename_parameters(params: dict[str, Any], source: str) -> dict[str, Any]:
    """``params`` with old parameter names renamed to today's, each with a note."""
    named = {}
    for name, value in params.items():
        if name in LEGACY_PARAMETERS:
            deprecated(name, LEGACY_PARAMETERS[name], source)
        named[LEGACY_PARAMETERS.get(name, name)] = value
    return named


def canonical_parameters(params: dict[str, Any], source: str) -> dict[str, Any]:
    """``params`` under today's names: old names renamed with a note, unknown ones refused."""
    named = rename_parameters(params, source)
    for name in named:
        if name not in PARAMETERS:
            raise ConfigError(f"{source}: unknown parameter {name!r}; known: {', '.join(PARAMETERS)}")
    return named


def parameter_changes(params: dict[str, Any], space: bool = False) -> list[Change]:
    """Study parameters as changes of a train file, or of a search space (``space``)."""
    changes = []
    for name, value in params.items():
        dotted = PARAMETERS[name][0]
        if space and name == "epsilon":
            changes.append((SPACE_EPSILON, [value, value]))
        else:
            changes.append((dotted, value))
    return changes


def read_params(path: str | Path) -> dict[str, Any]:
    """The ``[params]`` table of a file written by ``structsearch study``, under today's names."""
    data = read_toml(path)
    params = data.get("params")
    if not isinstance(params, dict) or set(data) - {"params", "study"}:
        raise ConfigError(f"{path}: a params file holds one [params] table (as `structsearch study` writes)")
    return canonical_parameters(params, str(path))


def dotted_keys(data: dict, prefix: str = "") -> set[str]:
    """Every dotted key set in ``data`` (for "which keys did the user give")."""
    keys = set()
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        keys |= dotted_keys(value, f"{dotted}.") if isinstance(value, dict) else {dotted}
    return keys
