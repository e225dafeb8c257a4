"""``LayeredGraph``: the genotype — a neuron-level layered DAG with skip-layer edges.

Nodes are numbered inputs first (``0 … n_inputs−1``, layer 0), then hidden nodes, then outputs
(the last ``n_outputs`` nodes, in the layer after the deepest hidden one).  Edges go from a lower to
a higher layer; skipping layers is allowed.  A recurrent genotype may also have edges within a
hidden layer.  Everything is stored in numpy arrays (a node→layer array and edge source/destination
arrays), so a graph with a million edges stays cheap to copy, hash and serialise.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass

import networkx as nx
import numpy as np

from structsearch.errors import DataError, StructsearchError
from structsearch.graphs.blocks import Block, BlockDescription
from structsearch.graphs.genotype_file import GenotypeFile


class InvalidGraph(StructsearchError, ValueError):
    """A genotype that breaks a structural rule; the message names the violation."""


@dataclass(frozen=True, eq=False)
class LayeredGraph(GenotypeFile):
    """A layered sparse graph.  Instances are immutable: operators return new graphs.

    Parameters
    ----------
    n_inputs, n_outputs : int
        Number of input and output nodes.
    layers : array of int
        Layer index of every node (inputs 0, hidden 1 … L, outputs L + 1).
    src, dst : arrays of int
        Edge endpoints (node ids).
    recurrent : bool
        Whether edges within a hidden layer are allowed (recurrent cells).
    tags : array of int, optional
        A label per node that the graph edits carry along with the node (a removed node takes its
        tag with it, a new node gets −1).  Tagging a parent's nodes before the operators run tells,
        for every node of the child, which parent node it is (:mod:`structsearch.graphs.lineage`).
        Tags are not part of the structure: equality, hashing and serialisation ignore them.
    """

    n_inputs: int
    n_outputs: int
    layers: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    recurrent: bool = False
    tags: np.ndarray | None = None

    def __post_init__(self):
        for name in ("layers", "src", "dst"):
            array = np.ascontiguousarray(getattr(self, name), dtype=np.int64)
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        if self.tags is not None:
            tags = np.ascontiguousarray(self.tags, dtype=np.int64)
            if tags.shape != self.layers.shape:
                raise ValueError(f"tags: {tags.size} for {self.layers.size} nodes")
            tags.setflags(write=False)
            object.__setattr__(self, "tags", tags)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_layer_widths(cls, n_inputs: int, hidden_widths: list[int], n_outputs: int,
                          src=(), dst=(), recurrent: bool = False) -> LayeredGraph:
        """Nodes for ``n_inputs``, hidden layers of the given widths and ``n_outputs``."""
        layers = np.concatenate([
            np.zeros(n_inputs, dtype=np.int64),
            np.repeat(np.arange(1, len(hidden_widths) + 1), hidden_widths),
            np.full(n_outputs, len(hidden_widths) + 1),
        ])
        return cls(n_inputs, n_outputs, layers, np.asarray(src), np.asarray(dst), recurrent)

    def with_edges(self, src, dst) -> LayeredGraph:
        return LayeredGraph(self.n_inputs, self.n_outputs, self.layers, src, dst, self.recurrent, self.tags)

    def with_layers(self, layers) -> LayeredGraph:
        """The same nodes (and tags) and edges with new layer numbers."""
        return LayeredGraph(self.n_inputs, self.n_outputs, layers, self.src, self.dst, self.recurrent, self.tags)

    def with_tags(self, tags) -> LayeredGraph:
        """The same graph with node tags (None removes them)."""
        return LayeredGraph(self.n_inputs, self.n_outputs, self.layers, self.src, self.dst, self.recurrent, tags)

    # ------------------------------------------------------------------ basic views

    @property
    def n_nodes(self) -> int:
        return int(self.layers.size)

    @property
    def n_edges(self) -> int:
        return int(self.src.size)

    @property
    def connections(self) -> int:
        """The decoded model's size that NSGA-II minimises: its connections."""
        return self.n_edges

    @property
    def n_hidden(self) -> int:
        return self.n_nodes - self.n_inputs - self.n_outputs

    @property
    def output_layer(self) -> int:
        return int(self.layers[-1]) if self.n_outputs else int(self.layers.max(initial=0))

    @property
    def n_hidden_layers(self) -> int:
        return self.output_layer - 1

    def hidden_nodes(self) -> np.ndarray:
        return np.arange(self.n_inputs, self.n_nodes - self.n_outputs)

    def output_nodes(self) -> np.ndarray:
        return np.arange(self.n_nodes - self.n_outputs, self.n_nodes)

    def layer_widths(self) -> list[int]:
        """Number of nodes in every layer, inputs first and outputs last."""
        return np.bincount(self.layers, minlength=self.output_layer + 1).tolist()

    def hidden_widths(self) -> list[int]:
        return self.layer_widths()[1:-1]

    def position_in_layer(self) -> np.ndarray:
        """Index of every node among the nodes of its layer (in node-id order)."""
        order = np.argsort(self.layers, kind="stable")
        starts = np.concatenate([[0], np.cumsum(np.bincount(self.layers))])
        position = np.empty(self.n_nodes, dtype=np.int64)
        position[order] = np.arange(self.n_nodes) - starts[self.layers[order]]
        return position

    def edge_keys(self) -> np.ndarray:
        return self.src * self.n_nodes + self.dst

    def skip_edges(self) -> np.ndarray:
        """Boolean mask of edges that skip at least one layer."""
        return self.layers[self.dst] - self.layers[self.src] > 1

    # ------------------------------------------------------------------ validity

    def violations(self) -> list[str]:
        """Every rule the graph breaks, as sentences (empty when valid)."""
        problems = []
        layers, src, dst = self.layers, self.src, self.dst
        n = self.n_nodes
        if self.n_inputs < 1 or self.n_outputs < 1:
            problems.append("a graph needs at least one input and one output node")
            return problems
        if self.n_inputs + self.n_outputs > n:
            problems.append(f"{self.n_inputs} inputs and {self.n_outputs} outputs need more than the {n} nodes given")
            return problems
        if layers.min() < 0 or layers.max() > n:
            problems.append("layer numbers must lie between 0 and the number of nodes")
            return problems
        if (layers[: self.n_inputs] != 0).any():
            problems.append("input nodes must be in layer 0")
        hidden = layers[self.n_inputs : n - self.n_outputs]
        out_layer = self.output_layer
        if (layers[n - self.n_outputs :] != out_layer).any():
            problems.append("output nodes must share the last layer")
        if hidden.size and (hidden.min() < 1 or hidden.max() >= out_layer):
            problems.append("hidden nodes must lie strictly between the input and output layers")
        widths = np.bincount(layers, minlength=out_layer + 1)
        empty = np.flatnonzero(widths[1:out_layer] == 0) + 1
        if empty.size:
            problems.append(f"layer {int(empty[0])} is empty")
        if src.size:
            if src.min() < 0 or dst.min() < 0 or max(src.max(), dst.max()) >= n:
                problems.append("an edge names a node that does not exist")
                return problems
            step = layers[dst] - layers[src]
            within = step == 0
            backward = (step < 0) | (within & (~self.recurrent | (layers[src] == 0) | (layers[src] == out_layer)))
            if backward.any():
                k = int(np.flatnonzero(backward)[0])
                kind = "a within-layer" if step[k] == 0 else "a backward"
                problems.append(
                    f"{kind} edge {int(src[k])}→{int(dst[k])} (layer {int(layers[src[k]])}→{int(layers[dst[k]])})"
                )
            keys = np.sort(self.edge_keys())
            if (keys[1:] == keys[:-1]).any():
                k = int(keys[1:][keys[1:] == keys[:-1]][0])
                problems.append(f"a duplicate edge {k // n}→{k % n}")
        dead = self.dead_hidden_nodes()
        if dead.size:
            problems.append(f"hidden neuron {int(dead[0])} has no path from an input or to an output"
                            + (f" ({dead.size} such neurons)" if dead.size > 1 else ""))
        return problems

    def validate(self) -> LayeredGraph:
        """Raise :class:`InvalidGraph` naming the first violation; return ``self`` when valid."""
        problems = self.violations()
        if problems:
            raise InvalidGraph(problems[0])
        return self

    def reachable_from_inputs(self) -> np.ndarray:
        """Boolean mask of nodes on a path from some input (forward edges only)."""
        return self._sweep(self.src, self.dst, np.arange(self.n_inputs), ascending=True)

    def reaching_outputs(self) -> np.ndarray:
        """Boolean mask of nodes with a path to some output (forward edges only)."""
        return self._sweep(self.dst, self.src, self.output_nodes(), ascending=False)

    def _sweep(self, tail, head, start, ascending: bool) -> np.ndarray:
        """Reachability by dynamic programming over layers (O(edges · layers) worst case)."""
        forward = self.layers[self.dst] > self.layers[self.src]
        tail, head = tail[forward], head[forward]
        mark = np.zeros(self.n_nodes, dtype=bool)
        mark[start] = True
        order = range(self.output_layer + 1) if ascending else range(self.output_layer, -1, -1)
        tail_layer = self.layers[tail]
        for layer in order:
            sel = (tail_layer == layer) & mark[tail]
            mark[head[sel]] = True
        return mark

    def dead_hidden_nodes(self) -> np.ndarray:
        alive = self.reachable_from_inputs() & self.reaching_outputs()
        hidden = self.hidden_nodes()
        return hidden[~alive[hidden]]

    # ------------------------------------------------------------------ conversions

    def to_networkx(self):
        """A ``networkx.DiGraph`` with node attributes ``layer`` and ``kind``."""
        graph = nx.DiGraph(n_inputs=self.n_inputs, n_outputs=self.n_outputs, recurrent=self.recurrent)
        kinds = self.node_kinds()
        graph.add_nodes_from((i, {"layer": int(layer), "kind": kinds[i]}) for i, layer in enumerate(self.layers))
        graph.add_edges_from(zip(self.src.tolist(), self.dst.tolist(), strict=True))
        return graph

    @classmethod
    def from_networkx(cls, graph) -> LayeredGraph:
        """Inverse of :meth:`to_networkx`; nodes need ``layer`` and ``kind`` attributes."""
        nodes = sorted(graph.nodes, key=lambda v: (
            {"input": 0, "hidden": 1, "output": 2}[graph.nodes[v]["kind"]], graph.nodes[v]["layer"], v))
        index = {v: i for i, v in enumerate(nodes)}
        layers = np.array([graph.nodes[v]["layer"] for v in nodes], dtype=np.int64)
        edges = np.array([(index[u], index[v]) for u, v in graph.edges], dtype=np.int64).reshape(-1, 2)
        n_inputs = sum(graph.nodes[v]["kind"] == "input" for v in nodes)
        n_outputs = sum(graph.nodes[v]["kind"] == "output" for v in nodes)
        return cls(n_inputs, n_outputs, layers, edges[:, 0], edges[:, 1],
                   bool(graph.graph.get("recurrent", False)))

    def node_kinds(self) -> list[str]:
        kinds = ["hidden"] * self.n_nodes
        kinds[: self.n_inputs] = ["input"] * self.n_inputs
        kinds[self.n_nodes - self.n_outputs :] = ["output"] * self.n_outputs
        return kinds

    def to_dict(self) -> dict:
        """A JSON-ready description (edges sorted, so equal graphs give equal dicts)."""
        order = np.argsort(self.edge_keys(), kind="stable")
        return {
            "format": "structsearch.LayeredGraph/1",
            "n_inputs": self.n_inputs,
            "n_outputs": self.n_outputs,
            "recurrent": self.recurrent,
            "layers": self.layers.tolist(),
            "src": self.src[order].tolist(),
            "dst": self.dst[order].tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict, source: str = "genotype") -> LayeredGraph:
        try:
            if str(data.get("format", "")).split("/")[0] != "structsearch.LayeredGraph":
                raise KeyError("format")
            graph = cls(_count(data["n_inputs"], "n_inputs", source), _count(data["n_outputs"], "n_outputs", source),
                        *(_ids(data[key], key, source) for key in ("layers", "src", "dst")),
                        bool(data.get("recurrent", False)))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise DataError(f"{source}: not a structsearch genotype (missing or bad {error})") from None
        if graph.src.shape != graph.dst.shape:
            raise DataError(f"{source}: src and dst differ in length")
        return graph

    def to_bytes(self) -> bytes:
        """Compact serialisation: compressed npz arrays (never pickle)."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, meta=np.array([self.n_inputs, self.n_outputs, int(self.recurrent)]),
                            layers=self.layers.astype(np.int32), src=self.src.astype(np.int32),
                            dst=self.dst.astype(np.int32))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes, source: str = "genotype") -> LayeredGraph:
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as data:
                meta = _ids(data["meta"], "meta", source)
                if meta.shape != (3,):
                    raise KeyError("meta")
                arrays = (_ids(data[key], key, source) for key in ("layers", "src", "dst"))
                return cls(int(meta[0]), int(meta[1]), *arrays, bool(meta[2]))
        except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile):
            raise DataError(f"{source}: not a compressed structsearch genotype (damaged or not one)") from None

    # ------------------------------------------------------------------ identity

    def content_hash(self, iterations: int = 3) -> str:
        """A Weisfeiler–Lehman hash that respects layers.

        Hidden neurons are anonymous: relabelling them (keeping layers) gives the same hash.
        Input and output neurons keep their identity (they are the task's features and classes).
        Each round refines a node's label with the multisets of its in- and out-neighbours' labels,
        aggregated by wrapping 64-bit sums of mixed labels (order-free, O(edges) per round).
        """
        n = self.n_nodes
        label = _mix(self.layers.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1))
        ident = np.zeros(n, dtype=np.uint64)
        ident[: self.n_inputs] = np.arange(1, self.n_inputs + 1, dtype=np.uint64)
        ident[n - self.n_outputs :] = np.arange(1, self.n_outputs + 1, dtype=np.uint64) << np.uint64(32)
        label = _mix(label ^ _mix(ident))
        for _ in range(iterations):
            incoming = np.zeros(n, dtype=np.uint64)
            outgoing = np.zeros(n, dtype=np.uint64)
            with np.errstate(over="ignore"):
                np.add.at(incoming, self.dst, _mix(label[self.src] ^ np.uint64(0xA5A5A5A5)))
                np.add.at(outgoing, self.src, _mix(label[self.dst] ^ np.uint64(0x5A5A5A5A5A)))
                label = _mix(label * np.uint64(31) + _mix(incoming) * np.uint64(17) + _mix(outgoing))
        digest = hashlib.sha256()
        digest.update(np.array([self.n_inputs, self.n_outputs, n, self.n_edges, int(self.recurrent)]).tobytes())
        digest.update(np.sort(label).tobytes())
        return digest.hexdigest()[:32]

    def __eq__(self, other) -> bool:
        """Equal node for node: the same sizes, layers and edges (in any order).  Equal hashes say
        less: equal up to relabelling the hidden neurons."""
        return (isinstance(other, LayeredGraph)
                and (self.n_inputs, self.n_outputs, self.recurrent)
                == (other.n_inputs, other.n_outputs, other.recurrent)
                and np.array_equal(self.layers, other.layers)
                and np.array_equal(np.sort(self.edge_keys()), np.sort(other.edge_keys())))

    __hash__ = None  # mutable-looking arrays: use content_hash()

    # ------------------------------------------------------------------ decoding

    def to_blocks(self):
        """The :class:`~structsearch.nn.mlp.BlockDescription` a sparse MLP is built from.

        Layer ``t``'s block reads the layers its incoming edges come from, in ascending order;
        a connection's column is the source node's position in the concatenation of those layers.
        """
        widths = self.layer_widths()
        position = self.position_in_layer()
        src_layer, dst_layer = self.layers[self.src], self.layers[self.dst]
        blocks = []
        for target in range(1, self.output_layer + 1):
            into = dst_layer == target
            sources = sorted(set(src_layer[into].tolist())) or [target - 1]
            offsets = np.zeros(self.output_layer + 1, dtype=np.int64)
            offsets[sources] = np.cumsum([0] + [widths[s] for s in sources[:-1]])
            cols = offsets[src_layer[into]] + position[self.src[into]]
            blocks.append(Block(tuple(sources), position[self.dst[into]], cols))
        return BlockDescription(widths, blocks)

    def describe(self) -> dict:
        skip = self.skip_edges()
        return {
            "inputs": self.n_inputs,
            "outputs": self.n_outputs,
            "hidden_layers": self.n_hidden_layers,
            "hidden_widths": self.hidden_widths(),
            "nodes": self.n_nodes,
            "edges": self.n_edges,
            "skip_edges": int(skip.sum()),
            "recurrent": self.recurrent,
            "hash": self.content_hash(),
        }

    def __repr__(self) -> str:
        widths = "-".join(map(str, self.layer_widths()))
        return f"LayeredGraph({widths}, edges={self.n_edges}, skip={int(self.skip_edges().sum())})"


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, element-wise on uint64 (wrapping arithmetic)."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _ids(values, name: str, source: str) -> np.ndarray:
    """A 1-d array of whole numbers (node ids, layer numbers) from a file; anything else is a DataError."""
    array = np.asarray(values)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise DataError(f"{source}: {name} must be a list of whole numbers (node ids or layers), "
                        f"got {array.dtype.name} values of shape {array.shape}")
    if array.size and (int(array.min()) < 0 or int(array.max()) >= 2**62):
        raise DataError(f"{source}: {name} holds {int(array.min()) if array.min() < 0 else int(array.max())}, "
                        "outside the ids a genotype can have")
    return array


def _count(value, name: str, source: str) -> int:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 0:
        raise DataError(f"{source}: {name} must be a whole number ≥ 0, got {value!r}")
    return int(value)
