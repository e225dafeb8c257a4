"""Sparse recurrent networks (RNN_Tanh, RNN_ReLU, LSTM, GRU) decoded from layered graphs.

Following Stier et al. (2021, Fig. 6), every hidden layer of a genotype becomes one recurrent
layer whose units are that layer's neurons.  Its input is the concatenation of the whole sequences
of the layers it has edges from (the embedded characters for layer 0, skip edges included), and its
input-to-hidden weights exist only on those edges — one sparse :class:`SparseLinear` holding every
gate's copy of each edge.  Hidden-to-hidden weights stay within the layer; they are dense by default
and can be made sparse (for pruning).  The output layer is a sparse linear head over the final
states of its source layers.  The full model is embedding (ASCII code → vector) → recurrent layers
→ head → logits.

Gate equations are PyTorch's (``torch.nn.LSTM``: i, f, g, o; ``torch.nn.GRU``: r, z, n with the
hidden bias inside the reset product), so a fully connected model reproduces ``torch.nn.LSTM`` and
``torch.nn.GRU`` exactly.  Inputs are padded batches with lengths: a sequence's state stops changing
after its last symbol, so padding never leaks into the result.

Each layer computes its input projections for all time steps in one sparse product and only the
small hidden-to-hidden update runs step by step.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from structsearch.errors import ConfigError
from structsearch.graphs import LayeredGraph
from structsearch.graphs.blocks import BlockDescription
from structsearch.nn.sparse_linear import SparseLinear
from structsearch.registry import Registry

# cell → gates per hidden neuron
CELLS = Registry("cell type", {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3})


def check_cell(cell: str) -> str:
    return CELLS.check(cell)


class SparseRecurrentLayer(nn.Module):
    """One recurrent layer with sparse input-to-hidden weights.

    Parameters
    ----------
    in_features, hidden : int
    rows, cols : arrays
        Edges unit ``rows[k]`` ← input ``cols[k]``; every gate gets the same edges.
    cell : {"rnn_tanh", "rnn_relu", "lstm", "gru"}
    """

    def __init__(self, in_features: int, hidden: int, rows, cols, cell: str = "gru",
                 generator: torch.Generator | None = None):
        super().__init__()
        self.cell = check_cell(cell)
        self.hidden = hidden
        self.gates = CELLS[cell]
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        gate_rows = np.concatenate([rows + g * hidden for g in range(self.gates)])
        gate_cols = np.tile(cols, self.gates)
        self.input = SparseLinear(in_features, self.gates * hidden, gate_rows, gate_cols, init="xavier",
                                  generator=generator)
        bound = 1.0 / math.sqrt(hidden)
        weight = torch.empty(self.gates * hidden, hidden).uniform_(-bound, bound, generator=generator)
        self.hh_weight = nn.Parameter(weight)
        self.hh_bias = nn.Parameter(torch.zeros(self.gates * hidden).uniform_(-bound, bound, generator=generator))
        self.register_buffer("hh_mask", None)

    def make_hidden_sparse(self, mask: torch.Tensor) -> None:
        """Keep hidden-to-hidden weights only where ``mask`` (gates·hidden × hidden) is true."""
        self.hh_mask = mask.to(self.hh_weight.dtype)
        with torch.no_grad():
            self.hh_weight.mul_(self.hh_mask)

    def hidden_weight(self) -> torch.Tensor:
        return self.hh_weight if self.hh_mask is None else self.hh_weight * self.hh_mask

    def forward(self, sequence: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``sequence``: (T, in, B) feature-major per step.  Returns all states (T, hidden, B) and
        the state at each sequence's last symbol (hidden, B)."""
        steps, width, batch = sequence.shape
        projected = self.input.forward_t(sequence.permute(1, 0, 2).reshape(width, steps * batch))
        projected = projected.reshape(self.gates * self.hidden, steps, batch)
        weight = self.hidden_weight()
        h = sequence.new_zeros(self.hidden, batch)
        c = sequence.new_zeros(self.hidden, batch) if self.cell == "lstm" else None
        outputs = []
        alive = (torch.arange(steps, device=lengths.device)[:, None] < lengths[None, :]).to(sequence.dtype)
        shortest = int(lengths.min())
        for t in range(steps):
            gates_x = projected[:, t]
            gates_h = torch.addmm(self.hh_bias[:, None], weight, h)
            h_new, c_new = self.step(gates_x, gates_h, h, c)
            if t < shortest:  # every sequence is still running
                h, c = h_new, c_new
            else:  # finished sequences keep their last state
                keep = alive[t][None, :]
                h = torch.lerp(h, h_new, keep)
                if c is not None:
                    c = torch.lerp(c, c_new, keep)
            outputs.append(h)
        return torch.stack(outputs), h

    def step(self, gx: torch.Tensor, gh: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None):
        n = self.hidden
        if self.cell == "rnn_tanh":
            return torch.tanh(gx + gh), None
        if self.cell == "rnn_relu":
            return torch.relu(gx + gh), None
        if self.cell == "lstm":
            z = gx + gh
            gates = torch.sigmoid(z)  # i, f, o from one call; g needs tanh
            c_new = gates[n:2 * n] * c + gates[:n] * torch.tanh(z[2 * n:3 * n])
            return gates[3 * n:] * torch.tanh(c_new), c_new
        rz = torch.sigmoid(gx[:2 * n] + gh[:2 * n])
        r, z = rz[:n], rz[n:]
        candidate = torch.tanh(torch.addcmul(gx[2 * n:], r, gh[2 * n:]))
        return torch.lerp(candidate, h, z), None

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        mask = state_dict.get(prefix + "hh_mask")
        if mask is not None and self.hh_mask is None:  # a pruned model's state into a fresh one
            self.hh_mask = torch.ones_like(mask)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        sparse = "sparse" if self.hh_mask is not None else "dense"
        return f"cell={self.cell}, hidden={self.hidden}, hidden_to_hidden={sparse}"


class SparseRecurrentNet(nn.Module):
    """Embedding → sparse recurrent layers (from a block description) → sparse linear head."""

    def __init__(self, description: BlockDescription, cell: str = "gru", vocabulary: int = 128,
                 generator: torch.Generator | None = None):
        super().__init__()
        description.validate()
        check_cell(cell)
        self.cell = cell
        self.layer_sizes = list(description.layer_sizes)
        self.sources = [tuple(b.sources) for b in description.blocks]
        # drawn below, after the layers (from ``generator``: never from torch's global stream, whose
        # state depends on whatever ran before in the process)
        self.embedding = nn.Embedding(vocabulary, self.layer_sizes[0], padding_idx=0,
                                      _weight=torch.zeros(vocabulary, self.layer_sizes[0]))
        self.recurrent = nn.ModuleList()
        for target, block in enumerate(description.blocks[:-1], start=1):
            width = sum(self.layer_sizes[s] for s in block.sources)
            self.recurrent.append(SparseRecurrentLayer(width, self.layer_sizes[target], block.rows, block.cols,
                                                       cell, generator))
        head = description.blocks[-1]
        width = sum(self.layer_sizes[s] for s in head.sources)
        self.head = SparseLinear(width, self.layer_sizes[-1], head.rows, head.cols, init="xavier",
                                 generator=generator)
        with torch.no_grad():  # nn.Embedding's own initialisation: N(0, 1), the padding row zero
            self.embedding.weight.normal_(generator=generator)
            self.embedding.weight[0].zero_()

    @classmethod
    def from_graph(cls, graph, cell: str = "gru", vocabulary: int = 128, seed: int = 0) -> SparseRecurrentNet:
        """Decode a :class:`~structsearch.graphs.LayeredGraph` (inputs = embedding size)."""
        if graph.n_hidden_layers < 1:
            raise ConfigError("a recurrent model needs at least one hidden layer in its genotype")
        reached = graph.reachable_from_inputs()[graph.output_nodes()]
        if not reached.any():
            raise ConfigError("the genotype has no path from its inputs to its outputs")
        return cls(graph.to_blocks(), cell, vocabulary, torch.Generator().manual_seed(seed))

    def sparse_layers(self) -> list[SparseLinear]:
        return [layer.input for layer in self.recurrent] + [self.head]

    def connections_per_layer(self) -> list[int]:
        return [layer.nnz for layer in self.sparse_layers()]

    def forward(self, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if codes.dim() != 2:
            raise ValueError("codes must be (batch, time)")
        if bool((lengths < 1).any()):
            raise ConfigError("every sequence needs at least one symbol (a length of 0 was given)")
        steps = int(lengths.max())
        embedded = self.embedding(codes[:, :steps]).permute(1, 2, 0)  # (T, emb, B)
        sequences = [embedded]
        finals = [embedded[(lengths - 1), :, torch.arange(codes.shape[0])].t()]  # last symbol's embedding
        for layer, sources in zip(self.recurrent, self.sources[:-1], strict=True):
            inputs = sequences[sources[0]] if len(sources) == 1 else torch.cat([sequences[s] for s in sources], dim=1)
            states, final = layer(inputs, lengths)
            sequences.append(states)
            finals.append(final)
        head_sources = self.sources[-1]
        features = (
            finals[head_sources[0]] if len(head_sources) == 1 else torch.cat([finals[s] for s in head_sources], dim=0)
        )
        return self.head.forward_t(features).t()

    def extra_repr(self) -> str:
        return f"cell={self.cell}, layers={'-'.join(map(str, self.layer_sizes))}"


def dense_equivalent(embedding: int, hidden: list[int], n_classes: int = 2):
    """A fully connected layered genotype (each layer reads the previous one completely)."""
    sizes = [embedding, *hidden, n_classes]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    src, dst = [], []
    for layer in range(len(sizes) - 1):
        a = np.arange(starts[layer], starts[layer + 1])
        b = np.arange(starts[layer + 1], starts[layer + 2])
        src.append(np.repeat(a, b.size))
        dst.append(np.tile(b, a.size))
    return LayeredGraph.from_layer_widths(embedding, hidden, n_classes, np.concatenate(src), np.concatenate(dst))
