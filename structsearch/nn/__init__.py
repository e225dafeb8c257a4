"""Truly sparse layers and models: ``SparseLinear`` (CSR), the sparse MLP with skip blocks."""

from structsearch.nn.mlp import (
    Block,
    BlockDescription,
    SparseMLP,
    layered_blocks,
    parse_architecture,
)
from structsearch.nn.sparse_linear import MaskedLinear, SparseLinear

__all__ = [
    "Block",
    "BlockDescription",
    "MaskedLinear",
    "SparseLinear",
    "SparseMLP",
    "layered_blocks",
    "parse_architecture",
]
