"""Genotypes of any family from bytes, dicts and files: :func:`genotype_from_dict` and
:func:`genotype_from_bytes` pick the family from the data (``"kind": "cnn"`` in JSON, the stage arrays
in npz), so stores and ``train --genotype`` take either."""

from __future__ import annotations

import json
from pathlib import Path

from structsearch.graphs.cnn import ConvGenotype
from structsearch.graphs.genotype_file import read_bytes
from structsearch.graphs.layered import LayeredGraph


def _family(is_cnn: bool):
    return ConvGenotype if is_cnn else LayeredGraph


def _is_cnn_archive(blob: bytes) -> bool:
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            return "ops0.npy" in archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError):
        return False  # the family's own reader names the damage


def genotype_from_dict(data: dict, source: str = "genotype"):
    return _family(isinstance(data, dict) and data.get("kind") == "cnn").from_dict(data, source)


def genotype_from_bytes(blob: bytes, source: str = "genotype"):
    return _family(_is_cnn_archive(blob)).from_bytes(blob, source)


def load_genotype(path: str | Path, validate: bool = True):
    """A genotype file of any family."""
    path = Path(path)
    raw = read_bytes(path)
    if path.suffix == ".npz" or raw[:2] == b"PK":
        return _family(_is_cnn_archive(raw)).load(path, validate)
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None  # the family's reader names the problem
    return _family(isinstance(data, dict) and data.get("kind") == "cnn").load(path, validate)
