"""``structsearch study``: an Optuna study of a search space's ``[study]`` hyperparameters."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from structsearch.commands._options import add_data_options, add_memory_option, add_settings_options, settings_from
from structsearch.commands.evolve import add_space_options, space_changes
from structsearch.errors import DataError
from structsearch.runs import check_out
from structsearch.search.space import load_space_with_changes
from structsearch.studies import StudyConfig, best_params_toml, run_study


def add_parser(commands) -> None:
    parser = commands.add_parser("study", help="tune a search space's [study] hyperparameters with Optuna")
    parser.add_argument("space", help="a built-in space (see `structsearch spaces`) or a TOML file")
    add_settings_options(parser, StudyConfig, skip=("data_dir",))  # --data-dir: add_data_options
    parser.add_argument("--genotype", help="a fixed genotype file instead of the space's priors")
    add_space_options(parser)
    parser.add_argument("--out", help="where the best parameters go (default runs/studies/NAME-best.toml, "
                                      "rewritten as the study goes on); an existing --out file needs --overwrite")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    add_data_options(parser)
    add_memory_option(parser)


def run(args) -> int:
    """Run the trials, print the best parameters, write them as TOML."""
    from optuna.trial import TrialState

    if args.out:  # refused before any trial runs
        check_out(args.out, args.overwrite)
    space = load_space_with_changes(args.space, space_changes(args, {}))
    if args.genotype:
        space.study.genotype = args.genotype
    console = Console(stderr=True)
    name = args.study_name or space.name  # checked by run_study

    def announce(shown):
        console.print(f"[bold]structsearch study[/bold] {name} in {shown}: {args.trials} trial(s) of "
                      f"{space.name} over {args.jobs} process(es), pruner {args.pruner}")

    config = replace(settings_from(args, StudyConfig), study_name=name)
    outcome = run_study(space, config, announce)
    study, shown = outcome.study, outcome.storage
    counts = {state.name.lower(): len(study.get_trials(deepcopy=False, states=(state,)))
              for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    console.print(f"{len(study.trials)} trials in {shown}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    if not counts["complete"]:
        raise DataError(f"study {name!r} has no complete trial yet; nothing to report")
    best = study.best_trial
    console.print(f"best: trial {best.number}, validation accuracy {best.value:.4f}, test accuracy "
                  f"{best.user_attrs.get('test_accuracy', math.nan):.4f}, {best.user_attrs.get('connections')} "
                  f"connections ({best.user_attrs.get('structure')})")
    table = Table(title=f"best parameters of {name}")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    for key, value in best.params.items():
        table.add_row(key, f"{value:.6g}" if isinstance(value, float) else str(value))
    Console().print(table)
    out = Path(args.out) if args.out else Path(args.runs) / "studies" / f"{name}-best.toml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(best_params_toml(study, space.name))
    console.print(f"best parameters → {out} (structsearch train --params {out}); "
                  f"browse with: optuna-dashboard {args.storage or shown}")
    return 0
