"""``GenotypeFile``: one rule for every genotype family's files — ``.npz`` (compressed arrays, never
pickle) or JSON by suffix, read back with a one-line :class:`DataError` for a file that is not a
genotype or is not a valid one.  A family supplies ``to_bytes``/``from_bytes``,
``to_dict``/``from_dict`` and ``violations``."""

from __future__ import annotations

import json
from pathlib import Path

from structsearch.errors import DataError
from structsearch.limits import parse_json, read_bounded


def read_bytes(path: Path) -> bytes:
    """A genotype file's bytes: a regular file within the genotype size limit (``limits``)."""
    return read_bounded(path, "genotype")


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
        return parse_genotype(read_bytes(path), path, lambda _: cls, validate)


def parse_genotype(raw: bytes, path: Path, family, validate: bool = True):
    """The genotype in a file's bytes: npz by suffix or zip signature, else JSON; ``family(blob or
    dict)`` names the class that reads it."""
    if path.suffix == ".npz" or raw[:2] == b"PK":
        genotype = family(raw).from_bytes(raw, str(path))
    else:
        data = parse_json(raw, path)
        if not isinstance(data, dict):
            raise DataError(f"{path}: not a structsearch genotype (expected a JSON object)")
        genotype = family(data).from_dict(data, str(path))
    if validate:
        problems = genotype.violations()
        if problems:
            raise DataError(f"{path}: invalid genotype: {problems[0]}")
    return genotype
