"""``structsearch export``: a trained network as a plain-PyTorch program or an ONNX file."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from structsearch.commands._options import add_data_options
from structsearch.errors import DataError
from structsearch.export import FORMATS, example_inputs, export, size
from structsearch.limits import format_size
from structsearch.pipeline import load_trained_model
from structsearch.runs import check_out
from structsearch.store import STORE_NAME


def add_parser(commands) -> None:
    parser = commands.add_parser("export", help="export a trained network to run without structsearch "
                                                "(torch.export program or ONNX)")
    parser.add_argument("model", metavar="MODEL_OR_RUN",
                        help="a run directory of `structsearch train --save-model` or `structsearch prune`")
    parser.add_argument("--to", required=True, choices=FORMATS, help="torch: a torch.export program (.pt2); "
                                                                    "onnx: an ONNX file with dense weights")
    parser.add_argument("--out", required=True, help="the file to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    add_data_options(parser)


def run(args) -> int:
    out = check_out(args.out, args.overwrite)
    source = Path(args.model)
    if (source / STORE_NAME).is_file() and not (source / "model.pt").is_file():
        raise DataError(f"{source}: a search run stores no trained network; train its pick first "
                        f"(structsearch train --genotype {source / 'best-genotype.json'} --save-model)")
    _, task, model = load_trained_model(source, args.data_dir)
    inputs = example_inputs(model, task)
    path = export(model, inputs, args.to, out)
    shapes = ", ".join(f"({'batch, ' + ', '.join(map(str, a.shape[1:])) if a.dim() > 1 else 'batch'}) "
                       f"{str(a.dtype).removeprefix('torch.')}" for a in inputs)
    Console(stderr=True).print(f"{path}: {args.to}, {format_size(path.stat().st_size)}, "
                               f"{size(model)}; inputs {shapes}")
    return 0
