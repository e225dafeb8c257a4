"""Operators on convolutional genotypes (Stier et al. 2021, §4.4): two mutations and three crossovers.

Mutations ``(genotype, rng) -> genotype``:
- ``relabel``: one vertex gets another operation;
- ``insert-subgraph``: an edge u → v becomes a depth-2 subgraph u → {a₁, …} → b → v of new vertices
  (random operations, v's channel count).

Crossovers ``(a, b, rng) -> (child, child)``, on a stage both parents have:
- ``subpath-swap``: the operations and channel counts along each parent's longest simple path from
  the stage input are swapped, position by position;
- ``bridge``: the head (the lowest vertex ids) of one parent joined to the tail of the other, every
  sink of the head feeding a source of the tail;
- ``matching-layers``: vertices matched by depth; each takes its operation from either parent and the
  mean of the two parents' feature-map counts at that depth.

Every output is valid (vertex ids stay topological; a vertex left without input is repaired).
"""

from __future__ import annotations

import numpy as np

from structsearch.graphs.cnn import OPERATIONS, ConvGenotype, Stage, repair_stage
from structsearch.registry import Registry


def _stage_index(genotype: ConvGenotype, rng: np.random.Generator) -> int:
    return int(rng.integers(len(genotype.stages)))


def relabel(genotype: ConvGenotype, rng: np.random.Generator, operations: tuple[str, ...] = OPERATIONS
            ) -> ConvGenotype:
    """Give one vertex of a random stage another operation (and its channel count with it)."""
    i = _stage_index(genotype, rng)
    stage = genotype.stages[i]
    v = int(rng.integers(1, stage.n_nodes))
    choices = [op for op in operations if op != stage.ops[v]]
    if not choices:
        return genotype
    ops = list(stage.ops)
    ops[v] = str(rng.choice(choices))
    return genotype.with_stage(i, Stage(tuple(ops), stage.channels, stage.src, stage.dst))


def insert_subgraph(genotype: ConvGenotype, rng: np.random.Generator, max_width: int = 2,
                    operations: tuple[str, ...] = OPERATIONS) -> ConvGenotype:
    """Replace one edge of a random stage by a depth-2 subgraph of 1…``max_width`` new vertices per level."""
    i = _stage_index(genotype, rng)
    stage = genotype.stages[i]
    e = int(rng.integers(stage.n_edges))
    u, v = int(stage.src[e]), int(stage.dst[e])
    w = int(rng.integers(1, max_width + 1))
    new = w + 1  # w vertices on the first level, one on the second; ids v … v + w, then v moves on
    shift = lambda ids: np.where(ids >= v, ids + new, ids)  # noqa: E731
    keep = np.ones(stage.n_edges, dtype=bool)
    keep[e] = False
    first = np.arange(v, v + w)
    second = v + w
    src = np.concatenate([shift(stage.src[keep]), np.full(w, u), first, [second]])
    dst = np.concatenate([shift(stage.dst[keep]), first, np.full(w, second), [v + new]])
    ops = (*stage.ops[:v], *[str(rng.choice(operations)) for _ in range(new)], *stage.ops[v:])
    channels = np.concatenate([stage.channels[:v], np.full(new, stage.channels[v]), stage.channels[v:]])
    return genotype.with_stage(i, Stage(ops, channels, src, dst))


def longest_path(stage: Stage) -> list[int]:
    """The vertices after the input on a longest path from vertex 0 (ties: lowest ids)."""
    best = np.zeros(stage.n_nodes, dtype=np.int64)
    back = np.full(stage.n_nodes, -1)
    for v, preds in enumerate(stage.predecessors()):
        if preds:
            u = max(preds, key=lambda p: (best[p], -p))
            best[v], back[v] = best[u] + 1, u
    path, v = [], int(np.argmax(best))
    while v > 0:
        path.append(v)
        v = int(back[v])
    return path[::-1]


def _common_stage(a: ConvGenotype, b: ConvGenotype, rng: np.random.Generator) -> int:
    return int(rng.integers(min(len(a.stages), len(b.stages))))


def subpath_swap(a: ConvGenotype, b: ConvGenotype, rng: np.random.Generator) -> tuple[ConvGenotype, ConvGenotype]:
    """Exchange the operations and widths along the two parents' longest paths of one stage."""
    i = _common_stage(a, b, rng)
    sa, sb = a.stages[i], b.stages[i]
    pa, pb = longest_path(sa), longest_path(sb)
    n = min(len(pa), len(pb))

    def take(host: Stage, path: list[int], donor: Stage, donor_path: list[int]) -> Stage:
        ops, channels = list(host.ops), host.channels.copy()
        for v, d in zip(path[:n], donor_path[:n], strict=True):
            ops[v], channels[v] = donor.ops[d], donor.channels[d]
        return Stage(tuple(ops), channels, host.src, host.dst)

    return a.with_stage(i, take(sa, pa, sb, pb)), b.with_stage(i, take(sb, pb, sa, pa))


def _join(head: Stage, cut_head: int, tail: Stage, cut_tail: int, rng: np.random.Generator) -> Stage:
    """Vertices 0 … cut_head − 1 of ``head`` followed by vertices cut_tail … of ``tail``."""
    keep_h = head.dst < cut_head
    keep_t = tail.src >= cut_tail
    offset = cut_head - cut_tail
    src = [head.src[keep_h], tail.src[keep_t] + offset]
    dst = [head.dst[keep_h], tail.dst[keep_t] + offset]
    has_successor = np.zeros(cut_head, dtype=bool)
    has_successor[head.src[keep_h]] = True
    head_sinks = [v for v in range(cut_head) if not has_successor[v]]
    fed = np.zeros(tail.n_nodes, dtype=bool)
    fed[tail.dst[keep_t]] = True
    tail_sources = [v + offset for v in range(cut_tail, tail.n_nodes) if not fed[v]]
    for v in head_sinks:  # the head flows into the tail
        src.append(np.array([v]))
        dst.append(np.array([int(rng.choice(tail_sources))]))
    for t in tail_sources:  # and every source of the tail is fed
        src.append(np.array([int(rng.choice(head_sinks))]))
        dst.append(np.array([t]))
    ops = (*head.ops[:cut_head], *tail.ops[cut_tail:])
    channels = np.concatenate([head.channels[:cut_head], tail.channels[cut_tail:]])
    return repair_stage(Stage(ops, channels, np.concatenate(src), np.concatenate(dst)), rng)


def bridge(a: ConvGenotype, b: ConvGenotype, rng: np.random.Generator) -> tuple[ConvGenotype, ConvGenotype]:
    """Join one parent's head of a stage to the other's tail, and the other way round."""
    i = _common_stage(a, b, rng)
    sa, sb = a.stages[i], b.stages[i]
    ca, cb = int(rng.integers(1, sa.n_nodes)), int(rng.integers(1, sb.n_nodes))
    return a.with_stage(i, _join(sa, ca, sb, cb, rng)), b.with_stage(i, _join(sb, cb, sa, ca, rng))


def matching_layers(a: ConvGenotype, b: ConvGenotype, rng: np.random.Generator
                    ) -> tuple[ConvGenotype, ConvGenotype]:
    """Match one stage's vertices by depth: the operation from either parent, the feature-map counts averaged."""
    i = _common_stage(a, b, rng)
    sa, sb = a.stages[i], b.stages[i]
    da, db = sa.depth(), sb.depth()

    def child(host: Stage, host_depth: np.ndarray, other: Stage, other_depth: np.ndarray) -> Stage:
        ops, channels = list(host.ops), host.channels.copy()
        for v in range(host.n_nodes):
            match = np.flatnonzero(other_depth == host_depth[v])
            match = match[match > 0] if v > 0 else match[:1]
            if not match.size:
                continue
            if v > 0 and rng.random() < 0.5:
                ops[v] = other.ops[int(rng.choice(match))]
            channels[v] = max(1, int(round((host.channels[v] + other.channels[match].mean()) / 2)))
        return Stage(tuple(ops), channels, host.src, host.dst)

    return a.with_stage(i, child(sa, da, sb, db)), b.with_stage(i, child(sb, db, sa, da))


CNN_MUTATIONS = Registry("convolutional mutation", {"relabel": relabel, "insert-subgraph": insert_subgraph})
CNN_CROSSOVERS = Registry("convolutional crossover", {"subpath-swap": subpath_swap, "bridge": bridge,
                                                      "matching-layers": matching_layers})
