"""Block descriptions: the layer-by-layer connectivity a sparse model is built from.

A :class:`BlockDescription` is what a genotype decodes into (``LayeredGraph.to_blocks``) and what
:class:`~structsearch.nn.mlp.SparseMLP` and the recurrent nets are built from; it lives with the
graphs so that the models depend on the structures, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from structsearch.graphs.density import (
    connections_for,
    layer_densities,
    sample_motif_positions,
    sample_positions,
)


@dataclass
class Block:
    """The connections into one target layer."""

    sources: tuple[int, ...]
    rows: np.ndarray
    cols: np.ndarray


@dataclass
class BlockDescription:
    """Layer sizes ``[n_in, h_1, …, n_out]`` and one :class:`Block` per non-input layer."""

    layer_sizes: list[int]
    blocks: list[Block] = field(default_factory=list)

    def validate(self) -> None:
        if len(self.blocks) != len(self.layer_sizes) - 1:
            raise ValueError(
                f"{len(self.layer_sizes)} layers need {len(self.layer_sizes) - 1} blocks, "
                f"got {len(self.blocks)}"
            )
        for target, block in enumerate(self.blocks, start=1):
            if not block.sources or any(s < 0 or s >= target for s in block.sources):
                raise ValueError(f"layer {target} must read from earlier layers, got {block.sources}")
            width = sum(self.layer_sizes[s] for s in block.sources)
            if len(block.rows) != len(block.cols):
                raise ValueError(f"layer {target}: rows and cols differ in length")
            if len(block.rows) and (
                np.max(block.rows) >= self.layer_sizes[target] or np.max(block.cols) >= width
            ):
                raise ValueError(f"layer {target}: a connection index is out of range")

    @property
    def connections(self) -> int:
        return int(sum(len(b.rows) for b in self.blocks))



def layered_blocks(
    layer_sizes: list[int],
    rng: np.random.Generator,
    scheme: str = "er",
    epsilon: float = 20.0,
    density: float | None = None,
    motif_size: int = 1,
    dense_output: bool = False,
) -> BlockDescription:
    """A plain layer-to-layer description with random connectivity of the given density scheme.

    With ``motif_size`` m > 1 every layer is a union of whole SET-motif motifs (Su 2022).
    ``dense_output`` makes the last layer fully connected.
    """
    shapes = [(a, b) for a, b in zip(layer_sizes[:-1], layer_sizes[1:], strict=True)]
    densities = layer_densities(shapes, scheme, epsilon, density)
    blocks = []
    for index, ((n_in, n_out), d) in enumerate(zip(shapes, densities, strict=True)):
        if dense_output and index == len(shapes) - 1:
            d = 1.0
        k = connections_for(n_in, n_out, d)
        if motif_size > 1:
            rows, cols = sample_motif_positions(n_out, n_in, k, motif_size, rng)
        else:
            rows, cols = sample_positions(n_out, n_in, k, rng)
        blocks.append(Block((index,), rows, cols))
    return BlockDescription(list(layer_sizes), blocks)
