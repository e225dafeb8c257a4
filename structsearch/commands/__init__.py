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

import importlib
import os
import sys
import warnings

from structsearch import __version__
from structsearch.commands._options import ArgumentParser, UsageError
from structsearch.errors import ConfigError, StructsearchError

# command → its module (imported when the parser is built; each imports its heavy parts in ``run``)
COMMANDS = {name: f"structsearch.commands.{module}" for name, module in (
    ("train", "train"), ("evolve", "evolve"), ("study", "study"), ("spaces", "spaces"), ("prune", "prune"),
    ("motifs", "motifs"), ("tasks", "tasks"), ("genotype", "genotype"), ("meta", "meta"),
    ("predictor", "predictor"), ("experiment", "experiment"), ("report", "report"),
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


def _os_error(error: OSError) -> str:
    """``PATH: what is wrong`` for an error of the operating system."""
    where = f"{error.filename}: " if error.filename else ""
    return f"{where}{(error.strerror or str(error)).lower()}"


def main(argv: list[str] | None = None) -> int:
    from structsearch.limits import MEMORY_ENV
    from structsearch.runs import discard_unfinished, forget_created

    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    shown = warnings.showwarning
    warnings.showwarning = _note
    forget_created()
    limit_before = os.environ.get(MEMORY_ENV)
    code = 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default", FutureWarning)
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
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        code = 130
        return code
    except OSError as error:  # the environment: a full disk, a read-only folder, a vanished file
        if debug:
            raise
        print(f"error: {_os_error(error)}", file=sys.stderr)
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
