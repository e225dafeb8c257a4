"""Genotype files, one rule for every genotype family: ``.npz`` (compressed arrays, never pickle) or
JSON by suffix, read back with a one-line :class:`DataError` for a file that is not a genotype or
is not a valid one.  A family supplies ``to_bytes``/``from_bytes``, ``to_dict``/``from_dict`` and
``violations``; :func:`genotype_from_dict` and :func:`genotype_from_bytes` pick the family from the
data (``"kind": "cnn"`` in JSON, the stage arrays in npz), so stores and ``train --genotype`` take
either."""

from __future__ import annotations

import json
from pathlib import Path

from structsearch.errors import DataError


class GenotypeFile:
    """``save`` and ``load`` for a genotype class (a mixin)."""

    def save(self, path: str | Path) -> Path:
        """Write ``.json`` or ``.npz`` (by suffix)."""
        path = Path(path)
        if path.suffix == ".npz":
            path.write_bytes(self.to_bytes())
        else:
            path.write_text(json.dumps(self.to_dict()))
        return path

    @classmethod
    def load(cls, path: str | Path, validate: bool = True):
        """Read a genotype file; a file that is not one, or is not valid, is a DataError."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise DataError(f"{path}: cannot read ({error.strerror or error})") from None
        if path.suffix == ".npz" or raw[:2] == b"PK":
            genotype = cls.from_bytes(raw, str(path))
        else:
            try:
                data = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise DataError(f"{path}: not valid JSON ({error})") from None
            if not isinstance(data, dict):
                raise DataError(f"{path}: not a structsearch genotype (expected a JSON object)")
            genotype = cls.from_dict(data, str(path))
        if validate:
            problems = genotype.violations()
            if problems:
                raise DataError(f"{path}: invalid genotype: {problems[0]}")
        return genotype


def _family(is_cnn: bool):
    if is_cnn:
        from structsearch.graphs.cnn import ConvGenotype

        return ConvGenotype
    from structsearch.graphs.layered import LayeredGraph

    return LayeredGraph


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
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror or error})") from None
    if path.suffix == ".npz" or raw[:2] == b"PK":
        return _family(_is_cnn_archive(raw)).load(path, validate)
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None  # the family's reader names the problem
    return _family(isinstance(data, dict) and data.get("kind") == "cnn").load(path, validate)
