"""The documentation's generated pages: the configuration and CLI references, the results pages.

Nothing here is written by hand about the code: the configuration reference is read from the
declared settings (:mod:`structsearch.declare`) and the registries, the CLI reference from the
parsers, and the results pages from the provenance records under ``docs/results/data/``
(:mod:`structsearch.provenance`). ``docs/gen_pages.py`` (mkdocs-gen-files) calls these at build
time, so the site cannot drift from the code; ``python -m structsearch.commands._reference readme``
rewrites the README's results table from the same records, and a test checks that it is current.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from structsearch.commands import build_parser
from structsearch.config import TRAIN_TABLES
from structsearch.declare import Setting, settings
from structsearch.families import distinct_families, find_prior, operator_names, prior_names
from structsearch.overrides import LEGACY_PARAMETERS, PARAMETERS
from structsearch.provenance import describe_machine
from structsearch.search import genes
from structsearch.search.space import (
    LEGACY_KEYS,
    SPACE_TABLES,
    TOP_LEVEL,
    SearchSpace,
    operator_steps,
)
from structsearch.tasks import OPTION_DOCS, task_entry, task_names, task_options

README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


class _Markdown(str):
    """Cell text that is Markdown already (a link): :func:`_cell` leaves it as it is."""


def _cell(text: Any) -> str:
    """A table cell: pipes escaped, and square brackets outside code spans (so that ``[task]`` is
    not read as a Markdown link)."""
    if isinstance(text, _Markdown):
        return text
    parts = str(text).replace("|", "\\|").replace("\n", " ").split("`")
    return "`".join(part if i % 2 else part.replace("[", "\\[").replace("]", "\\]")
                    for i, part in enumerate(parts))


def _value(value: Any) -> str:
    """A default as TOML writes it."""
    if value is None:
        return "unset"
    if isinstance(value, dict) and not value:
        return "none"
    return f"`{_toml(value)}`"


def _toml(value: Any) -> str:
    """``value`` as TOML writes it inline."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = (k if re.fullmatch(r"[A-Za-z0-9_]+", k) else json.dumps(k) for k in value)
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in zip(keys, value.values(), strict=True)) + " }"
    return str(value)


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _settings_table(rows: list[Setting], table: str, skip: tuple[str, ...] = ()) -> str:
    return _table(["key", "type", "default", "allowed", "meaning"],
                  ([f"`{table}.{s.name}`" if table else f"`{s.name}`", s.type, _value(s.default),
                    s.allowed_text or "—", s.doc] for s in rows if s.name not in skip))


def _first_line(part: Any) -> str:
    doc = inspect.getdoc(part) or ""
    return doc.split("\n\n")[0].replace("\n", " ").strip() or "—"


def documented_keys() -> set[str]:
    """Every dotted key the configuration reference documents (tables by their own name)."""
    keys = set(TOP_LEVEL)
    for kind in (SPACE_TABLES, TRAIN_TABLES):
        for table, cls in kind.items():
            if not table:
                continue
            keys.add(table)
            keys.update(f"{table}.{s.name}" for s in settings(cls) if s.name not in ("options", "parameters"))
    for prior in prior_names():
        keys.update(f"genotype.{prior}.{name}" for name in find_prior(prior).parameters)
    for table in ("mutations", "crossovers"):
        keys.update(f"evolution.{table}.{name}" for name in operator_names(table))
    keys.update(f"evolution.steps.{name}" for name in operator_steps())
    for name in task_names():
        keys.update(f"task.{option}" for option in task_options(name))
    keys.update(f"genes.{name}" for name in genes.GENE_NAMES)
    keys.update(f"study.params.{name}" for name in PARAMETERS)
    return keys


def configuration_reference() -> str:
    """The configuration reference page (Markdown)."""
    out = ["# Configuration reference", "",
           "Generated from the declared settings (`structsearch.declare`) and the registries each time the "
           "site is built: every key the code accepts is here, with its type, default and allowed values. "
           "A value outside *allowed* is refused with one line, `TABLE.KEY must be ALLOWED, got VALUE`. "
           "Checks that span keys (say, `evolution.elitism` ≤ `evolution.population`) are stated in the "
           "meaning.", "",
           "A **search space** (`structsearch evolve SPACE`, `structsearch study SPACE`) is a TOML file with "
           "the top-level keys and tables below; a **train file** (`structsearch train FILE`) has "
           "`[task]`, `[model]`, `[rewiring]` and `[training]`. Every key is optional except `[task]` in a "
           "space. Any key can also be changed from the command line with `--set TABLE.KEY=VALUE`.", "",
           "## Search space", "", "### Top level", "",
           _settings_table([s for s in settings(SearchSpace) if s.name in TOP_LEVEL], ""), ""]
    for table, cls in SPACE_TABLES.items():
        if not table:
            continue
        doc = next((s.doc for s in settings(SearchSpace) if s.name == table), "")
        out += [f"### [{table}]", "", doc.split(": ", 1)[-1].capitalize() + ".", ""]
        if table == "task":
            out += ["`name` names the task; every other key is one of that task's options (listed under "
                    "[Task options](#task-options)).", ""]
            out += [_settings_table(settings(cls), table, skip=("options",)), ""]
            continue
        out += [_settings_table(settings(cls), table, skip=("parameters",)), ""]
        if table == "genotype":
            out += _prior_tables()
        if table == "evolution":
            out += _operator_tables()
        if table == "study":
            out += _study_tables()
    out += _gene_tables()
    out += ["## Train file", "", "The tables of `structsearch train FILE.toml`. `[training]` and `[rewiring]` are "
            "the same tables, with the same keys, as in a search space.", ""]
    for table, cls in TRAIN_TABLES.items():
        if table in ("training", "rewiring"):
            out += [f"### [{table}]", "", f"As in a search space: see [\\[{table}\\]](#{table}).", ""]
            continue
        skip = ("options",) if table == "task" else ()
        out += [f"### [{table}]", "", _settings_table(settings(cls), table, skip=skip), ""]
    out += _task_tables()
    out += ["## Earlier names", "", "Names of 0.1 that still work, each with a one-line `note:`:", "",
            _table(["old", "today"], ([f"`{old}`", f"`{new}`"] for old, new in
                                      [*LEGACY_KEYS.items(), ("[evolution] of a train file", "[rewiring]"),
                                       *((f"study parameter `{o}`", f"`{n}`") for o, n in LEGACY_PARAMETERS.items())]
                                      )), ""]
    return "\n".join(out)


def _prior_tables() -> list[str]:
    out = ["#### [genotype.PRIOR]", "",
           "Each prior takes its own parameters, as `[low, high]` ranges (inclusive; integers for counts) from "
           "which every candidate draws its own. A prior's table is read only when the prior is in "
           "`genotype.priors`.", ""]
    rows = []
    for family in distinct_families("priors"):
        for prior, entry in family.priors.items():
            for name, parameter in entry.parameters.items():
                rows.append([f"`genotype.{prior}.{name}`", f"{'integer' if parameter.kind is int else 'number'} range",
                             _value(list(parameter.default)), family.adjective, parameter.meaning])
    out += [_table(["key", "type", "default", "family", "meaning"], rows), ""]
    return out


def _operator_tables() -> list[str]:
    out = ["#### [evolution.mutations] and [evolution.crossovers]", "",
           "Each operator's sampling weight (a number ≥ 0). A layered space takes the layered operators; a "
           "convolutional one the convolutional operators, which it gets by default when it names none.", ""]
    rows = []
    for table in ("mutations", "crossovers"):
        for family in distinct_families(table):
            for name, part in getattr(family, table).items():
                rows.append([f"`evolution.{table}.{name}`", family.adjective, _first_line(part)])
    out += [_table(["key", "family", "operator"], rows), "", "#### [evolution.steps]", "",
            _table(["key", "default", "meaning"],
                   ([f"`evolution.steps.{name}`", _value(step),
                     "a fraction of a block's edges, in (0, 1]" if name == "rewire-fraction"
                     else "a factor > 0: the change is drawn log-uniformly in [1/s, s]"]
                    for name, step in operator_steps().items())), ""]
    return out


def _distribution_text() -> str:
    return (f"A distribution is a table: `type` (one of {', '.join(genes.DISTRIBUTIONS)}), then `low` and `high` "
            "(and optionally `step`), or `choices` for `categorical`.")


def _study_tables() -> list[str]:
    rows = [[f"`study.params.{name}`", f"`{key}`", {float: "number", int: "integer", str: "string"}[kind]]
            for name, (key, kind) in PARAMETERS.items()]
    return ["#### [study.params.NAME]", "", "The hyperparameters a study may tune, each the key it sets. "
            + _distribution_text(), "", _table(["key", "sets", "type"], rows), ""]


def _gene_tables() -> list[str]:
    rows = [["`genes.cell`", "`model.cells`", "rnn: the recurrent cell (categorical)"]]
    rows += [[f"`genes.{name}`", "the candidate's input layer", "mlp: the share of the inputs each input-layer "
              "neuron reads, in (0, 1]"] for name in genes.GENOTYPE_GENES]
    rows += [[f"`genes.{name}`", f"`{key}`", "not on recurrent spaces" if name in genes.RECURRENT_REFUSED else ""]
             for name, (key, _) in PARAMETERS.items() if name in genes.TRAINER_GENES]
    return ["### [genes.NAME]", "",
            "Training genes evolve with the structure: each candidate carries a value per gene, drawn in "
            "generation 0, taken from either parent in a crossover and redrawn with "
            "`evolution.gene_mutation_probability` in a mutation. " + _distribution_text()
            + " `epsilon` is not a gene: a genotype fixes its own density.", "",
            _table(["key", "sets", "note"], rows), ""]


def _task_tables() -> list[str]:
    out = ["## Task options", "", "Written under `[task]` beside `name`, or given as `--task-option KEY=VALUE`.", ""]
    for name in task_names():
        options = task_options(name)
        out += [f"### {name}", "", task_entry(name).summary + ".", ""]
        out += [_table(["key", "default", "meaning"],
                       ([f"`task.{option}`", _value(default), OPTION_DOCS[option]]
                        for option, default in options.items())), ""]
    return out


# ------------------------------------------------------------------------------------------ CLI


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps its sub-parsers only here
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _help_of(parent: argparse.ArgumentParser, name: str) -> str:
    for action in parent._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                if choice.dest == name:
                    return choice.help or ""
    return ""


def _option_rows(parser: argparse.ArgumentParser) -> list[list[str]]:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
            continue
        if action.help == argparse.SUPPRESS:
            continue
        names = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.metavar or action.dest}`"
        if action.option_strings and action.nargs != 0:
            metavar = action.metavar or action.dest.upper()
            names += f" `{metavar if isinstance(metavar, str) else ' '.join(metavar)}`"
        help_text = (action.help or "").replace("%(default)s", str(action.default)).replace("%%", "%")
        if action.choices and not isinstance(action.choices, dict):
            help_text += f" (one of {', '.join(map(str, action.choices))})"
        rows.append([names, help_text])
    return rows


def cli_reference() -> str:
    """The CLI reference page (Markdown), read from the parsers."""
    root = build_parser()
    out = ["# Command-line reference", "",
           "Generated from the parsers each time the site is built. Every command takes `--help`; errors are "
           "one line (exit 2 for a bad command line, option value or setting; 1 for a missing or damaged "
           "file or a failed run), and `--debug` shows the traceback.", "",
           "```text", root.format_usage().strip(), "```", "", _table(["option", "meaning"], _option_rows(root)), ""]
    out += ["| command | what it does |", "|---|---|"]
    commands = _subparsers(root)
    out += [f"| [`{name}`](#structsearch-{name}) | {_cell(_help_of(root, name))} |" for name in commands]
    out.append("")
    for name, parser in commands.items():
        out += _command_section(f"structsearch {name}", parser, _help_of(root, name), 2)
    return "\n".join(out)


def _command_section(title: str, parser: argparse.ArgumentParser, summary: str, depth: int) -> list[str]:
    out = [f"{'#' * depth} {title}", ""]
    if parser.description or summary:
        out += [_cell(parser.description or summary), ""]
    out += ["```text", parser.format_usage().replace("usage: ", "").strip(), "```", ""]
    rows = _option_rows(parser)
    if rows:
        out += [_table(["argument", "meaning"], rows), ""]
    for name, child in _subparsers(parser).items():
        out += _command_section(f"{title} {name}", child, _help_of(parser, name), min(depth + 1, 4))
    return out


# -------------------------------------------------------------------------------------- results


def load_records(folder: str | Path) -> dict[str, dict]:
    """The provenance records of ``folder``, by file name (without ``.json``), sorted."""
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(Path(folder).glob("*.json"))}


def _figure(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(_figure(v) for v in value)
    return str(value)


def _scalar(value: Any) -> bool:
    return not isinstance(value, dict | list) or (isinstance(value, list) and all(
        not isinstance(v, dict | list) for v in value))


def _flat(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(_scalar(v) for v in value.values())


def _matrix(rows: dict[str, dict]) -> str:
    """Flat mappings as the rows of one table, their keys as its columns."""
    columns = list(dict.fromkeys(c for row in rows.values() for c in row))
    return _table(["", *columns], ([f"**{name}**", *(_figure(row.get(c, "")) for c in columns)]
                                   for name, row in rows.items()))


def _figures_markdown(figures: dict[str, Any], depth: int = 3) -> list[str]:
    """Figures as tables: the scalars in one table; sibling flat mappings (``set``, ``set-motif``, …)
    as the rows of one matrix; a mapping of flat mappings as a matrix; deeper ones under a heading."""
    out = []
    scalars = [[f"`{key}`", _figure(value)] for key, value in figures.items() if _scalar(value)]
    if scalars:
        out += [_table(["figure", "value"], scalars), ""]
    flat = {key: value for key, value in figures.items() if _flat(value)}
    if flat:
        out += [_matrix(flat), ""]
    for key, value in figures.items():
        if _scalar(value) or key in flat:
            continue
        out += [f"{'#' * depth} {key}", ""]
        if isinstance(value, list):
            out += ["```json", json.dumps(value, indent=1, ensure_ascii=False)[:4000], "```", ""]
        elif all(_flat(v) for v in value.values()):
            out += [_matrix(value), ""]
        else:
            out += _figures_markdown(value, min(depth + 1, 6))
    return out


def results_page(name: str, record: dict[str, Any]) -> str:
    """One record as a results page: its provenance, then its text and figures."""
    machine = describe_machine(record.get("machine", "?"))
    conditions = record.get("conditions") or {}
    out = [f"# {record.get('title', name).rstrip('.')}", "",
           '!!! info "Provenance"', "",
           f"    - **command**: `{record['command']}`",
           f"    - **commit**: `{record['commit']}`",
           f"    - **date**: {record['date']}",
           f"    - **machine**: {machine}"]
    if conditions:
        out.append("    - **conditions**: " + "; ".join(f"{k} {_figure(v)}" for k, v in conditions.items()))
    if record.get("note"):
        out.append(f"    - **note**: {record['note']}")
    out += ["", f"Record: `docs/results/data/{name}.json`.", ""]
    if record.get("headline"):
        out += ["## In short", "", _table(["result", "figure"], ([h["what"], h["value"]] for h in record["headline"])),
                ""]
    if record.get("text"):
        out += [record["text"], ""]
    out += ["## Figures", ""] + _figures_markdown(record["figures"])
    return "\n".join(out)


def results_index(records: dict[str, dict]) -> str:
    out = ["# Results", "",
           "Every figure the documentation quotes comes from one of these records, written by the benchmark or "
           "experiment that measured it (`--record docs/results/data/NAME.json`): the command, the commit, the "
           "date and the machine stand beside the figures. A figure that no record backs is not quoted.", "",
           _table(["result", "date", "machine", "command"],
                  ([_Markdown(f"[{_cell(r.get('title', n).rstrip('.'))}]({n}.md)"), r["date"],
                    describe_machine(r.get("machine", "?")),
                    f"`{r['command']}`"] for n, r in records.items())), ""]
    return "\n".join(out)


def combined_records(records: dict[str, dict]) -> set[str]:
    """The records that a ``--combine`` record pairs into one (``conditions.reused.record``): their
    runs show through the combination."""
    folded = set()
    for record in records.values():
        if "--combine" in record.get("command", "").split():
            sources = (record.get("conditions", {}).get("reused") or {}).get("record") or []
            folded.update(Path(source).stem for source in ([sources] if isinstance(sources, str) else sources))
    return folded


def readme_table(records: dict[str, dict], link: str = "docs/results/data") -> str:
    """The README's headline results: one row per ``headline`` of each record, linking the record;
    a record that a ``--combine`` record pairs with others shows through that one (the results
    pages keep every record)."""
    folded = combined_records(records)
    return _table(["result", "figure", "record"],
                  ([h["what"], h["value"], _Markdown(f"[{n}, {r['date']}]({link}/{n}.json)")]
                   for n, r in records.items() if n not in folded for h in r.get("headline", [])))


def update_readme(readme: str | Path, records_folder: str | Path) -> bool:
    """Rewrite the README's results block from the records; whether it changed."""
    path = Path(readme)
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(README_START) + ".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{path} has no {README_START} … {README_END} block")
    new = pattern.sub(lambda _: f"{README_START}\n{readme_table(load_records(records_folder))}\n{README_END}", text)
    path.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m structsearch.commands._reference",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("page", choices=("configuration", "cli", "readme"))
    parser.add_argument("--root", default=".", help="the checkout (for readme)")
    args = parser.parse_args(argv)
    if args.page == "readme":
        root = Path(args.root)
        changed = update_readme(root / "README.md", root / "docs" / "results" / "data")
        print("README.md updated" if changed else "README.md is current")
    else:
        sys.stdout.write((configuration_reference() if args.page == "configuration" else cli_reference()) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
