"""``structsearch report``: one self-contained HTML (or Markdown) report of one or more runs."""

from __future__ import annotations

from rich.console import Console

from structsearch.report import figures_json, open_runs, write_report


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "report", help="write a self-contained HTML report of evolve runs (several: compared on one plot), "
                       "studies and experiments")
    parser.add_argument("runs", nargs="+", metavar="RUN",
                        help="evolve run directories, study journals or storage URLs, experiment run directories")
    parser.add_argument("--out", help="the folder to write into (default: the first run's directory, or the "
                                      "journal's folder)")
    parser.add_argument("--format", choices=("html", "md"), default="html",
                        help="html: one file, images inline; md: Markdown with PNG files beside it")
    parser.add_argument("--allow-mixed", action="store_true", help="allow runs of different tasks together")
    parser.add_argument("--json", action="store_true", help="also print the key figures as JSON")


def run(args) -> int:
    path = write_report(args.runs, args.out, args.format, args.allow_mixed)
    if args.json:
        print(figures_json(open_runs(args.runs, args.allow_mixed)))
    else:
        Console().print(f"report: {path}")
    return 0
