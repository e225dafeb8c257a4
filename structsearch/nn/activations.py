"""Activations used by sparse MLPs: ReLU, tanh, SReLU (as in SET) and All-ReLU."""

from __future__ import annotations

import torch
from torch import nn

from structsearch.registry import Registry


class SReLU(nn.Module):
    """S-shaped ReLU (Jin et al. 2016), the activation of the SET-MLP (Mocanu et al. 2018).

    Piecewise linear with learnable thresholds ``t_left < t_right`` and slopes per neuron:
    ``t_r + a_r (x − t_r)`` above ``t_r``, ``x`` between, ``t_l + a_l (x − t_l)`` below ``t_l``.
    ``features`` is the size of dimension ``dim``.
    """

    def __init__(self, features: int, dim: int = -1, t_left: float = 0.0, a_left: float = 0.2,
                 t_right: float = 1.0, a_right: float = 1.0):
        super().__init__()
        self.features, self.dim = features, dim
        self.t_left = nn.Parameter(torch.full((features,), t_left))
        self.a_left = nn.Parameter(torch.full((features,), a_left))
        self.t_right = nn.Parameter(torch.full((features,), t_right))
        self.a_right = nn.Parameter(torch.full((features,), a_right))

    def _shape(self, p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[self.dim] = self.features
        return p.view(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tl, al = self._shape(self.t_left, x), self._shape(self.a_left, x)
        tr, ar = self._shape(self.t_right, x), self._shape(self.a_right, x)
        above = tr + ar * (x - tr)
        below = tl + al * (x - tl)
        return torch.where(x >= tr, above, torch.where(x <= tl, below, x))

    def extra_repr(self) -> str:
        return f"features={self.features}"


class AllReLU(nn.Module):
    """All-ReLU (Curci, Mocanu & Pechenizkiy 2021): ``x`` for ``x > 0``; below zero the slope is
    ``−α`` on even hidden layers and ``α`` on odd ones, so negative inputs still carry signal."""

    def __init__(self, layer_index: int, alpha: float = 0.6):
        super().__init__()
        self.alpha = alpha if layer_index % 2 else -alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x > 0, x, self.alpha * x)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


# name → factory(features, layer_index, dim)
ACTIVATIONS = Registry("activation", {
    "relu": lambda features, layer_index, dim: nn.ReLU(),
    "tanh": lambda features, layer_index, dim: nn.Tanh(),
    "srelu": lambda features, layer_index, dim: SReLU(features, dim=dim),
    "all-relu": lambda features, layer_index, dim: AllReLU(layer_index),
})


def make_activation(name: str, features: int, layer_index: int, dim: int = -1) -> nn.Module:
    return ACTIVATIONS.lookup(name)(features, layer_index, dim)
