"""Settings declared once: each configuration key's default, meaning and allowed values sit beside it.

A configuration dataclass declares its keys with :func:`setting`::

    @dataclass
    class BudgetConfig:
        max_epochs: int = setting(0, "training epochs summed over every candidate (0: no limit)",
                                  Interval(0, None, integer=True))

The declaration is the single source of three things, so they cannot drift apart:

- :func:`check_settings` checks every declared value and raises a :class:`ConfigError` of one
  shape, ``TABLE.KEY must be ALLOWED, got VALUE``;
- :func:`settings` lists the keys with their type, default, allowed values and meaning, which the
  documentation's configuration reference is generated from;
- :meth:`Interval.invalid` and :meth:`Options.invalid` give values just outside each bound and
  choice, which the tests feed to every table's ``validate`` (as scikit-learn's
  ``generate_invalid_param_val`` does for its ``_parameter_constraints``).

A hand-written ``validate`` keeps only the checks that span fields. The constraint classes are our
own (about a hundred lines) rather than scikit-learn's private ``_param_validation`` module, which
is not a public API and whose messages name Python types rather than TOML keys.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from structsearch.errors import ConfigError

_MISSING = dataclasses.MISSING


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bound(value: float) -> str:
    if value == 2**63:
        return "2⁶³"
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


@dataclass(frozen=True)
class Interval:
    """Numbers from ``low`` to ``high`` (``None``: unbounded), each end closed unless said;
    ``integer`` admits integers only."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def __contains__(self, value: Any) -> bool:
        if not (_integer(value) if self.integer else _number(value)):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))

    def describe(self) -> str:
        """``an integer ≥ 1``, ``a number in [0, 1)``, …"""
        what = "an integer" if self.integer else "a number"
        if self.low is not None and self.high is not None:
            return (f"{what} in {'(' if self.low_open else '['}{_bound(self.low)}, {_bound(self.high)}"
                    f"{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{what} {'>' if self.low_open else '≥'} {_bound(self.low)}"
        if self.high is not None:
            return f"{what} {'<' if self.high_open else '≤'} {_bound(self.high)}"
        return what

    def invalid(self) -> list[Any]:
        """Values just outside each bound, and one of the wrong kind."""
        step = 1 if self.integer else 1e-3
        values: list[Any] = ["a string"]
        if self.low is not None:
            values.append(self.low if self.low_open
                          else (math.floor(self.low) - 1 if self.integer else self.low - step))
        if self.high is not None:
            values.append(self.high if self.high_open else (math.floor(self.high) + 1 if self.integer
                                                            else self.high + step))
        if self.integer:
            values.append(1.5)
        return values


@dataclass(frozen=True)
class Range:
    """A ``[low, high]`` pair with ``low ≤ high``, both inside ``within`` (an :class:`Interval`)."""

    within: Interval

    def __contains__(self, value: Any) -> bool:
        return (isinstance(value, list) and len(value) == 2 and all(v in self.within for v in value)
                and value[0] <= value[1])

    def describe(self) -> str:
        within = self.within.describe().replace("an integer", "integers").replace("a number", "numbers")
        return f"a range [low, high] of {within}"

    def invalid(self) -> list[Any]:
        """A pair with one end outside ``within``, a string, and a single value."""
        inside = next(v for v in (self.within.low, self.within.high, 1, 0.5) if v is not None and v in self.within)
        outside = next(v for v in self.within.invalid() if not isinstance(v, str))
        return [[outside, inside], "a string", [inside]]


@dataclass(frozen=True)
class Options:
    """One of a fixed set of names: a tuple, or a callable returning a registry's names (so that
    a part registered later is allowed too); ``many``: a list of them."""

    choices: tuple[str, ...] | Callable[[], Iterable[str]]
    many: bool = False
    empty: bool = True  # with many: whether the empty list is allowed

    @property
    def names(self) -> list[str]:
        return list(self.choices() if callable(self.choices) else self.choices)

    def __contains__(self, value: Any) -> bool:
        if self.many:
            return (isinstance(value, list) and (self.empty or bool(value))
                    and all(isinstance(v, str) and v in self.names for v in value))
        return isinstance(value, str) and value in self.names

    def describe(self) -> str:
        names = ", ".join(self.names)
        if self.many:
            return f"a {'' if self.empty else 'non-empty '}list of {names}"
        return f"one of {names}"

    def invalid(self) -> list[Any]:
        if self.many:
            return [["no-such-name"], "not a list"] + ([] if self.empty else [[]])
        return ["no-such-name", 3]


@dataclass(frozen=True)
class Flag:
    """``true`` or ``false``."""

    def __contains__(self, value: Any) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "true or false"

    def invalid(self) -> list[Any]:
        return ["yes", 1]


@dataclass(frozen=True)
class Either:
    """A value that one of ``constraints`` admits (``None`` among them: the key may be unset)."""

    constraints: tuple[Any, ...]

    def __contains__(self, value: Any) -> bool:
        return any(value is None if c is None else value in c for c in self.constraints)

    def describe(self) -> str:
        return " or ".join("unset" if c is None else c.describe() for c in self.constraints)

    def invalid(self) -> list[Any]:
        bad = [v for c in self.constraints if c is not None for v in c.invalid()]
        return [v for v in bad if v not in self]


@dataclass(frozen=True)
class Text:
    """Free text of some kind, described in words (a path, a file name, a ``.skops`` file);
    ``check`` says whether a value is one."""

    what: str
    check: Callable[[Any], bool] = lambda value: isinstance(value, str)

    def __contains__(self, value: Any) -> bool:
        return bool(self.check(value))

    def describe(self) -> str:
        return self.what

    def invalid(self) -> list[Any]:
        return [3]


@dataclass(frozen=True)
class Setting:
    """One declared key, as :func:`settings` lists it."""

    name: str
    type: str
    default: Any
    doc: str
    allowed: Any

    @property
    def allowed_text(self) -> str:
        return "" if self.allowed is None else self.allowed.describe()


def setting(default: Any = _MISSING, doc: str = "", allowed: Any = None, *,
            factory: Callable[[], Any] | None = None) -> Any:
    """A dataclass field that declares its meaning (``doc``) and its allowed values (``allowed``:
    an :class:`Interval`, :class:`Options`, :class:`Either` or :class:`Text`)."""
    if not doc:
        raise ValueError("a setting needs its meaning")
    metadata = {"doc": doc, "allowed": allowed}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _type_name(hint: Any) -> str:
    """A type hint as a reader of a TOML file thinks of it."""
    names = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): ""}
    if hint in names:
        return names[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        return f"list of {_type_name(args[0])}s" if args else "list"
    if origin is dict:
        return f"table of {_type_name(args[1])}s" if len(args) == 2 else "table"
    if args:  # a union
        parts = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(parts)
    return getattr(hint, "__name__", str(hint))


def _default(field: dataclasses.Field) -> Any:
    if field.default is not _MISSING:
        return field.default
    if field.default_factory is not _MISSING:
        return field.default_factory()
    return None


def settings(cls: type) -> list[Setting]:
    """The declared keys of a configuration dataclass, in declaration order."""
    hints = typing.get_type_hints(cls)
    return [Setting(f.name, _type_name(hints[f.name]), _default(f), f.metadata["doc"], f.metadata.get("allowed"))
            for f in dataclasses.fields(cls) if "doc" in f.metadata]


def document_settings(cls: type) -> type:
    """Append a numpy-style *Parameters* section to ``cls``'s docstring, written from its declared
    settings (their type, default, meaning and allowed values), so that the API reference and the
    configuration reference read one source."""
    lines = ["", "Parameters", "----------"]
    for declared in settings(cls):
        default = declared.default
        shown = "" if default is None or dataclasses.is_dataclass(default) else f", default {default!r}"
        allowed = f" ({declared.allowed_text})" if declared.allowed is not None else ""
        lines += [f"{declared.name} : {declared.type}{shown}", f"    {declared.doc}{allowed}"]
    cls.__doc__ = (inspect.cleandoc(cls.__doc__ or cls.__name__) + "\n" + "\n".join(lines)).strip()
    return cls


def find_setting(tables: dict[str, type], dotted: str) -> Setting:
    """The declaration of ``TABLE.KEY`` among ``tables`` (table name → dataclass; ``""``: the top level)."""
    table, _, key = dotted.rpartition(".")
    for found in settings(tables[table]):
        if found.name == key:
            return found
    raise KeyError(dotted)


def undeclared(cls: type) -> list[str]:
    """Fields of ``cls`` that declare no meaning (the documentation tests want none)."""
    return [f.name for f in dataclasses.fields(cls) if "doc" not in f.metadata]


def check_settings(target: Any, table: str) -> None:
    """Every declared value of the dataclass ``target`` against its declaration; the first that is
    not allowed is a :class:`ConfigError`: ``TABLE.KEY must be ALLOWED, got VALUE`` (``table`` is
    ``"--"`` for the settings of a command's options: ``--KEY must be …``)."""
    for field in dataclasses.fields(target):
        allowed = field.metadata.get("allowed")
        if allowed is None:
            continue
        value = getattr(target, field.name)
        if value not in allowed:
            where = (f"--{field.name.replace('_', '-')}" if table == "--" else
                     f"{table}.{field.name}" if table else field.name)
            raise ConfigError(f"{where} must be {allowed.describe()}, got {value!r}")


__all__ = ["Either", "Flag", "Interval", "Options", "Range", "Setting", "Text", "check_settings", "check_weights",
           "document_settings", "find_setting", "setting", "settings", "undeclared"]


def check_weights(weights: dict, table: str) -> None:
    """Sampling weights: finite numbers ≥ 0 with a finite sum, else a ConfigError naming the key."""
    for name, weight in weights.items():
        if not isinstance(weight, int | float) or isinstance(weight, bool) or not math.isfinite(weight) or weight < 0:
            raise ConfigError(f"{table}.{name} must be a finite weight ≥ 0, got {weight!r}")
    if not math.isfinite(sum(weights.values())):
        raise ConfigError(f"{table}: the weights' sum overflows; give weights of a sensible scale (e.g. 0 to 10)")
