"""Priors for convolutional genotypes, each output valid.

- :func:`randwire`: randomly wired stages (Xie et al. 2019): per stage a Watts–Strogatz,
  Barabási–Albert or Erdős–Rényi graph from networkx, oriented by node order as the layered priors
  are (:func:`structsearch.graphs.dag.orient`); vertex 0 feeds every source of the DAG; every vertex is
  a ReLU–conv–BN of the stage's width with weighted-sum aggregation.
- :func:`random_dag`: Stier et al.'s random DAGs within a depth range: levels of one to a few
  vertices, each fed by a vertex of the level below and, with ``skip_probability``, by any vertex of
  a lower level; operations and channel counts drawn per vertex.
"""

from __future__ import annotations

import warnings

import networkx as nx
import numpy as np

from structsearch.errors import ConfigError
from structsearch.graphs.cnn import INPUT, OPERATIONS, ConvGenotype, Stage, repair_stage
from structsearch.graphs.dag import orient
from structsearch.graphs.priors import _seed
from structsearch.registry import Registry

# each RandWire prior → the random-graph family of its stages
RANDWIRE_GRAPHS = {"randwire-ws": "watts-strogatz", "randwire-ba": "barabasi-albert", "randwire-er": "erdos-renyi"}


def _undirected(graph: str, n: int, rng: np.random.Generator, k: int, p: float, m: int) -> np.ndarray:
    if graph == "watts-strogatz":
        if not 1 <= k < n:
            raise ConfigError(f"randwire watts-strogatz needs 1 ≤ k < nodes, got k={k}, nodes={n}")
        g = nx.watts_strogatz_graph(n, k, p, seed=_seed(rng))
    elif graph == "barabasi-albert":
        if not 1 <= m < n:
            raise ConfigError(f"randwire barabasi-albert needs 1 ≤ m < nodes, got m={m}, nodes={n}")
        g = nx.barabasi_albert_graph(n, m, seed=_seed(rng))
    elif graph == "erdos-renyi":
        g = nx.gnp_random_graph(n, p, seed=_seed(rng))
    else:
        raise ConfigError(f"randwire graph must be one of {', '.join(RANDWIRE_GRAPHS.values())}, got {graph!r}")
    return np.array(list(g.edges()), dtype=np.int64).reshape(-1, 2)


def randwire(nodes: list[int], widths: list[int], rng: np.random.Generator, graph: str = "watts-strogatz",
             k: int = 4, p: float = 0.75, m: int = 5, in_channels: int = 1, n_classes: int = 10,
             op: str = "conv3") -> ConvGenotype:
    """Stages of ``nodes[i]`` randomly wired vertices of ``widths[i]`` channels (RandWire: WS with
    k = 4, p = 0.75 matched hand-designed networks).  ``p`` is the rewiring probability for WS and
    the edge probability for ER."""
    if len(nodes) != len(widths) or not nodes:
        raise ConfigError(f"randwire needs as many stage sizes as widths, got {nodes} and {widths}")
    if min(nodes) < 2 or min(widths) < 1:
        raise ConfigError(f"randwire stages need ≥ 2 vertices and ≥ 1 channel, got {nodes} and {widths}")
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"randwire p must lie in [0, 1], got {p}")
    if op not in OPERATIONS:
        raise ConfigError(f"unknown operation {op!r} (known: {', '.join(OPERATIONS)})")
    stages = []
    for n, width in zip(nodes, widths, strict=True):
        src, dst = orient(n, _undirected(graph, n, rng, k, p, m))
        src, dst = src + 1, dst + 1  # vertex 0 is the stage input
        sources = np.setdiff1d(np.arange(1, n + 1), dst)
        stage = Stage((INPUT, *[op] * n), np.full(n + 1, width), np.concatenate([np.zeros(sources.size,
                                                                                        dtype=np.int64), src]),
                      np.concatenate([sources, dst]))
        stages.append(repair_stage(stage, rng))
    return ConvGenotype(tuple(stages), in_channels, n_classes).validate()


def random_dag(depth: tuple[int, int], rng: np.random.Generator, width: tuple[int, int] = (1, 3),
               channels: tuple[int, int] = (16, 64), stages: int = 1, operations: tuple[str, ...] = OPERATIONS,
               skip_probability: float = 0.2, in_channels: int = 1, n_classes: int = 10) -> ConvGenotype:
    """Stier et al.'s random labelled DAGs: per stage a depth in ``depth`` (levels of vertices), a
    width per level in ``width``, a random operation per vertex and channel counts in ``channels``
    (multiples of 8 where the range allows)."""
    low, high = depth
    if not 1 <= low <= high:
        raise ConfigError(f"random_dag depth must be 1 ≤ low ≤ high, got {list(depth)}")
    if not 1 <= width[0] <= width[1] or not 1 <= channels[0] <= channels[1]:
        raise ConfigError(f"random_dag width and channels must be ranges of positive integers, got "
                          f"{list(width)} and {list(channels)}")
    if stages < 1:
        raise ConfigError(f"random_dag needs at least one stage, got {stages}")
    unknown = [op for op in operations if op not in OPERATIONS]
    if unknown or not operations:
        raise ConfigError(f"unknown operation {unknown[0] if unknown else '(none given)'!r} "
                          f"(known: {', '.join(OPERATIONS)})")
    if not 0.0 <= skip_probability <= 1.0:
        raise ConfigError(f"skip_probability must lie in [0, 1], got {skip_probability}")

    def draw_channels() -> int:
        c = int(rng.integers(channels[0], channels[1] + 1))
        rounded = 8 * round(c / 8)
        return rounded if channels[0] <= rounded <= channels[1] else c

    built = []
    for _ in range(stages):
        levels = [[0]]
        for _ in range(int(rng.integers(low, high + 1))):
            start = levels[-1][-1] + 1
            levels.append(list(range(start, start + int(rng.integers(width[0], width[1] + 1)))))
        n = levels[-1][-1] + 1
        src, dst = [], []
        for li in range(1, len(levels)):
            earlier = [u for level in levels[: li - 1] for u in level]
            for v in levels[li]:
                src.append(int(rng.choice(levels[li - 1])))
                dst.append(v)
                for u in earlier:
                    if rng.random() < skip_probability:
                        src.append(u)
                        dst.append(v)
        ops = (INPUT, *[str(rng.choice(operations)) for _ in range(n - 1)])
        stage_width = draw_channels()
        chans = [stage_width] + [draw_channels() for _ in range(n - 1)]
        built.append(repair_stage(Stage(ops, np.array(chans), np.array(src), np.array(dst)), rng))
    return ConvGenotype(tuple(built), in_channels, n_classes).validate()


def randwire_ws(nodes: list[int], widths: list[int], rng: np.random.Generator, k: int = 4, p: float = 0.75,
                in_channels: int = 1, n_classes: int = 10) -> ConvGenotype:
    """RandWire stages wired as Watts–Strogatz graphs (Xie et al. 2019: k = 4, p = 0.75)."""
    return randwire(nodes, widths, rng, "watts-strogatz", k=k, p=p, in_channels=in_channels, n_classes=n_classes)


def randwire_ba(nodes: list[int], widths: list[int], rng: np.random.Generator, m: int = 5, in_channels: int = 1,
                n_classes: int = 10) -> ConvGenotype:
    """RandWire stages wired as Barabási–Albert graphs (``m`` edges per new vertex)."""
    return randwire(nodes, widths, rng, "barabasi-albert", m=m, in_channels=in_channels, n_classes=n_classes)


def randwire_er(nodes: list[int], widths: list[int], rng: np.random.Generator, p: float = 0.2,
                in_channels: int = 1, n_classes: int = 10) -> ConvGenotype:
    """RandWire stages wired as Erdős–Rényi graphs (edge probability ``p``)."""
    return randwire(nodes, widths, rng, "erdos-renyi", p=p, in_channels=in_channels, n_classes=n_classes)


def __getattr__(name: str):
    """``CONV_PRIORS`` of 0.2 (the builders by name); the convolutional priors now live with their family
    (``structsearch.families.FAMILIES["cnn"].priors``). It works until structsearch 0.3."""
    if name != "CONV_PRIORS":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    warnings.warn("structsearch.graphs.cnn_priors.CONV_PRIORS is deprecated; use "
                  "structsearch.families.FAMILIES['cnn'].priors; it works until structsearch 0.3",
                  DeprecationWarning, stacklevel=2)
    return Registry("convolutional prior", {"randwire-ws": randwire_ws, "randwire-ba": randwire_ba,
                                            "randwire-er": randwire_er, "random-dag": random_dag})
