"""The exceptions a user may see.

Anything raised as a :class:`StructsearchError` reaches the user as one line (the command prints
``error: <message>`` and exits with 1); anything else is a bug and shows its traceback only with
``--debug``.
"""


class StructsearchError(Exception):
    """An error caused by the user's input or environment, with a message fit to print alone."""


class ConfigError(StructsearchError, ValueError):
    """A configuration value, option or hyperparameter that cannot be used."""


class DataError(StructsearchError):
    """A data file or directory that is missing, truncated or not what it claims to be."""
