"""``structsearch experiment NAME``: reproduce a study from the literature.

Each experiment's options are built from its settings dataclass
(:mod:`structsearch.experiments.settings`): the defaults and help text are declared there once.
"""

from __future__ import annotations

from structsearch.commands._options import (
    Deprecated,
    add_memory_option,
    add_settings_options,
    group,
    number,
    settings_from,
)
from structsearch.experiments import EXPERIMENTS, run_experiment

HELP = {
    "set-vs-motif": "SET vs SET-motif A/B over ε (Su 2022)",
    "random-structures": "train N Watts–Strogatz and Barabási–Albert networks into a run store (Stier et al. §4.3)",
    "reber-priors": "random-structure study on Reber with recurrent cells (Stier et al. §4.3)",
    "reber-pruning": "magnitude pruning of input/hidden weights of Reber models (Stier et al. §4.2)",
    "mnist-pruning": "pruning methods on MNIST 784-100-10 and 784-300-100-10 (Stier et al. §4.1)",
    "motif-emergence": "motif censuses along SET training, then the motif-informed prior against ER",
    "set-mnist": "Mocanu et al.'s SET-MLP 784-1000-1000-1000-10 on MNIST for as many epochs as fit --hours",
}


def add_parser(commands) -> None:
    actions = group(commands, "experiment", "reproduce a study from the literature", metavar="STUDY")
    for name, (settings, _) in EXPERIMENTS.items():
        parser = actions.add_parser(name, help=HELP[name])
        add_settings_options(parser, settings)
        add_memory_option(parser)
        if name == "motif-emergence":
            parser.add_argument("--zeta", dest="drop_fraction", type=number, action=Deprecated,
                                new="--drop-fraction", help="old name of --drop-fraction")


def run(args) -> int:
    run_experiment(args.action, settings_from(args, EXPERIMENTS[args.action][0]))
    return 0
