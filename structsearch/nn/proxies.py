"""Zero-cost proxies: scores of an untrained network from one batch, cheap signals of how well it
will train (Abdelfattah et al. 2021, "Zero-Cost Proxies for Lightweight NAS"; Mellor et al. 2021,
"Neural Architecture Search without Training").

Every proxy works on the truly sparse model: gradients are taken with respect to the stored values
of each :class:`~structsearch.nn.sparse_linear.SparseLinear` (and the dense parameters beside them:
biases, embeddings, recurrent matrices), never through a dense out × in weight.

- ``grad_norm``: Σ over parameter tensors of ‖∂L/∂θ‖₂ on the batch.
- ``snip``: Σ |θ ⊙ ∂L/∂θ| (connection sensitivity, Lee et al. 2019).
- ``fisher``: Σ over hidden neurons of ½ · mean over the batch of (a ⊙ ∂L/∂a)², a the neuron's
  activation (Turner et al. 2020; per neuron, where a convolution sums over its feature map).
- ``synflow``: Σ θ ⊙ ∂R/∂θ with every parameter replaced by |θ| and R the sum of the outputs for an
  all-ones input (Tanaka et al. 2020), in float64; data-free.  A sequence model's embedding takes
  codes, not vectors: there R is the output for the batch's codes.
- ``naswot``: log det(K + I) with K[i, j] the number of hidden units on which samples i and j agree
  (both active or both inactive; active = pre-activation > 0 in an MLP, hidden state > 0 in a
  recurrent layer): Mellor et al.'s activation-pattern score log |det K|, with a ridge of one unit,
  because K is singular (−∞) whenever two samples share a code or a small network has fewer units
  than the batch has samples.

:func:`score` computes the named ones and the seconds they took; the model is left as it was
(weights, gradients, training mode).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from structsearch.errors import ConfigError

PROXIES = ("synflow", "snip", "grad_norm", "fisher", "naswot")


def check_proxies(names: Sequence[str]) -> list[str]:
    """``names`` if every one is known; else a one-line ConfigError listing the known ones."""
    unknown = [name for name in names if name not in PROXIES]
    if unknown:
        raise ConfigError(f"unknown proxy {unknown[0]!r} (known: {', '.join(PROXIES)})")
    return list(names)


def _sites(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """Where hidden activity is observed: (module, "input" | "output") pairs.  An MLP's hidden
    activation modules (their input is the pre-activation, neurons × batch); a recurrent net's
    recurrent layers (their output is the hidden state, batch × time × neurons)."""
    if hasattr(model, "activations"):
        return [(module, "input") for module in model.activations]
    if hasattr(model, "recurrent"):
        return [(module, "output") for module in model.recurrent]
    return []


@contextmanager
def _observed(model: nn.Module, keep_grad: bool):
    """Records the tensors at the model's activity sites during a forward pass."""
    seen: list[torch.Tensor] = []

    def hook(module, inputs, output, where):
        tensor = inputs[0] if where == "input" else (output[0] if isinstance(output, tuple) else output)
        if keep_grad and tensor.requires_grad:
            tensor.retain_grad()
        seen.append(tensor)

    handles = [module.register_forward_hook(lambda m, i, o, where=where: hook(m, i, o, where))
               for module, where in _sites(model)]
    try:
        yield seen
    finally:
        for handle in handles:
            handle.remove()


def _neurons_first(tensor: torch.Tensor, where: str) -> torch.Tensor:
    """(samples × units): an MLP's activity is neurons × batch; a recurrent layer's is batch × time ×
    neurons, whose units are (time, neuron) pairs."""
    return tensor.t() if where == "input" else tensor.reshape(tensor.shape[0], -1)


def _gradient_proxies(model, inputs, y, loss_fn, names) -> dict[str, float]:
    params = [p for p in model.parameters() if p.requires_grad]
    model.zero_grad(set_to_none=True)
    wanted = "fisher" in names
    with _observed(model, keep_grad=wanted) as seen:
        loss = loss_fn(model(*inputs), y)
        loss.backward()
    out = {}
    grads = [(p, p.grad) for p in params if p.grad is not None]
    if "grad_norm" in names:
        out["grad_norm"] = float(sum(g.norm() for _, g in grads))
    if "snip" in names:
        out["snip"] = float(sum((p.detach() * g).abs().sum() for p, g in grads))
    if wanted:
        sites = [where for _, where in _sites(model)]
        total = 0.0
        for tensor, where in zip(seen, sites, strict=False):
            if tensor.grad is None:
                continue
            product = _neurons_first(tensor.detach() * tensor.grad, where)
            total += float(0.5 * (product ** 2).mean(0).sum())
        out["fisher"] = total
    model.zero_grad(set_to_none=True)
    return out


def _synflow(model, inputs) -> float:
    with torch.no_grad():
        saved = {name: value.clone() for name, value in model.state_dict().items()}
    model.double()
    try:
        with torch.no_grad():
            for value in model.state_dict().values():
                if value.is_floating_point():
                    value.abs_()
        first = inputs[0]
        ones = first if not first.is_floating_point() else torch.ones_like(first[:1], dtype=torch.float64)
        rest = tuple(x[: ones.shape[0]] for x in inputs[1:])
        model.zero_grad(set_to_none=True)
        model(ones, *rest).sum().backward()
        total = sum(float((p.detach() * p.grad).sum()) for p in model.parameters() if p.grad is not None)
    finally:
        model.float()
        model.zero_grad(set_to_none=True)
        model.load_state_dict(saved)
    return total


@torch.no_grad()
def _naswot(model, inputs) -> float:
    codes = []
    with _observed(model, keep_grad=False) as seen:
        model(*inputs)
    for tensor, (_, where) in zip(seen, _sites(model), strict=False):
        codes.append((_neurons_first(tensor, where) > 0).double())
    if not codes:
        return math.nan
    c = torch.cat(codes, dim=1)
    k = c @ c.t() + (1 - c) @ (1 - c).t()
    # K is singular as soon as two samples share a code or the units are fewer than the samples
    # (small candidates); a ridge of one unit keeps the score finite and ordered
    return float(torch.linalg.slogdet(k + torch.eye(k.shape[0], dtype=k.dtype))[1])


def score(model: nn.Module, inputs: tuple, y: torch.Tensor, loss_fn: Callable,
          names: Sequence[str] = PROXIES) -> tuple[dict[str, float], float]:
    """The proxies ``names`` of ``model`` on one batch (``model(*inputs)``, targets ``y``), and the
    seconds they took.  The model's weights, gradients and mode are as they were afterwards."""
    names = check_proxies(names)
    started = time.perf_counter()
    was_training = model.training
    model.train()  # the gradients a training step would see (dropout included)
    try:
        values = {}
        if {"grad_norm", "snip", "fisher"} & set(names):
            values.update(_gradient_proxies(model, inputs, y, loss_fn, names))
        model.eval()
        if "synflow" in names:
            values["synflow"] = _synflow(model, inputs)
        if "naswot" in names:
            values["naswot"] = _naswot(model, inputs)
    finally:
        model.train(was_training)
    return {name: values[name] for name in names}, time.perf_counter() - started
