"""``structsearch genotype sample|show``: draw a genotype from a prior, describe a genotype file."""

from __future__ import annotations

import inspect
import json

from rich.console import Console
from rich.table import Table

from structsearch import seeds
from structsearch.commands._options import UsageError, add_memory_option, group, key_value, nonnegative_int
from structsearch.errors import ConfigError
from structsearch.families import distinct_families, family_of, find_prior, load_genotype
from structsearch.runs import check_out


def add_parser(commands) -> None:
    actions = group(commands, "genotype", "sample, describe and inspect genotypes (layered and convolutional)")
    sample = actions.add_parser("sample", help="draw a genotype from a prior into a file")
    sample.add_argument("prior", help="; ".join(f"{family.adjective}: {family.priors.help}" for family in _families()))
    sample.add_argument("--param", action="append", type=key_value, metavar="KEY=VALUE",
                        help="a prior parameter (TOML value), e.g. n=30, layer_sizes=[64,100,10], "
                             "nodes=[6,6] widths=[16,32]")
    sample.add_argument("--seed", type=nonnegative_int, default=0)
    sample.add_argument("--out", required=True, help="genotype file (.json or .npz)")
    sample.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    add_memory_option(sample)
    show = actions.add_parser("show", help="describe a genotype file and list its graph features")
    show.add_argument("file")
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _families() -> list:
    return distinct_families("priors")


def run(args) -> int:
    return {"sample": sample, "show": show}[args.action](args)


def sample(args) -> int:
    if args.prior not in {name for family in _families() for name in family.priors}:
        raise ConfigError(f"unknown prior {args.prior!r}; " + "; ".join(
            f"{family.adjective} priors: {', '.join(family.priors)}" for family in _families()))
    make = find_prior(args.prior).builder()
    try:
        graph = make(**dict(args.param or []), rng=seeds.generator(args.seed, "prior"))
    except TypeError as error:
        allowed = [p for p in inspect.signature(make).parameters if p != "rng"]
        raise UsageError(f"prior {args.prior!r}: {error}; its parameters are {', '.join(allowed)}") from None
    graph.validate()
    path = graph.save(check_out(args.out, args.overwrite))
    Console(stderr=True).print(f"{graph!r} → {path}")
    return 0


def show(args) -> int:
    graph = load_genotype(args.file)
    features, meta = family_of(graph).features(graph)
    if args.json:
        print(json.dumps({"describe": graph.describe(), "features": features, "feature_meta": meta}))
        return 0
    console = Console()
    console.print(graph.describe())
    how = "exact" if meta["exact"] else f"{meta['bfs_sources']} sampled BFS sources"
    table = Table(title=f"features ({how})")
    table.add_column("feature")
    table.add_column("value", justify="right")
    for name, value in features.items():
        table.add_row(name, f"{value:.6g}")
    console.print(table)
    return 0
