"""Optimizer state that follows a changing topology.

When a sparse layer's connections change, per-connection optimizer state (SGD momentum, Adam's
first and second moments) must be carried for the connections that survive and start at zero for
new ones; otherwise a new connection would inherit the momentum of whichever old connection used
to sit at its array index.
"""

from __future__ import annotations

import torch


@torch.no_grad()
def carry_optimizer_state(
    optimizer: torch.optim.Optimizer | None, parameter: torch.nn.Parameter,
    source: torch.Tensor, old_size: int,
) -> None:
    """Re-index ``optimizer``'s state for ``parameter`` after a topology change.

    ``source[k]`` is the old index of new entry ``k``, or −1 for a new connection.  Every state
    tensor with ``old_size`` entries is re-indexed; scalars such as Adam's step count are kept.
    """
    if optimizer is None or parameter not in optimizer.state:
        return
    state = optimizer.state[parameter]
    survivors = source >= 0
    gather = source.clamp(min=0)
    for key, value in list(state.items()):
        if torch.is_tensor(value) and value.dim() == 1 and value.numel() == old_size:
            state[key] = torch.where(survivors, value[gather], value.new_zeros(()))
