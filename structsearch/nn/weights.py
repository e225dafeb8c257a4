"""A trained candidate's weights by genotype node: what a child inherits (weight inheritance).

A decoded model stores its parameters by layer position; a genotype names neurons.
:class:`NodeWeights` holds a trained model's parameters by the node ids of the genotype it was
decoded from, in *tables*:

* ``edge`` — every sparse connection as (gate, source node, target node); a recurrent layer holds
  one copy of each edge per gate (LSTM 4, GRU 3), which SET and RigL rewire separately;
* ``bias`` and ``hh_bias`` — biases by (gate, node);
* ``neuron.<name>`` — per-neuron activation parameters (SReLU's thresholds and slopes) by node;
* ``hidden.<l>`` — the hidden-to-hidden matrix of recurrent layer ``l`` with its neurons;
* ``embedding`` — a recurrent net's input embedding.

Each table holds its ``value`` channel and, when kept, the optimizer's state for the same
parameters (``exp_avg``, ``exp_avg_sq``, ``momentum_buffer``).  Files are safetensors (no pickle),
with the genotype's layers and edge count inside, so a file that does not belong to a genotype is
refused by name.

:func:`transfer` starts a child from its parents: an edge whose two nodes come from one parent that
has that edge (same gate) takes the parent's trained value; an edge the parent lacked between two
inherited neurons starts as SET's regrowth does (``regrow``: zero, or small random values); an edge
touching a new neuron keeps the child's own initialisation, so new neurons are not born dead.
Biases, activation parameters, hidden-to-hidden weights (where both neurons come from one layer of
one parent) and the embedding are inherited the same way.

:func:`learned_graph` turns the trained connectivity back into a genotype (Lamarckian evolution).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import torch
from safetensors.numpy import load, save

from structsearch.errors import DataError
from structsearch.graphs.layered import LayeredGraph
from structsearch.graphs.lineage import origins
from structsearch.graphs.repair import repair
from structsearch.nn.mlp import SparseMLP
from structsearch.nn.recurrent import SparseRecurrentNet

FORMAT = "structsearch.weights/1"
KEY_COLUMNS = {"edge": ("gate", "src", "dst"), "bias": ("gate", "node"), "hh_bias": ("gate", "node")}


@dataclass
class Table:
    """Index columns (node ids, gates) and value channels of one kind of parameter."""

    index: dict[str, np.ndarray]
    channels: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class NodeWeights:
    layers: np.ndarray  # node → layer of the genotype the weights belong to
    genotype_edges: int
    tables: dict[str, Table]
    meta: dict = field(default_factory=dict)

    @property
    def entries(self) -> int:
        return int(self.tables["edge"].index["src"].size) if "edge" in self.tables else 0

    # ------------------------------------------------------------------ files

    def to_bytes(self) -> bytes:
        arrays = {"layers": self.layers.astype(np.int32)}
        for kind, table in self.tables.items():
            for name, column in table.index.items():  # gates fit a byte, node ids 32 bits
                arrays[f"{kind}.index.{name}"] = np.ascontiguousarray(column, dtype=np.uint8 if name == "gate"
                                                                      else np.int32)
            for name, values in table.channels.items():
                arrays[f"{kind}.{name}"] = np.ascontiguousarray(values, dtype=np.float32)
        meta = {**self.meta, "format": FORMAT, "genotype_edges": self.genotype_edges, "checksum": checksum(arrays)}
        return save(arrays, metadata={"structsearch": json.dumps(meta)})

    @classmethod
    def from_bytes(cls, blob: bytes, source: str) -> NodeWeights:
        try:
            header = json.loads(blob[8 : 8 + int.from_bytes(blob[:8], "little")])
            meta = json.loads(header["__metadata__"]["structsearch"])
            if meta.get("format") != FORMAT:
                raise KeyError("format")
            arrays = load(blob)
        except Exception:  # noqa: BLE001 — any damage reads as "not a weights file"
            raise DataError(f"{source}: not a structsearch weights file (truncated or damaged, or another "
                            "format)") from None
        stored = meta.pop("checksum", None)
        if stored is not None and stored != checksum(arrays):
            raise DataError(f"{source}: the weights file's checksum does not match its tensors (the file was "
                            "damaged after it was written)")
        tables: dict[str, Table] = {}
        for key, array in arrays.items():
            if key == "layers":
                continue
            kind, _, rest = key.rpartition(".")
            if kind.endswith(".index"):
                tables.setdefault(kind[: -len(".index")], Table({})).index[rest] = array.astype(np.int64)
            else:
                tables.setdefault(kind, Table({})).channels[rest] = array
        return cls(arrays["layers"].astype(np.int64), int(meta.pop("genotype_edges")), tables, meta)

    def check(self, graph: LayeredGraph, owner: str) -> None:
        """Refuse weights saved for another genotype: a DataError naming ``owner``."""
        if self.layers.shape != graph.layers.shape or not np.array_equal(self.layers, graph.layers):
            raise DataError(f"{owner}: its weights file holds {self.layers.size} neurons in layers of widths "
                            f"{np.bincount(self.layers).tolist()}, its genotype {graph.n_nodes} in "
                            f"{graph.layer_widths()}: the file belongs to another genotype")
        if self.genotype_edges != graph.n_edges:
            raise DataError(f"{owner}: its weights file was saved for a genotype of {self.genotype_edges} edges, "
                            f"its genotype has {graph.n_edges}: the file belongs to another genotype")
        for kind, table in self.tables.items():
            for name, column in table.index.items():
                if name != "gate" and column.size and (column.min() < 0 or column.max() >= graph.n_nodes):
                    raise DataError(f"{owner}: its weights file names node {int(column.max())} in {kind}, "
                                    f"outside its genotype's {graph.n_nodes} nodes")


# ---------------------------------------------------------------------- the model's parts by node


def checksum(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of a weights file's tensors: names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _layer_nodes(graph: LayeredGraph) -> list[np.ndarray]:
    """Node ids of every layer in position order (the order the decoded model uses)."""
    order = np.argsort(graph.layers, kind="stable")
    return np.split(order, np.cumsum(np.bincount(graph.layers, minlength=graph.output_layer + 1))[:-1])


def _parts(model) -> list[tuple]:
    """Every parameter of a decoded model with what its entries are: (kind, parameter, locator)."""
    parts = []
    if isinstance(model, SparseMLP):
        for target, (layer, sources) in enumerate(zip(model.layers, model.sources, strict=True), start=1):
            parts += [("edge", layer.values, ("sparse", layer, target, sources)),
                      ("bias", layer.bias, ("bias", target, 1))]
            if target < len(model.layers):
                for name, parameter in model.activations[target - 1].named_parameters():
                    parts.append((f"neuron.{name}", parameter, ("neuron", target)))
    elif isinstance(model, SparseRecurrentNet):
        for target, (layer, sources) in enumerate(zip(model.recurrent, model.sources, strict=False), start=1):
            parts += [("edge", layer.input.values, ("sparse", layer.input, target, sources)),
                      ("bias", layer.input.bias, ("bias", target, layer.gates)),
                      ("hh_bias", layer.hh_bias, ("bias", target, layer.gates)),
                      (f"hidden.{target}", layer.hh_weight, ("hidden", target))]
        head, target = model.head, len(model.recurrent) + 1
        parts += [("edge", head.values, ("sparse", head, target, model.sources[-1])),
                  ("bias", head.bias, ("bias", target, 1)),
                  ("embedding", model.embedding.weight, ("embedding",))]
    else:
        raise TypeError(f"weights by node need a SparseMLP or SparseRecurrentNet, got {type(model).__name__}")
    return [part for part in parts if part[1] is not None]


def _index(locator, nodes: list[np.ndarray]) -> dict[str, np.ndarray]:
    """The index columns of a part's entries, in the order of its flattened parameter."""
    what = locator[0]
    if what == "sparse":
        _, layer, target, sources = locator  # a row's gate is its block of target-layer width
        rows, cols = (t.cpu().numpy() for t in layer.connections())
        width = nodes[target].size
        column_nodes = np.concatenate([nodes[s] for s in sources])
        return {"gate": rows // width, "src": column_nodes[cols], "dst": nodes[target][rows % width]}
    if what == "bias":
        _, target, gates = locator
        return {"gate": np.repeat(np.arange(gates), nodes[target].size), "node": np.tile(nodes[target], gates)}
    if what in ("neuron", "hidden"):  # one value, or one matrix row and column, per neuron of the layer
        return {"node": nodes[locator[1]]}
    return {}  # the embedding: by input position


def extract(model, graph: LayeredGraph, optimizer_state: dict | None = None, **meta) -> NodeWeights:
    """The parameters of ``model`` (decoded from ``graph``) by node; ``optimizer_state`` maps a
    parameter to its optimizer state tensors (``torch.optim.Optimizer.state``), kept alongside."""
    nodes = _layer_nodes(graph)
    collected: dict[str, list] = {}
    for kind, parameter, locator in _parts(model):
        channels = {"value": parameter}
        for name, tensor in (optimizer_state or {}).get(parameter, {}).items():
            if torch.is_tensor(tensor) and tensor.shape == parameter.shape:
                channels[name] = tensor
        collected.setdefault(kind, []).append(
            (_index(locator, nodes), {name: t.detach().cpu().numpy() for name, t in channels.items()}))
    tables = {}
    for kind, pieces in collected.items():
        index = {name: np.concatenate([p[0][name] for p in pieces]) for name in pieces[0][0]}
        names = sorted(set.intersection(*(set(p[1]) for p in pieces)))
        if kind.startswith("hidden.") or kind == "embedding":  # one matrix, kept 2-d
            channels = {name: pieces[0][1][name] for name in names}
        else:
            channels = {name: np.concatenate([p[1][name].reshape(-1) for p in pieces]) for name in names}
        tables[kind] = Table(index, channels)
    return NodeWeights(graph.layers.copy(), graph.n_edges, tables, dict(meta))


# ---------------------------------------------------------------------- inheritance


def _keys(columns: list[np.ndarray], radices: list[int]) -> np.ndarray:
    key = np.zeros(columns[0].shape, dtype=np.int64)
    for column, radix in zip(columns, radices, strict=True):
        key = key * np.int64(radix) + column.astype(np.int64)
    return key


def _lookup(parent: Table, columns: list[np.ndarray], radices: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """For child entries given as parent key columns: (found mask, the parent's values there)."""
    keys = _keys([parent.index[name] for name in parent.index], radices)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    wanted = _keys(columns, radices)
    at = np.minimum(np.searchsorted(keys, wanted), max(keys.size - 1, 0))
    found = (keys[at] == wanted) if keys.size else np.zeros(wanted.shape, dtype=bool)
    return found, parent.channels["value"][order][at]


@torch.no_grad()
def transfer(model, graph: LayeredGraph, parents: list[NodeWeights], regrow=None) -> dict:
    """Start ``model`` (freshly decoded from ``graph``, a child whose node tags say which parent
    node each of its nodes is) from its ``parents``' weights, in place; see the module docstring.
    ``regrow(layer, count)`` gives the starting values of edges new between inherited neurons
    (SET's regrowth; zeros when None).  Returns counts: edges inherited, regrown and fresh."""
    slot, parent_node = origins(graph)
    nodes = _layer_nodes(graph)
    radix = max([graph.n_nodes, *(p.layers.size for p in parents)]) + 1
    counts = {"inherited_edges": 0, "regrown_edges": 0, "fresh_edges": 0,
              "inherited_neurons": int((slot[graph.n_inputs : graph.n_nodes - graph.n_outputs] >= 0).sum())}
    for kind, parameter, locator in _parts(model):
        index = _index(locator, nodes)
        flat = parameter.data.view(-1) if locator[0] != "hidden" else None
        if kind == "embedding":
            source = slot[0]
            table = parents[source].tables.get("embedding") if source >= 0 else None
            if table is not None and table.channels["value"].shape == tuple(parameter.shape):
                parameter.data.copy_(torch.as_tensor(table.channels["value"], dtype=parameter.dtype))
            continue
        if locator[0] == "hidden":
            _transfer_hidden(parameter, index["node"], slot, parent_node, parents)
            continue
        node_columns = [name for name in index if name != "gate"]
        origin = [slot[index[name]] for name in node_columns]
        same = np.all([o == origin[0] for o in origin], axis=0) & (origin[0] >= 0)
        values = flat.cpu().numpy().copy()
        taken = np.zeros(values.size, dtype=bool)
        for k, weights in enumerate(parents):
            table = weights.tables.get(kind)
            mine = np.flatnonzero(same & (origin[0] == k))
            if table is None or mine.size == 0:
                continue
            columns = [index[name][mine] if name == "gate" else parent_node[index[name][mine]]
                       for name in table.index]
            radices = [8 if name == "gate" else radix for name in table.index]
            found, parent_values = _lookup(table, columns, radices)
            values[mine[found]] = parent_values[found]
            taken[mine[found]] = True
        if kind == "edge":
            between_old = np.all([o >= 0 for o in origin], axis=0) & ~taken
            counts["inherited_edges"] += int(taken.sum())
            counts["regrown_edges"] += int(between_old.sum())
            counts["fresh_edges"] += int((~taken & ~between_old).sum())
            if between_old.any():
                layer = locator[1]
                new = regrow(layer, int(between_old.sum())) if regrow is not None else None
                values[between_old] = 0.0 if new is None else new.cpu().numpy()
        flat.copy_(torch.as_tensor(values, dtype=flat.dtype))
    return counts


def _transfer_hidden(parameter, child_nodes: np.ndarray, slot, parent_node, parents: list[NodeWeights]) -> None:
    """Hidden-to-hidden weights between two neurons that come from one recurrent layer of one parent."""
    width = child_nodes.size
    gates = parameter.shape[0] // width
    matrix = parameter.data.cpu().numpy().copy()
    for k, weights in enumerate(parents):
        for kind, table in weights.tables.items():
            if not kind.startswith("hidden."):
                continue
            parent_layer = table.index["node"]
            where = {int(n): i for i, n in enumerate(parent_layer.tolist())}
            mine = [(i, where[int(parent_node[n])]) for i, n in enumerate(child_nodes.tolist())
                    if slot[n] == k and int(parent_node[n]) in where]
            if not mine:
                continue
            child_pos, parent_pos = (np.array(c) for c in zip(*mine, strict=True))
            source = table.channels["value"]
            parent_width = parent_layer.size
            for gate in range(gates):
                matrix[np.ix_(gate * width + child_pos, child_pos)] = source[np.ix_(gate * parent_width + parent_pos,
                                                                                    parent_pos)]
    parameter.data.copy_(torch.as_tensor(matrix, dtype=parameter.dtype))


# ---------------------------------------------------------------------- Lamarckian genotypes


def learned_graph(weights: NodeWeights, graph: LayeredGraph) -> tuple[LayeredGraph, int]:
    """The genotype of a trained model's connectivity (``weights`` extracted from it): its edges,
    on the nodes of ``graph``.  A recurrent layer rewires each gate's copy of an edge separately:
    its genotype keeps as many edges into each layer as ``graph`` has, those held by the most
    gates (ties: the larger summed |weight|).  Neurons the training left without a path from an
    input or to an output are removed (they no longer shape the output; the count is returned).
    The result's tags are ``graph``'s node ids, for :func:`renumber`."""
    table = weights.tables["edge"]
    src, dst, value = table.index["src"], table.index["dst"], np.abs(table.channels["value"])
    radix = graph.n_nodes
    keys, inverse, held = np.unique(src * radix + dst, return_inverse=True, return_counts=True)
    magnitude = np.bincount(inverse, weights=value, minlength=keys.size)
    into = graph.layers[keys % radix]
    # edges into each layer: its entries over its gates (SET and RigL keep every gate's count)
    entry_layer = graph.layers[dst]
    entries = np.bincount(entry_layer, minlength=graph.output_layer + 1)
    gates = np.zeros(graph.output_layer + 1, dtype=np.int64)
    np.maximum.at(gates, entry_layer, table.index["gate"] + 1)
    quota = -(-entries // np.maximum(gates, 1))
    keep = np.zeros(keys.size, dtype=bool)
    for layer in np.unique(into).tolist():
        members = np.flatnonzero(into == layer)
        ranked = members[np.lexsort((-magnitude[members], -held[members]))]
        keep[ranked[: quota[layer]]] = True
    learned = LayeredGraph(graph.n_inputs, graph.n_outputs, graph.layers, keys[keep] // radix, keys[keep] % radix,
                           graph.recurrent, np.arange(graph.n_nodes))
    repaired = repair(learned, "remove")
    return repaired, graph.n_nodes - repaired.n_nodes


def renumber(weights: NodeWeights, graph: LayeredGraph) -> NodeWeights:
    """``weights`` for ``graph``, whose tags are the node ids the weights use (:func:`learned_graph`):
    entries of removed nodes are dropped, the rest renamed."""
    new_id = np.full(weights.layers.size, -1, dtype=np.int64)
    new_id[graph.tags] = np.arange(graph.n_nodes)
    tables = {}
    for kind, table in weights.tables.items():
        nodes = [name for name in table.index if name != "gate"]
        keep = np.all([new_id[table.index[name]] >= 0 for name in nodes], axis=0) if nodes else None
        if kind.startswith("hidden.") and keep is not None:
            width, kept = table.index["node"].size, np.flatnonzero(keep)
            gates = table.channels["value"].shape[0] // width
            rows = np.concatenate([g * width + kept for g in range(gates)])
            tables[kind] = Table({"node": new_id[table.index["node"][kept]]},
                                 {name: values[np.ix_(rows, kept)] for name, values in table.channels.items()})
        elif keep is not None:
            tables[kind] = Table({name: column[keep] if name == "gate" else new_id[column[keep]]
                                  for name, column in table.index.items()},
                                 {name: values[keep] for name, values in table.channels.items()})
        else:
            tables[kind] = table
    return NodeWeights(graph.layers.copy(), graph.n_edges, tables, dict(weights.meta))
