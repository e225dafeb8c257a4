"""Small connection patterns of layered graphs, placed and counted layer-aware.

Each motif is a tiny layered graph: its nodes sit at layer offsets 0, 1, 2 from a base layer and
its edges go downward.  The catalogue:

========== ============================ =============================================
name       pattern                      where it comes from
========== ============================ =============================================
v          two sources → one target     the unit of SET-motif (Su 2022)
fan-out    one source → two targets     its mirror image
bi-fan     two sources → two targets    Milo et al. (2002)
chain      a → b → c across 3 layers    the shortest deep path
ffl-skip   a → b → c plus a → c         the feed-forward loop, closed by a skip edge
========== ============================ =============================================

Counts use sparse matrix algebra on the layer blocks (no subgraph enumeration), so they scale to
graphs with hundreds of thousands of edges.  ``v`` and ``fan-out`` count pairs of edges that share
a target (source) and whose other ends lie in one layer; ``bi-fan`` counts pairs of sources in one
layer sharing pairs of targets in one layer; ``chain`` counts length-2 paths through consecutive
layers; ``ffl-skip`` counts (a, b, c) with all three edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from structsearch.errors import DataError
from structsearch.graphs.layered import LayeredGraph
from structsearch.limits import parse_json, read_bounded
from structsearch.registry import Registry


@dataclass(frozen=True)
class Motif:
    name: str
    offsets: tuple[int, ...]  # layer offset of each motif node from the base layer
    edges: tuple[tuple[int, int], ...]

    @property
    def span(self) -> int:
        return max(self.offsets)


MOTIFS: Registry[Motif] = Registry("motif", {
    m.name: m
    for m in (
        Motif("v", (0, 0, 1), ((0, 2), (1, 2))),
        Motif("fan-out", (0, 1, 1), ((0, 1), (0, 2))),
        Motif("bi-fan", (0, 0, 1, 1), ((0, 2), (0, 3), (1, 2), (1, 3))),
        Motif("chain", (0, 1, 2), ((0, 1), (1, 2))),
        Motif("ffl-skip", (0, 1, 2), ((0, 1), (1, 2), (0, 2))),
    )
})


def motif(name: str) -> Motif:
    return MOTIFS.lookup(name)


def place_motif(graph: LayeredGraph, pattern: Motif, base_layer: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """Edges of one instance of ``pattern`` on existing nodes with its base at ``base_layer``.

    Nodes are drawn at random among the nodes of each layer (distinct within a layer).  Returns
    ``None`` when a layer has too few nodes.  The base layer may be the input layer; the deepest
    may be the output layer.
    """
    chosen = np.empty(len(pattern.offsets), dtype=np.int64)
    for offset in set(pattern.offsets):
        slots = [i for i, o in enumerate(pattern.offsets) if o == offset]
        pool = np.flatnonzero(graph.layers == base_layer + offset)
        if pool.size < len(slots):
            return None
        chosen[slots] = rng.choice(pool, len(slots), replace=False)
    edges = np.array(pattern.edges)
    return chosen[edges[:, 0]], chosen[edges[:, 1]]


def _pairs(counts: np.ndarray) -> int:
    counts = counts.astype(np.int64)
    return int((counts * (counts - 1) // 2).sum())


def count_motifs(graph: LayeredGraph) -> dict[str, int]:
    """Instances of every catalogue motif in ``graph``."""
    n = graph.n_nodes
    layers, src, dst = graph.layers, graph.src, graph.dst
    L = int(layers.max(initial=0)) + 1
    # v: edges grouped by (target, source layer); fan-out: by (source, target layer)
    v = _pairs(np.unique(dst * L + layers[src], return_counts=True)[1]) if src.size else 0
    fan_out = _pairs(np.unique(src * L + layers[dst], return_counts=True)[1]) if src.size else 0
    adjacency = sp.csr_matrix((np.ones(src.size, dtype=np.int64), (src, dst)), shape=(n, n))
    # bi-fan: per target layer, pairs of same-layer sources sharing k targets there give C(k, 2)
    bi_fan = 0
    by_column = adjacency.tocsc()
    for b in np.unique(layers[dst]):
        block = by_column[:, np.flatnonzero(layers == b)]
        shared = sp.triu(block @ block.T, k=1).tocoo()
        same_layer = layers[shared.row] == layers[shared.col]
        bi_fan += _pairs(shared.data[same_layer])
    step = layers[dst] - layers[src]
    adjacent = step == 1
    chain = int((np.bincount(dst[adjacent], minlength=n) * np.bincount(src[adjacent], minlength=n)).sum())
    two_paths = adjacency @ adjacency
    ffl = int(two_paths.multiply(adjacency).sum())
    return {"v": v, "fan-out": fan_out, "bi-fan": bi_fan, "chain": chain, "ffl-skip": ffl}

CENSUS_FORMAT = "structsearch.MotifCensus/1"


def load_census(path: str | Path) -> dict:
    """A census file; one that does not match this catalogue is a one-line error."""
    path = Path(path)

    data = parse_json(read_bounded(path, "json"), path)
    if not isinstance(data, dict) or data.get("format") != CENSUS_FORMAT or not isinstance(data.get("motifs"), dict):
        raise DataError(f"{path}: not a structsearch motif census (format {CENSUS_FORMAT})")
    unknown = sorted(set(data["motifs"]) - set(MOTIFS))
    missing = sorted(set(MOTIFS) - set(data["motifs"]))
    if unknown or missing:
        what = f"unknown motif {unknown[0]!r}" if unknown else f"no entry for motif {missing[0]!r}"
        raise DataError(f"{path}: does not match the motif catalogue ({what}; the catalogue is "
                        f"{', '.join(MOTIFS)})")
    for name, entry in data["motifs"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("z"), int | float):
            raise DataError(f"{path}: motif {name!r} has no numeric z-score")
    return data


def motif_mix(data: dict, source: str = "census") -> dict[str, float]:
    """The over-represented motifs (z > 0), weighted by their z-score."""
    mix = {name: float(entry["z"]) for name, entry in data["motifs"].items()
           if np.isfinite(entry["z"]) and entry["z"] > 0}
    if not mix:
        raise DataError(f"{source}: no motif is over-represented (every z ≤ 0); nothing to build from")
    return mix
