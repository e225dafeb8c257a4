"""What the command modules share: the parser class, option types and option groups."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import types
import typing
from typing import Any

from structsearch.declare import Either, Interval, Setting, find_setting
from structsearch.declare import settings as settings_of
from structsearch.errors import ConfigError
from structsearch.limits import parse_size
from structsearch.overrides import parse_assignment


class UsageError(Exception):
    """A command line that cannot be used (exit code 2)."""


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise UsageError(f"{self.prog}: {message}")


def key_value(text: str) -> tuple[str, object]:
    """``key=value`` with the value read as TOML (numbers, booleans, strings)."""
    try:
        return parse_assignment(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _integer(text: str, low: int, words: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {words}, got {text!r}") from None
    if not low <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected {words}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _integer(text, 1, "a positive integer")


def nonnegative_int(text: str) -> int:
    """A count or seed: 0, 1, 2, … (below 2⁶³)."""
    return _integer(text, 0, "an integer ≥ 0 (below 2⁶³)")


def number(text: str) -> float:
    """A finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_number(text: str) -> float:
    value = number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def memory_size(text: str) -> int:
    """Bytes from ``8G``, ``512M``, ``1.5GB`` or a plain number of bytes."""
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class Deprecated(argparse.Action):
    """An old option name: stores into the new one's destination with a one-line note."""

    def __init__(self, option_strings, dest, new: str, **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"note: {option_string} is now {self.new}; the old name works until structsearch 0.3",
              file=sys.stderr)
        setattr(namespace, self.dest, values)


def group(commands, name: str, help: str, metavar: str = "ACTION"):
    """A command with sub-commands of its own (``structsearch NAME ACTION …``)."""
    parser = commands.add_parser(name, help=help)
    return parser.add_subparsers(dest="action", metavar=metavar, parser_class=ArgumentParser, required=True)


def add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="folder with the datasets (default $STRUCTSEARCH_DATA)")


def add_output_options(parser: argparse.ArgumentParser, resume: bool = False) -> None:
    parser.add_argument("--runs", default="runs", help="parent folder of run directories")
    parser.add_argument("--name", help="run directory name (default: a timestamp); letters, digits, - _ .")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run directory of this --name")


def add_memory_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-memory", type=memory_size, metavar="SIZE",
                        help="refuse models and genotypes estimated above this, e.g. 8G "
                             "(default: the memory available now)")


def option_changes(namespace, options: dict[str, str]) -> list[tuple[str, Any]]:
    """``(dotted key, value)`` for every option of ``options`` (option → dotted key) that was given."""
    return [(dotted, getattr(namespace, option)) for option, dotted in options.items()
            if getattr(namespace, option, None) is not None]


# ------------------------------------------------------------------ declared settings as options


def _option_type(declared: Setting):
    """The argparse type of a declared setting's option: counts and seeds as integers of their lower
    bound, other numbers as finite numbers, the rest as text (the declaration checks the value)."""
    allowed = declared.allowed
    intervals = [c for c in allowed.constraints if isinstance(c, Interval)] if isinstance(allowed, Either) else (
        [allowed] if isinstance(allowed, Interval) else [])
    if not intervals:
        return None
    interval = intervals[0]
    if interval.integer:
        return positive_int if (interval.low or 0) >= 1 else nonnegative_int
    return number


def setting_help(declared: Setting, default_from: str | None = None) -> str:
    """An option's help from its declaration: the meaning, what is allowed and the default (or where
    the default comes from: ``default_from``, e.g. "the space")."""
    shown = str(declared.default).lower() if isinstance(declared.default, bool) else declared.default
    default = f"default: {default_from}" if default_from else (
        "" if declared.default is None else f"default {shown}")
    extra = "; ".join(part for part in (declared.allowed_text, default) if part)
    return (declared.doc + (f" ({extra})" if extra else "")).replace("%", "%%")


def add_declared_options(parser: argparse.ArgumentParser, options: dict[str, str], tables: dict[str, type],
                         default_from: str | None = None) -> None:
    """One ``--option`` per entry of ``options`` (option → the dotted key it sets), its type, help,
    allowed values and default read from the key's declaration in ``tables`` (table → dataclass);
    ``default_from`` says where the default comes from instead (e.g. "the space's value")."""
    for option, dotted in options.items():
        declared = find_setting(tables, dotted)
        kwargs = {"help": setting_help(declared, default_from)}
        convert = _option_type(declared)
        if convert is not None:
            kwargs["type"] = convert
        parser.add_argument("--" + option.replace("_", "-"), **kwargs)


# ------------------------------------------------------------------ settings dataclasses as options


def _plain_type(hint):
    """``int`` for ``int | None``, and so on."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def add_settings_options(parser: argparse.ArgumentParser, settings: type, skip: tuple[str, ...] = ()) -> None:
    """One ``--option`` per declared field of the settings dataclass: its help, type and default from
    the declaration, as :func:`add_declared_options` does for a configuration's keys (a field without
    a default is a required option)."""
    hints = typing.get_type_hints(settings)
    required = {f.name for f in dataclasses.fields(settings)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    for declared in settings_of(settings):
        if declared.name in skip:
            continue
        kind = _plain_type(hints[declared.name])
        flag = "--" + declared.name.replace("_", "-")
        if kind is dict:
            parser.add_argument("--" + declared.name.removesuffix("s").replace("_", "-"), dest=declared.name,
                                action="append", type=key_value, metavar="KEY=VALUE",
                                help=declared.doc + " (repeatable)")
        elif kind is bool:
            parser.add_argument(flag, action="store_true", help=declared.doc)
        else:
            convert = _option_type(declared) or {int: int, float: number}.get(kind, kind)
            if declared.name in required:
                parser.add_argument(flag, type=convert, required=True, help=declared.doc)
            else:
                parser.add_argument(flag, type=convert, default=declared.default, help=setting_help(declared))


def settings_from(namespace, settings: type):
    """An instance of the settings dataclass from the parsed options."""
    hints = typing.get_type_hints(settings)
    values = {}
    for item in dataclasses.fields(settings):
        value = getattr(namespace, item.name, item.default)
        if _plain_type(hints[item.name]) is dict and value is not None:  # repeated KEY=VALUE pairs
            value = dict(value)
        values[item.name] = value
    return settings(**values)
