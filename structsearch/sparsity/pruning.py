"""Magnitude-percentile pruning of sparse and masked-dense weights.

Pruning a :class:`SparseLinear` removes connections for real (the CSR shrinks); pruning a dense
hidden-to-hidden matrix sets a mask that keeps removed weights at zero through later training.
Both remove exactly ``round(fraction × live weights)`` of the weights alive before the call, the
ones of smallest magnitude.
"""

from __future__ import annotations

import numpy as np
import torch

from structsearch.errors import ConfigError
from structsearch.nn.sparse_linear import SparseLinear
from structsearch.sparsity.evolution import smallest
from structsearch.sparsity.optimizer_state import carry_optimizer_state


def check_fraction(fraction: float) -> None:
    if not 0.0 <= fraction <= 1.0:
        raise ConfigError(f"pruning fraction must lie in [0, 1], got {fraction}")


@torch.no_grad()
def prune_sparse(layer: SparseLinear, fraction: float, optimizer=None) -> int:
    """Remove the ``fraction`` of ``layer``'s connections with the smallest |w|; returns how many."""
    check_fraction(fraction)
    count = int(round(fraction * layer.nnz))
    if count == 0:
        return 0
    drop = np.zeros(layer.nnz, dtype=bool)
    drop[smallest(layer.values.detach().abs().cpu().numpy(), count)] = True
    keep = torch.as_tensor(np.flatnonzero(~drop), device=layer.values.device)
    rows, cols = layer.connections()
    old_size = layer.nnz
    order = layer.set_connectivity(rows[keep], cols[keep], layer.values[keep])
    carry_optimizer_state(optimizer, layer.values, keep[order], old_size)
    return count


@torch.no_grad()
def prune_dense(weight: torch.Tensor, mask: torch.Tensor | None, fraction: float) -> torch.Tensor:
    """A new 0/1 mask removing the ``fraction`` of the live entries of ``weight`` with the smallest |w|."""
    check_fraction(fraction)
    live = torch.ones_like(weight, dtype=torch.bool) if mask is None else mask.bool()
    positions = torch.nonzero(live.reshape(-1)).squeeze(1)
    count = int(round(fraction * positions.numel()))
    new = live.clone().reshape(-1)
    if count:
        magnitudes = weight.detach().reshape(-1)[positions].abs().cpu().numpy()
        new[positions[torch.as_tensor(smallest(magnitudes, count), device=positions.device)]] = False
    return new.reshape(weight.shape)
