"""The ``structsearch`` command: one module per command, each with its parser and ``run``.

Every module here has ``add_parser(commands)``, which adds its sub-parser, and ``run(namespace) ->
int``; :data:`COMMANDS` dispatches.  Only this package knows argparse: below it, the application
(search, studies, experiments, pruning) takes typed settings and returns results.

Errors reach the user as one line: a bad command line, option value or setting exits with 2, a
runtime error (a missing or damaged file, a failed training) with 1.  ``--debug`` shows the
traceback of a runtime error instead.  Deprecated names print one ``note:`` line.  A command that
fails removes the run directory it made, unless that already holds results.
"""

from __future__ import annotations

import errno
import importlib
import os
import signal
import sqlite3
import sys
import threading
import warnings
from pathlib import Path

from structsearch import __version__
from structsearch.commands._options import ArgumentParser, UsageError
from structsearch.errors import ConfigError, StructsearchError
from structsearch.limits import MEMORY_ENV
from structsearch.runs import discard_unfinished, disk_full, forget_created

# command → its module (imported when the parser is built; each imports its heavy parts in ``run``)
COMMANDS = {name: f"structsearch.commands.{module}" for name, module in (
    ("train", "train"), ("evolve", "evolve"), ("study", "study"), ("spaces", "spaces"), ("prune", "prune"),
    ("motifs", "motifs"), ("tasks", "tasks"), ("genotype", "genotype"), ("meta", "meta"),
    ("predictor", "predictor"), ("experiment", "experiment"), ("report", "report"), ("export", "export"),
    ("features", "features"),
)}


def command(name: str):
    return importlib.import_module(COMMANDS[name])


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="structsearch", description="Search for good sparse neural-network structures.")
    parser.add_argument("--version", action="version", version=f"structsearch {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name in COMMANDS:
        command(name).add_parser(commands)
    return parser


def _note(message, category, filename, lineno, file=None, line=None) -> None:
    """Deprecation notes as one line, without the file and line warnings show."""
    print(f"note: {message}", file=sys.stderr)


def _folder_of(filename) -> str:
    """The folder a failed write was in (the current one when the error names no file)."""
    if not filename:
        return "."
    path = Path(filename)
    return str(path if path.is_dir() else path.parent)


def _database_error(error) -> str:
    """One line for SQLite's errors that escape the store's own handling."""
    if "full" in str(error):
        return disk_full(".")
    return f"the run store could not be written ({error}); check the folder's space and permissions"


def _os_error(error: OSError) -> str:
    """``PATH: what is wrong`` for an error of the operating system."""
    where = f"{error.filename}: " if error.filename else ""
    return f"{where}{(error.strerror or str(error)).lower()}"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it ends as an interrupt does: every finished
    result is stored and the command says how to resume."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    shown = warnings.showwarning
    warnings.showwarning = _note
    forget_created()
    limit_before = os.environ.get(MEMORY_ENV)
    code = 1
    handler = None
    if threading.current_thread() is threading.main_thread():
        handler = signal.signal(signal.SIGTERM, _terminate)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default", FutureWarning)
            # numpy's arithmetic notes (overflow, invalid value) are not the user's business: what
            # they would signal is checked where the data enters; and scikit-learn's imputer would
            # repeat an empty column's warning at every fit (load_xy says it once)
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.filterwarnings("ignore", message="Skipping features without any observed values")
            args = build_parser().parse_args(argv)
            if args.command is None:
                build_parser().print_help()
                return 0
            if getattr(args, "max_memory", None) is not None:  # this command and its worker processes
                os.environ[MEMORY_ENV] = str(args.max_memory)
            code = command(args.command).run(args)
            return code
    except (UsageError, ConfigError) as error:
        if debug and not isinstance(error, UsageError):
            raise
        print(f"error: {error}", file=sys.stderr)
        code = 2
        return code
    except StructsearchError as error:
        if debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as error:
        terminated = isinstance(error, Terminated)
        print(f"error: {'terminated (SIGTERM)' if terminated else 'interrupted'}", file=sys.stderr)
        code = 143 if terminated else 130
        return code
    except sqlite3.OperationalError as error:  # a store that cannot be written
        if debug:
            raise
        print(f"error: {_database_error(error)}", file=sys.stderr)
        return 1
    except OSError as error:  # the environment: a full disk, a read-only folder, a vanished file
        if debug:
            raise
        if error.errno == errno.ENOSPC:
            print(f"error: {disk_full(_folder_of(error.filename))}", file=sys.stderr)
        else:
            print(f"error: {_os_error(error)}", file=sys.stderr)
        return 1
    except RecursionError:
        if debug:
            raise
        print("error: an input nested too deeply to read (JSON or TOML of more than 64 levels)", file=sys.stderr)
        return 1
    except MemoryError:
        if debug:
            raise
        print("error: out of memory; make the model or genotype smaller, or lower --max-memory so that "
              "such sizes are refused before they are built", file=sys.stderr)
        return 1
    except Exception as error:  # a bug: one line unless --debug
        if debug:
            raise
        print(f"error: {type(error).__name__}: {error} (run with --debug for the traceback)", file=sys.stderr)
        return 1
    finally:
        if handler is not None:
            signal.signal(signal.SIGTERM, handler)
        warnings.showwarning = shown
        if code != 0:
            discard_unfinished()
        forget_created()
        if limit_before is None:
            os.environ.pop(MEMORY_ENV, None)
        else:
            os.environ[MEMORY_ENV] = limit_before


if __name__ == "__main__":
    sys.exit(main())
