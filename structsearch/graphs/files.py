"""Genotypes of any family from bytes and files: the family is read from the data (``"kind": "cnn"``
in JSON, the stage arrays in npz), so stores, jobs, studies and ``train --genotype`` take either."""

from __future__ import annotations

from pathlib import Path

from structsearch.graphs.cnn import ConvGenotype
from structsearch.graphs.genotype_file import parse_genotype, read_bytes
from structsearch.graphs.layered import LayeredGraph


def _family(data: bytes | dict):
    """The genotype class of an npz blob or a JSON object."""
    if isinstance(data, dict):
        return ConvGenotype if data.get("kind") == "cnn" else LayeredGraph
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return ConvGenotype if "ops0.npy" in archive.namelist() else LayeredGraph
    except (zipfile.BadZipFile, OSError, EOFError):
        return LayeredGraph  # its reader names the damage


def genotype_from_bytes(blob: bytes, source: str = "genotype"):
    return _family(blob).from_bytes(blob, source)


def load_genotype(path: str | Path, validate: bool = True):
    """A genotype file of any family."""
    path = Path(path)
    return parse_genotype(read_bytes(path), path, _family, validate)
