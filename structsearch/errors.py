"""The exceptions a user may see.

Anything raised as a :class:`StructsearchError` reaches the user as one line (the command prints
``error: <message>`` and exits with 1); anything else is a bug and shows its traceback only with
``--debug``.
"""

import math
from contextlib import contextmanager


class StructsearchError(Exception):
    """An error caused by the user's input or environment, with a message fit to print alone."""


class ConfigError(StructsearchError, ValueError):
    """A configuration value, option or hyperparameter that cannot be used."""


class DataError(StructsearchError):
    """A data file or directory that is missing, truncated or not what it claims to be."""


@contextmanager
def errors_from(source: str):
    """Inside the block, a :class:`ConfigError` is re-raised with ``source: `` in front (once), so
    that every message of a loader names the file or option it came from."""
    try:
        yield
    except ConfigError as error:
        message = str(error)
        raise ConfigError(message if message.startswith(source) else f"{source}: {message}") from None


def check_range(name: str, value, low: float = 0.0, high: float = 1.0, *, low_open: bool = False,
                high_open: bool = False) -> float:
    """``value`` if it is a number in the interval from ``low`` to ``high`` (each end closed unless
    ``*_open``), else a :class:`ConfigError` that names ``name``, the interval and the value."""
    number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    inside = number and (low < value if low_open else low <= value) and (value < high if high_open else value <= high)
    if not inside:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ConfigError(f"{name} must lie in {interval}, got {value!r}")
    return value
