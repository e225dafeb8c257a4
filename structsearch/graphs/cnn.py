"""``ConvGenotype``: a convolutional network as labelled DAGs, one per stage.

The genotype of Stier et al. (2021, §4.4, after Irwin-Harris et al.) and of randomly wired networks
(Xie et al. 2019).  A network is a stem, a sequence of **stages** and a head:

- the stem is a 3×3 convolution to the first stage's width, then batch norm;
- each stage is a DAG whose vertices carry an **operation** and a **channel count**.  Vertex 0 is the
  stage's input (for a later stage: ReLU, a 3×3 convolution of stride 2 and batch norm on the previous
  stage's output, the reduction that halves the resolution); every other vertex aggregates its
  predecessors and applies its operation; the stage's output is the mean of its sinks;
- the head is global average pooling and a linear layer.

Vertices are numbered in topological order (every edge goes from a lower to a higher id), so a
stage is three arrays and a tuple of labels, cheap to copy, hash and store.  Operations:

=========== ===========================================================================
``conv<k>``   ReLU, k×k convolution (padding k // 2), batch norm — RandWire's node; the
              priors and mutations draw conv3, conv5 and conv7, a genotype may hold any odd k
``maxpool``   3×3 max pooling, stride 1 (the resolution changes only between stages)
``avgpool``   3×3 average pooling, stride 1
``sum``       the aggregate itself
``skip``      the aggregate itself, kept apart from ``sum`` as Irwin-Harris's identity vertex
``concat``    the predecessors concatenated along channels, then a 1×1 convolution
=========== ===========================================================================

Aggregation (every operation but ``concat``) is RandWire's weighted sum with learned positive
weights (a sigmoid of one parameter per edge) where a vertex has two or more predecessors.  A
positive scale before ReLU–conv–BN is undone by the batch norm, so a convolution's weights only
matter relative to each other: its first input enters with weight 1 and the others with ``exp`` of
one parameter each (the same functions, one weight and its work fewer; see
:func:`aggregation_weights`), and a vertex with one predecessor takes it as it is.  A predecessor
whose channel count differs from the vertex's is first projected by a 1×1 convolution.
:func:`parameter_count` counts the decoded model's parameters from the genotype alone.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, replace

import numpy as np

from structsearch.errors import DataError
from structsearch.graphs.genotype_file import GenotypeFile
from structsearch.graphs.layered import InvalidGraph

OPERATIONS = ("conv3", "conv5", "conv7", "maxpool", "avgpool", "sum", "concat", "skip")
INPUT = "input"


def kernel_size(op: str) -> int | None:
    """The kernel size of a convolution ``conv<k>`` (any odd k ≥ 1 is allowed), else None."""
    return int(op[4:]) if op.startswith("conv") and op[4:].isdigit() else None


def operation_problem(op: str) -> str | None:
    """Why ``op`` is not an operation a vertex can carry, or None."""
    k = kernel_size(op)
    if k is not None:
        return None if k % 2 == 1 else f"operation {op!r}: a kernel size must be odd, got {k}"
    if op not in OPERATIONS:
        return f"unknown operation {op!r} (known: {', '.join(OPERATIONS)}, or conv<k> for any odd k)"
    return None


@dataclass(frozen=True, eq=False)
class Stage:
    """One stage's labelled DAG: an operation and a channel count per vertex, edges ``src → dst``
    with ``src < dst``.  Vertex 0 is the stage input (operation ``"input"``); its channel count is
    the stage's width."""

    ops: tuple[str, ...]
    channels: np.ndarray
    src: np.ndarray
    dst: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "ops", tuple(str(op) for op in self.ops))
        for name in ("channels", "src", "dst"):
            array = np.ascontiguousarray(getattr(self, name), dtype=np.int64).reshape(-1)
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    @property
    def n_nodes(self) -> int:
        return len(self.ops)

    @property
    def n_edges(self) -> int:
        return int(self.src.size)

    @property
    def width(self) -> int:
        return int(self.channels[0])

    def predecessors(self) -> list[list[int]]:
        preds: list[list[int]] = [[] for _ in range(self.n_nodes)]
        for u, v in zip(self.src.tolist(), self.dst.tolist(), strict=True):
            preds[v].append(u)
        return preds

    def successors(self) -> list[list[int]]:
        succs: list[list[int]] = [[] for _ in range(self.n_nodes)]
        for u, v in zip(self.src.tolist(), self.dst.tolist(), strict=True):
            succs[u].append(v)
        return succs

    def sinks(self) -> list[int]:
        """Vertices without successors (vertex 0 only when it is alone): their mean is the output."""
        has_successor = np.zeros(self.n_nodes, dtype=bool)
        has_successor[self.src] = True
        return [v for v in range(self.n_nodes) if not has_successor[v] and (v > 0 or self.n_nodes == 1)]

    def depth(self) -> np.ndarray:
        """Longest-path depth of every vertex from vertex 0 (vertex ids are topological)."""
        depth = np.zeros(self.n_nodes, dtype=np.int64)
        for v, preds in enumerate(self.predecessors()):
            if preds:
                depth[v] = 1 + max(depth[u] for u in preds)
        return depth

    def violations(self) -> list[str]:
        problems = []
        if self.n_nodes < 2:
            problems.append(f"a stage needs its input and at least one vertex, got {self.n_nodes} vertices")
        if self.channels.size != self.n_nodes:
            problems.append(f"{self.channels.size} channel counts for {self.n_nodes} vertices")
        elif self.channels.size and self.channels.min() < 1:
            problems.append(f"channel counts must be ≥ 1, got {int(self.channels.min())}")
        if self.ops and self.ops[0] != INPUT:
            problems.append(f"vertex 0 must be the stage input, got operation {self.ops[0]!r}")
        problems += sorted({problem for op in self.ops[1:] if (problem := operation_problem(op))})[:1]
        if self.src.size != self.dst.size:
            problems.append("src and dst differ in length")
            return problems
        if self.src.size:
            if self.src.min() < 0 or self.dst.max() >= self.n_nodes:
                problems.append(f"an edge names a vertex outside 0…{self.n_nodes - 1}")
                return problems
            backwards = np.flatnonzero(self.src >= self.dst)
            if backwards.size:
                e = int(backwards[0])
                problems.append(f"edge {int(self.src[e])} → {int(self.dst[e])} does not go to a higher vertex id: "
                                "ids are topological, so this would close a cycle")
            if np.unique(self.src * self.n_nodes + self.dst).size != self.src.size:
                problems.append("duplicate edges")
        indegree = np.bincount(self.dst, minlength=self.n_nodes)
        orphans = np.flatnonzero(indegree[1:] == 0) + 1
        if orphans.size:
            problems.append(f"vertex {int(orphans[0])} has no input: it cannot be reached from the stage input")
        return problems

    def to_dict(self) -> dict:
        return {"ops": list(self.ops), "channels": self.channels.tolist(), "src": self.src.tolist(),
                "dst": self.dst.tolist()}


@dataclass(frozen=True, eq=False)
class ConvGenotype(GenotypeFile):
    """A convolutional network: stages of labelled DAGs between ``in_channels`` image channels and
    ``n_classes`` outputs.  Immutable: operators return new genotypes."""

    stages: tuple[Stage, ...]
    in_channels: int = 1
    n_classes: int = 10

    def __post_init__(self):
        object.__setattr__(self, "stages", tuple(self.stages))

    # ------------------------------------------------------------------ sizes

    @property
    def n_nodes(self) -> int:
        return sum(stage.n_nodes for stage in self.stages)

    @property
    def n_edges(self) -> int:
        return sum(stage.n_edges for stage in self.stages)

    @property
    def connections(self) -> int:
        """The decoded model's size that NSGA-II minimises: its parameter count."""
        return parameter_count(self)

    def with_stage(self, index: int, stage: Stage) -> ConvGenotype:
        stages = list(self.stages)
        stages[index] = stage
        return replace(self, stages=tuple(stages))

    def operation_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OPERATIONS, 0)
        for stage in self.stages:
            for op in stage.ops[1:]:
                counts[op] = counts.get(op, 0) + 1
        return counts

    def describe(self) -> dict:
        return {"stages": len(self.stages), "vertices": [s.n_nodes for s in self.stages],
                "widths": [s.width for s in self.stages], "edges": self.n_edges,
                "operations": {k: v for k, v in self.operation_counts().items() if v},
                "parameters": parameter_count(self)}

    def summary(self) -> str:
        """One line: vertices and widths per stage, then the operations, most frequent first."""
        counts = sorted(((n, op) for op, n in self.operation_counts().items() if n), reverse=True)
        return ("/".join(str(s.n_nodes - 1) for s in self.stages) + " × " + "-".join(str(s.width) for s in self.stages)
                + ": " + ", ".join(f"{n} {op}" for n, op in counts))

    def __repr__(self) -> str:
        return (f"ConvGenotype({len(self.stages)} stages, {self.n_nodes} vertices, {self.n_edges} edges, "
                f"widths {[s.width for s in self.stages]})")

    # ------------------------------------------------------------------ validity

    def violations(self) -> list[str]:
        problems = []
        if not self.stages:
            problems.append("a convolutional genotype needs at least one stage")
        if self.in_channels < 1 or self.n_classes < 1:
            problems.append(f"in_channels and n_classes must be positive, got {self.in_channels}, {self.n_classes}")
        for i, stage in enumerate(self.stages):
            problems += [f"stage {i}: {problem}" for problem in stage.violations()]
        return problems

    def resolution_problem(self, image_size: tuple[int, int]) -> str | None:
        """Why the reductions between stages would shrink ``image_size`` below 1×1, or None."""
        i = starved_stage(len(self.stages), image_size)
        if i is None:
            return None
        return (f"stage {i}: {i} reduction(s) shrink {image_size[0]}×{image_size[1]} images below 1×1; "
                f"use at most {i} stages")

    def validate(self) -> ConvGenotype:
        problems = self.violations()
        if problems:
            raise InvalidGraph(problems[0])
        return self

    # ------------------------------------------------------------------ serialisation

    def to_dict(self) -> dict:
        return {"kind": "cnn", "in_channels": self.in_channels, "n_classes": self.n_classes,
                "stages": [stage.to_dict() for stage in self.stages]}

    @classmethod
    def from_dict(cls, data: dict, source: str = "genotype") -> ConvGenotype:
        try:
            if data.get("kind") != "cnn":
                raise KeyError("kind")
            stages = tuple(Stage(tuple(s["ops"]), _ints(s["channels"]), _ints(s["src"]), _ints(s["dst"]))
                           for s in data["stages"])
            return cls(stages, int(data["in_channels"]), int(data["n_classes"]))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise DataError(f"{source}: not a convolutional structsearch genotype ({error} missing or malformed)"
                            ) from None

    def to_bytes(self) -> bytes:
        """Compressed npz arrays (never pickle); operations as a unicode array, so any ``conv<k>`` fits."""
        arrays = {"meta": np.array([self.in_channels, self.n_classes, len(self.stages)])}
        for i, stage in enumerate(self.stages):
            arrays[f"ops{i}"] = np.array(stage.ops, dtype=str)
            arrays[f"channels{i}"] = stage.channels.astype(np.int32)
            arrays[f"src{i}"] = stage.src.astype(np.int32)
            arrays[f"dst{i}"] = stage.dst.astype(np.int32)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes, source: str = "genotype") -> ConvGenotype:
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as data:
                in_channels, n_classes, n_stages = (int(v) for v in data["meta"])
                stages = tuple(Stage(tuple(str(op) for op in data[f"ops{i}"]), data[f"channels{i}"],
                                     data[f"src{i}"], data[f"dst{i}"]) for i in range(n_stages))
                return cls(stages, in_channels, n_classes)
        except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile):
            raise DataError(f"{source}: not a compressed convolutional genotype (damaged or not one)") from None

    # ------------------------------------------------------------------ identity

    def content_hash(self, iterations: int = 3) -> str:
        """A Weisfeiler–Lehman hash with operation labels: vertices start from (operation, channels),
        and each round adds the sorted labels of their predecessors and successors.  Renumbering a
        stage's vertices (keeping a topological order) keeps the hash; stage order counts."""
        digest = hashlib.sha256()
        digest.update(f"cnn:{self.in_channels}:{self.n_classes}:{len(self.stages)}".encode())
        for stage in self.stages:
            labels = [f"{op}/{c}" for op, c in zip(stage.ops, stage.channels.tolist(), strict=True)]
            preds, succs = stage.predecessors(), stage.successors()
            for _ in range(iterations):
                labels = [_short(f"{labels[v]}|{sorted(labels[u] for u in preds[v])}|"
                                 f"{sorted(labels[w] for w in succs[v])}") for v in range(stage.n_nodes)]
            digest.update(("stage:" + ",".join(sorted(labels))).encode())
        return digest.hexdigest()[:32]

    def __eq__(self, other) -> bool:
        return (isinstance(other, ConvGenotype) and (self.in_channels, self.n_classes) == (other.in_channels,
                                                                                            other.n_classes)
                and len(self.stages) == len(other.stages)
                and all(a.ops == b.ops and np.array_equal(a.channels, b.channels)
                        and np.array_equal(np.sort(a.src * a.n_nodes + a.dst), np.sort(b.src * b.n_nodes + b.dst))
                        for a, b in zip(self.stages, other.stages, strict=True)))

    __hash__ = None  # use content_hash()


def starved_stage(n_stages: int, image_size: tuple[int, int]) -> int | None:
    """The first of ``n_stages`` stages whose input the stride-2 reductions before it shrink below
    1×1 pixel, or None."""
    h, w = image_size
    for i in range(1, n_stages):
        h, w = h // 2, w // 2
        if min(h, w) < 1:
            return i
    return None


def _short(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _ints(values) -> np.ndarray:
    array = np.asarray(values)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError("integers expected")
    return array.astype(np.int64)


# ---------------------------------------------------------------------- repair


def repair_stage(stage: Stage, rng: np.random.Generator) -> Stage:
    """A valid stage from any edges: self-loops and duplicates dropped, backward edges turned
    forward, and a vertex without an input fed by a random earlier vertex."""
    n = stage.n_nodes
    src, dst = np.minimum(stage.src, stage.dst), np.maximum(stage.src, stage.dst)
    keep = (src != dst) & (src >= 0) & (dst < n)
    keys = np.unique(src[keep] * n + dst[keep])
    src, dst = keys // n, keys % n
    indegree = np.bincount(dst, minlength=n)
    orphans = np.flatnonzero(indegree[1:] == 0) + 1
    if orphans.size:
        extra = np.array([rng.integers(v) for v in orphans], dtype=np.int64)
        src, dst = np.concatenate([src, extra]), np.concatenate([dst, orphans])
    return Stage(stage.ops, stage.channels, src, dst)


# ---------------------------------------------------------------------- parameter count


def _edge_projections(stage: Stage) -> int:
    """Parameters of the 1×1 projections on edges whose channel counts differ (not into ``concat``)."""
    total = 0
    for u, v in zip(stage.src.tolist(), stage.dst.tolist(), strict=True):
        if stage.ops[v] != "concat" and stage.channels[u] != stage.channels[v]:
            total += int(stage.channels[u]) * int(stage.channels[v])
    return total


def aggregation_weights(op: str, n_inputs: int) -> int:
    """Learned weights of a vertex's weighted sum: none for ``concat`` or a single input; one per
    input but the first for a convolution (whose batch norm undoes a common scale); one per input
    otherwise."""
    if op == "concat" or n_inputs < 2:
        return 0
    return n_inputs - 1 if kernel_size(op) is not None else n_inputs


def parameter_count(genotype: ConvGenotype) -> int:
    """The decoded model's parameter count, from the genotype alone (the decoder's rules above)."""
    widths = [stage.width for stage in genotype.stages]
    total = 9 * genotype.in_channels * widths[0] + 2 * widths[0]  # stem conv (no bias) + batch norm
    for i, stage in enumerate(genotype.stages):
        if i:
            total += 9 * widths[i - 1] * widths[i] + 2 * widths[i]  # reduction conv + batch norm
        preds = stage.predecessors()
        for v in range(1, stage.n_nodes):
            c = int(stage.channels[v])
            op = stage.ops[v]
            if op == "concat":
                total += sum(int(stage.channels[u]) for u in preds[v]) * c
            else:
                total += aggregation_weights(op, len(preds[v]))
            k = kernel_size(op)
            if k is not None:
                total += k * k * c * c + 2 * c
        total += _edge_projections(stage)
        total += sum(int(stage.channels[v]) * stage.width for v in stage.sinks() if stage.channels[v] != stage.width)
    return total + widths[-1] * genotype.n_classes + genotype.n_classes
