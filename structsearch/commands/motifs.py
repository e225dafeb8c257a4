"""``structsearch motifs TARGET``: the census of a genotype file or of a trained model's run."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from structsearch.commands._options import add_data_options, nonnegative_int, positive_int
from structsearch.errors import DataError
from structsearch.graphs import LayeredGraph
from structsearch.motifs.census import census, graph_of_model, save_census, signed_motifs
from structsearch.pipeline import load_trained_model
from structsearch.runs import check_out


def load_target(target: str, data_dir: str | None = None):
    """(graph, weights or None, what) for a genotype file or a trained model's run directory."""
    path = Path(target)
    if path.is_dir():
        if (path / "model.pt").is_file():
            _, _, model = load_trained_model(path, data_dir)
            graph, weights = graph_of_model(model)
            return graph, weights, f"trained model of {path}"
        if (path / "best-genotype.json").is_file():
            return LayeredGraph.load(path / "best-genotype.json"), None, f"best genotype of {path}"
        raise DataError(f"{path}: neither a genotype file nor a run directory with model.pt or best-genotype.json")
    if path.is_file():
        return LayeredGraph.load(path), None, f"genotype {path}"
    raise DataError(f"{target}: neither a genotype file nor a run directory")


def add_parser(commands) -> None:
    parser = commands.add_parser("motifs", help="motif census of a genotype or a trained model against a null model")
    parser.add_argument("target", help="a genotype file, or a run directory (model.pt, or best-genotype.json)")
    parser.add_argument("--samples", type=positive_int, default=100,
                        help="null graphs N (degree-preserving per layer pair)")
    parser.add_argument("--seed", type=nonnegative_int, default=0)
    parser.add_argument("--out", help="write the census as JSON (input of the motif-informed prior)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_data_options(parser)


def run(args) -> int:
    out = check_out(args.out, args.overwrite) if args.out else None  # refused before the census is computed
    graph, weights, what = load_target(args.target, args.data_dir)
    result = census(graph, args.samples, args.seed)
    if weights is not None:
        result["signed"] = signed_motifs(graph, weights)
    if args.out:
        save_census(result, out)
    if args.json:
        print(json.dumps(result))
        return 0
    console = Console()
    table = Table(title=f"motif census of the {what}: {graph.n_edges:,} connections, {args.samples} null graphs")
    for column in ("motif", "count", "null mean ± std", "z", "p (over)"):
        table.add_column(column, justify="left" if column == "motif" else "right")
    for name, entry in result["motifs"].items():
        table.add_row(name, f"{entry['count']:,}", f"{entry['null_mean']:.1f} ± {entry['null_std']:.1f}",
                      f"{entry['z']:+.2f}", f"{entry['p_value']:.3f}")
    console.print(table)
    if result["frozen_blocks"]:
        console.print(
            f"[yellow]{result['frozen_blocks']} layer pair(s) too dense to randomise were kept as they are[/yellow]"
        )
    if weights is not None:
        signed = result["signed"]
        console.print(f"structural balance {signed['balance']:.3f} (balanced share of signed feed-forward triads "
                      f"and bi-fans); by sign: " + "; ".join(
                          f"{name} {patterns}" for name, patterns in signed.items() if name != "balance"))
    if args.out:
        Console(stderr=True).print(f"census → {args.out}")
    return 0
