"""Training compute in multiply-accumulates (MACs): what a candidate's training costs the budget.

A candidate's ``cost_macs`` counts, over its actual connections:

- **forward**: one MAC per connection per sample for a sparse layer (:class:`SparseMLP`'s layers,
  skip-layer blocks included, and a recurrent net's head); a recurrent layer's input connections
  (every gate's: an LSTM has 4, a GRU 3 per edge) and its hidden-to-hidden weights (gates·hidden²,
  or the nonzeros of its mask) once per time step, over the split's mean sequence length; a
  convolution's weight elements once per output position; a dense linear layer's weights once.
  Embeddings (a look-up), gate nonlinearities and elementwise products, normalisation, pooling and
  activations are not counted;
- **backward**: twice the forward (the input and the weight gradients), the usual convention
  (Kaplan et al. 2020's 6·N·D for training);
- **training**: forward + backward for every training sample of every epoch run, each epoch at the
  connections it trained with (a pruning rule's removals count from the next epoch on);
- **evaluation**: a forward over the validation split after every epoch and over the test split once;
- **rewiring**: SET and SET-motif, one MAC per connection of a rewired layer per update (ranking
  the magnitudes); RigL, a forward and backward of its gradient batch, plus each rewired layer's
  dense gradient (inputs × outputs per sample of that batch).

:func:`candidate_cost` gives the full cost of a training run that has ended, :func:`planned_cost`
the cost of one that runs every epoch (what the budget reserves for a candidate before it trains).
"""

from __future__ import annotations

import torch
from torch import nn

from structsearch.nn.recurrent import SparseRecurrentNet
from structsearch.nn.sparse_linear import SparseLinear
from structsearch.sparsity.rewiring import RewiringRule, RigL
from structsearch.tasks.base import Split, Task


def _mean_length(split: Split) -> float:
    return 1.0 if split.lengths is None else float(split.lengths.float().mean())


def _hooked_macs(model: nn.Module, split: Split) -> float:
    """Forward MACs of one sample by hooks on its convolutions and linear layers (a model that
    is neither a sparse MLP nor a sparse recurrent net: a wired CNN)."""
    total = 0.0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            total += module.weight.numel() * output.shape[-2] * output.shape[-1]
        elif isinstance(module, nn.Linear):
            total += module.weight.numel()
        elif isinstance(module, SparseLinear):
            total += module.nnz * (inputs[0].numel() // module.in_features)

    kinds = (nn.Conv2d, nn.Linear, SparseLinear)
    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, kinds)]
    training = model.training
    try:
        model.eval()
        with torch.no_grad():
            sample = split.x[:1]
            model(sample) if split.lengths is None else model(sample, split.lengths[:1])
    finally:
        model.train(training)
        for hook in hooks:
            hook.remove()
    return total


def connection_counts(model: nn.Module) -> list[int] | None:
    """The connections of each of the model's sparse layers (``model.sparse_layers()``), or None for a
    model without sparse layers."""
    return [layer.nnz for layer in model.sparse_layers()] if hasattr(model, "sparse_layers") else None


def forward_macs(model: nn.Module, split: Split, nnz: list[int] | None = None) -> float:
    """Forward MACs of one sample of ``split`` (the mean over its sequence lengths), counted as the
    module docstring says; ``nnz`` replaces the model's sparse layers' current connection counts
    (one per ``model.sparse_layers()``, as the trainer's history records them)."""
    counts = (connection_counts(model) or []) if nnz is None else list(nnz)
    if isinstance(model, SparseRecurrentNet):
        steps = _mean_length(split)
        hidden = [float(layer.hh_weight.numel() if layer.hh_mask is None else layer.hh_mask.count_nonzero())
                  for layer in model.recurrent]
        return steps * (sum(counts[:-1]) + sum(hidden)) + counts[-1]
    if counts:
        return float(sum(counts))
    return _hooked_macs(model, split)


def _rewiring_macs(model: nn.Module, rule: RewiringRule | None, task: Task, updates: int, forward: float) -> float:
    if rule is None or updates == 0:
        return 0.0
    layers = rule.layers(model)
    if isinstance(rule, RigL):
        batch = min(rule.gradient_batch_size, len(task.train))
        dense = sum(layer.in_features * layer.out_features for layer in layers)
        return updates * batch * (3 * forward + dense)
    return updates * float(sum(layer.nnz for layer in layers))


def candidate_cost(model: nn.Module, task: Task, rule: RewiringRule | None, epochs: int, epochs_run: int,
                   history_nnz: list[list[int]] | None = None, initial_nnz: list[int] | None = None) -> int:
    """The MACs a training run of ``epochs`` (of which ``epochs_run`` ran) cost ``model`` on
    ``task``: training, evaluation and rewiring as the module docstring counts them.

    ``initial_nnz`` are the sparse layers' connection counts it started with and ``history_nnz`` the
    counts after each epoch (the trainer's ``connections`` curve); by default the model's current
    counts throughout."""
    known: dict[tuple, float] = {}  # (split, connection counts) → forward MACs, each counted once

    def forward(split: Split, nnz: list[int] | None) -> float:
        key = (id(split), None if nnz is None else tuple(nnz))
        if key not in known:
            known[key] = forward_macs(model, split, nnz)
        return known[key]

    n_train, n_val, n_test = len(task.train), len(task.validation), len(task.test)
    total, trained_with = 0.0, initial_nnz
    for epoch in range(epochs_run):
        total += 3 * forward(task.train, trained_with) * n_train + forward(task.validation, trained_with) * n_val
        if history_nnz is not None and epoch < len(history_nnz) and history_nnz[epoch]:
            trained_with = history_nnz[epoch]
    updates = sum(rule.active(epoch, epochs) for epoch in range(epochs_run)) if rule is not None else 0
    total += _rewiring_macs(model, rule, task, updates, forward(task.train, initial_nnz))
    if epochs_run:
        total += forward(task.test, trained_with) * n_test
    return int(round(total))


def planned_cost(model: nn.Module, task: Task, rule: RewiringRule | None, epochs: int) -> int:
    """The MACs of training ``model`` for all ``epochs`` (no early stop): what the budget reserves."""
    return candidate_cost(model, task, rule, epochs, epochs)


def format_macs(macs: float) -> str:
    """``macs`` in a friendly unit: ``3.2 GMAC``, ``1.05 TMAC``."""
    for unit, scale in (("PMAC", 1e15), ("TMAC", 1e12), ("GMAC", 1e9), ("MMAC", 1e6), ("kMAC", 1e3)):
        if abs(macs) >= scale:
            return f"{macs / scale:.3g} {unit}"
    return f"{macs:.0f} MAC"
