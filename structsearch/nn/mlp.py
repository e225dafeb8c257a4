"""A sparse MLP with skip-layer connections, built from a block description.

A **block description** says, for each target layer ``l = 1 … L`` (layer 0 is the input, layer L
the output), which earlier layers it reads and which connections it has: ``cols`` index into the
concatenation of its source layers in the listed order.  A layered-graph genotype decodes into this
description; plain layer sizes with a density scheme make one too.

The forward pass runs feature-major (``features × batch``) so that the sparse kernels read
contiguous rows and the concatenation of skip-layer sources is a plain copy.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from structsearch.errors import ConfigError
from structsearch.graphs.blocks import Block, BlockDescription, layered_blocks  # noqa: F401 (re-exported)
from structsearch.nn.activations import make_activation
from structsearch.nn.sparse_linear import SparseLinear


def parse_architecture(text: str) -> list[int]:
    """``"784-300-100-10"`` → ``[784, 300, 100, 10]``; anything else is a :class:`ConfigError`."""
    parts = str(text).strip().split("-")
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise ConfigError(
            f"architecture {text!r} is not a list of positive layer sizes such as 784-300-100-10"
        ) from None
    if len(sizes) < 2 or any(s <= 0 for s in sizes):
        raise ConfigError(
            f"architecture {text!r} needs at least two layers, each of positive size (e.g. 784-300-10)"
        )
    return sizes


class SparseMLP(nn.Module):
    """Sparse MLP decoded from a :class:`BlockDescription`.

    Hidden layers use ``activation``; the output layer is linear (logits).  ``dropout`` applies
    after every hidden activation.  Each block of the description (the edges from one layer to a
    later one, skip edges included) is one :class:`SparseLinear`.

    Parameters
    ----------
    description : BlockDescription
        The layers and the sparse blocks between them (from a genotype:
        ``structsearch.graphs.blocks``; from layer sizes: :meth:`from_layer_sizes`).
    activation : {"relu", "tanh", "srelu", "all-relu"}
        Hidden activation.
    dropout : float
        Dropout after every hidden activation, in [0, 1).
    init : {"he", "xavier"}
        Initial weights, scaled for each neuron's actual fan-in.
    generator : torch.Generator, optional
        Source of the initial weights.
    """

    def __init__(
        self,
        description: BlockDescription,
        activation: str = "relu",
        dropout: float = 0.0,
        init: str = "he",
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        description.validate()
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must lie in [0, 1), got {dropout}")
        self.layer_sizes = list(description.layer_sizes)
        self.sources = [tuple(b.sources) for b in description.blocks]
        self.activation_name = activation
        self.layers = nn.ModuleList()
        self.activations = nn.ModuleList()
        n_layers = len(self.layer_sizes) - 1
        for target, block in enumerate(description.blocks, start=1):
            width = sum(self.layer_sizes[s] for s in block.sources)
            self.layers.append(
                SparseLinear(width, self.layer_sizes[target], block.rows, block.cols,
                             init=init, generator=generator)
            )
            if target < n_layers:
                self.activations.append(
                    make_activation(activation, self.layer_sizes[target], target, dim=0)
                )
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    @classmethod
    def from_layer_sizes(
        cls,
        layer_sizes: list[int],
        seed: int | np.random.Generator = 0,
        scheme: str = "er",
        epsilon: float = 20.0,
        density: float | None = None,
        motif_size: int = 1,
        **kwargs,
    ) -> SparseMLP:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        description = layered_blocks(layer_sizes, rng, scheme, epsilon, density, motif_size)
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        return cls(description, generator=generator, **kwargs)

    @property
    def n_inputs(self) -> int:
        return self.layer_sizes[0]

    def connections_per_layer(self) -> list[int]:
        return [layer.nnz for layer in self.layers]

    def sparse_layers(self) -> list[SparseLinear]:
        return list(self.layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        states = [x.reshape(batch, -1).t().contiguous()]
        last = len(self.layers) - 1
        for index, (layer, sources) in enumerate(zip(self.layers, self.sources, strict=True)):
            inputs = states[sources[0]] if len(sources) == 1 else torch.cat(
                [states[s] for s in sources], dim=0
            )
            out = layer.forward_t(inputs)
            if index < last:
                out = self.dropout(self.activations[index](out))
            states.append(out)
        return states[-1].t()

    def extra_repr(self) -> str:
        skips = sum(src != target - 1 for target, srcs in enumerate(self.sources, 1) for src in srcs)
        return f"layers={'-'.join(map(str, self.layer_sizes))}, activation={self.activation_name}, skip_sources={skips}"
