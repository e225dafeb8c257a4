"""``SparseLinear``: a linear layer whose weight is a sparse matrix, trained with sparse kernels.

The weight ``W`` (out × in) is stored as its values — the one trainable parameter — in
*column-major* order (the CSR of ``Wᵀ``: source neuron by source neuron, targets ascending), and the
structure as buffers: that CSR of ``Wᵀ`` and a CSR of ``W`` that reaches the same values through an
int32 permutation.  With ``xᵀ`` the input laid out feature-major:

* forward: ``yᵀ = W · xᵀ`` (CSR × dense, values read through the permutation),
* weight gradient: ``(∂L/∂yᵀ · x)`` at the existing connections only, and
* input gradient: ``∂L/∂xᵀ = Wᵀ · ∂L/∂yᵀ``, both over the CSR of ``Wᵀ``.

On the CPU these run in compiled kernels when they can be built (:mod:`structsearch.nn.kernels`):
both gradients come from one pass over the CSR of ``Wᵀ``, which reads every row of ``∂L/∂yᵀ`` once
per connection for both and streams the values and their gradients in order (the column-major
order exists for this pass: in row-major order it read and wrote them at random).  Otherwise, and
on CUDA, they run in ``torch.sparse`` (the weight gradient with ``torch.sparse.sampled_addmm``).

Every step costs O(connections × batch); no ``out × in`` dense array is ever made.  A topology
change (:meth:`SparseLinear.set_connectivity`) is O(connections) and reports, for each new
connection, which old one it continues so that optimizer state can follow
(:func:`structsearch.sparsity.optimizer_state.carry_optimizer_state`).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import nn

from structsearch.nn import kernels

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")


INDEX_DTYPE = torch.int32  # what the CPU (MKL) and CUDA (cuSPARSE) kernels take without a copy


def stable_argsort(keys: torch.Tensor, upper: int) -> torch.Tensor:
    """Stable argsort of non-negative int64 ``keys`` below ``upper``.

    On the CPU this uses numpy: a radix sort when the keys fit 16 bits, and otherwise timsort,
    which is linear on the nearly sorted keys topology updates produce (two sorted runs).
    """
    if keys.device.type != "cpu":
        return torch.sort(keys, stable=True).indices
    array = keys.numpy()
    if upper <= 1 << 16:
        array = array.astype(np.uint16)
    return torch.from_numpy(np.argsort(array, kind="stable"))


def _expanded(compressed: torch.Tensor) -> torch.Tensor:
    """The index of every entry of a compressed (CSR) pointer array: the inverse of ``_compressed``."""
    counts = (compressed[1:] - compressed[:-1]).long()
    return torch.repeat_interleave(torch.arange(counts.numel(), device=counts.device), counts)


def _compressed(counts_of: torch.Tensor, length: int) -> torch.Tensor:
    crow = torch.zeros(length + 1, dtype=torch.int64, device=counts_of.device)
    torch.cumsum(torch.bincount(counts_of, minlength=length), 0, out=crow[1:])
    return crow.to(INDEX_DTYPE)


def _check_compressed(crow: torch.Tensor, col: torch.Tensor, n_rows: int, n_cols: int,
                      names: tuple[str, str]) -> int:
    """Check one CSR (row pointers ``crow``, column indices ``col``) of an ``n_rows × n_cols``
    matrix: dtype, lengths, pointers from 0 that never decrease, indices in range and strictly
    ascending within a row (no duplicate).  The number of entries; a ValueError naming the tensor."""
    for tensor, name in zip((crow, col), names, strict=True):
        if tensor.dtype != INDEX_DTYPE or tensor.dim() != 1:
            raise ValueError(f"{name}: expected a 1-d int32 tensor, got {tuple(tensor.shape)} {tensor.dtype}")
    if crow.numel() != n_rows + 1:
        raise ValueError(f"{names[0]}: expected {n_rows + 1} row pointers, got {crow.numel()}")
    crow = crow.long()
    if int(crow[0]) != 0 or bool((crow[1:] < crow[:-1]).any()):
        raise ValueError(f"{names[0]}: row pointers must start at 0 and never decrease")
    count = int(crow[-1])
    if col.numel() != count:
        raise ValueError(f"{names[1]}: expected {count} indices (the last row pointer), got {col.numel()}")
    if count:
        low, high = int(col.min()), int(col.max())
        if low < 0 or high >= n_cols:
            raise ValueError(f"{names[1]}: index {low if low < 0 else high} outside [0, {n_cols})")
        linear = _expanded(crow) * n_cols + col.long()
        if count > 1 and bool((linear[1:] <= linear[:-1]).any()):
            raise ValueError(f"{names[1]}: indices must ascend within each row, without duplicates")
    return count


class _SparseMatmul(torch.autograd.Function):
    """``yᵀ = W · xᵀ + b`` in ``torch.sparse``, for CUDA and where the compiled kernels are missing
    (the compiled kernels have the same function in C++: ``sparse_matmul``).

    ``values`` are in column-major order, aligned with the CSR of ``Wᵀ`` (``t_crow``, ``t_col``);
    the CSR of ``W`` (``crow``, ``col``) reads them through ``perm``.  The value gradient exists
    only at the connections (``torch.sparse.sampled_addmm``).
    """

    @staticmethod
    def forward(ctx, values, bias, xt, crow, col, perm, t_crow, t_col, n_out, n_in):
        ctx.save_for_backward(values, xt, crow, col, perm, t_crow, t_col)
        ctx.shape = (n_out, n_in)
        ctx.has_bias = bias is not None
        weight = torch.sparse_csr_tensor(crow, col, values[perm], (n_out, n_in))
        # addmm with the bias as its dense input: one fused kernel, no separate broadcast add
        start = bias[:, None] if bias is not None else xt.new_zeros(1, 1).expand(n_out, xt.shape[1])
        return torch.addmm(start, weight, xt, beta=1.0 if bias is not None else 0.0)

    @staticmethod
    def backward(ctx, grad_yt):
        values, xt, crow, col, perm, t_crow, t_col = ctx.saved_tensors
        n_out, n_in = ctx.shape
        grad_yt = grad_yt.contiguous()
        grad_values = grad_bias = grad_xt = None
        if ctx.has_bias and ctx.needs_input_grad[1]:
            grad_bias = grad_yt.sum(dim=1)
        if ctx.needs_input_grad[0]:
            # (∂L/∂yᵀ · x) at the pattern (beta = 0: the pattern's values are not read, so they
            # need no permuting); x = xtᵀ is a view whose columns are contiguous rows of xt
            pattern = torch.sparse_csr_tensor(crow, col, values, (n_out, n_in))
            sampled = torch.sparse.sampled_addmm(pattern, grad_yt, xt.t(), beta=0.0)
            grad_values = torch.empty_like(values)
            grad_values[perm] = sampled.values()  # row-major → column-major
        if ctx.needs_input_grad[2]:
            weight_t = torch.sparse_csr_tensor(t_crow, t_col, values, (n_in, n_out))
            zero = grad_yt.new_zeros(1, 1).expand(n_in, grad_yt.shape[1])
            grad_xt = torch.addmm(zero, weight_t, grad_yt, beta=0.0)
        return grad_values, grad_bias, grad_xt, None, None, None, None, None, None, None


def sparse_matmul(values, bias, xt, structure, n_out: int, n_in: int) -> torch.Tensor:
    """``W · xᵀ (+ b)`` with gradients, in the compiled kernels when they apply, else ``torch.sparse``.

    ``structure`` is ``(crow, col, perm, t_crow, t_col)`` (:meth:`SparseLinear.structure`).
    """
    if kernels.usable(xt):  # the C++ function makes xt contiguous itself
        return kernels.compiled().sparse_matmul(values, bias, xt, structure)
    return _SparseMatmul.apply(values, bias, xt.contiguous(), *structure, n_out, n_in)


STRUCTURE = ("crow_indices", "col_indices", "perm", "t_crow_indices", "t_col_indices")


def _layout(rows: torch.Tensor, cols: torch.Tensor, n_out: int, n_in: int) -> tuple[torch.Tensor, dict]:
    """The column-major order of int64 connections (rows, cols) and the buffers of that structure.

    ``order`` sorts the connections by (col, row): the values' order, aligned with the CSR of Wᵀ
    (``t_crow_indices``, ``t_col_indices``).  The CSR of W (``crow_indices``, ``col_indices``)
    reads the values through ``perm``.
    """
    if rows.device.type == "cpu" and kernels.compiled() is not None:  # counting sorts, O(n + n_out + n_in)
        order, *buffers = kernels.compiled().layout(rows, cols, n_out, n_in)
        return order, dict(zip(STRUCTURE, buffers, strict=True))
    order = stable_argsort(cols * n_out + rows, n_out * n_in)
    rows, cols = rows[order], cols[order]
    if cols.numel() > 1:
        linear = cols * n_out + rows
        if bool((linear[1:] == linear[:-1]).any()):
            raise ValueError("duplicate connection in a SparseLinear layer")
    # a stable sort by row keeps the columns ascending within each row
    perm = stable_argsort(rows, n_out).to(rows.device)
    return order, {
        "crow_indices": _compressed(rows, n_out), "col_indices": cols[perm].to(INDEX_DTYPE),
        "perm": perm.to(INDEX_DTYPE), "t_crow_indices": _compressed(cols, n_in),
        "t_col_indices": rows.to(INDEX_DTYPE),
    }


def sparse_matmul_t(layer: SparseLinear, xt: torch.Tensor, with_bias: bool = True) -> torch.Tensor:
    """``W · xᵀ (+ b)`` for feature-major input ``xt`` (in × batch); the output is (out × batch)."""
    return sparse_matmul(layer.values, layer.bias if with_bias else None, xt, layer.structure(),
                         layer.out_features, layer.in_features)


class SparseLinear(nn.Module):
    """``y = x Wᵀ + b`` with ``W`` sparse (CSR), built from explicit connections.

    Parameters
    ----------
    in_features, out_features : int
        Layer shape.
    rows, cols : array-like of int
        The connections: target neuron ``rows[k]`` reads source neuron ``cols[k]``.  Duplicates are
        an error.
    bias : bool
        Whether the layer has a bias.
    init : {"he", "xavier"}
        Scale of the initial weights, computed on each neuron's *actual* fan-in (and fan-out for
        Xavier), not on the dense one.
    generator : torch.Generator, optional
        Source of the initial weights.
    device, dtype : optional
        Where and in which float type the values live (CPU: the C++ kernels; CUDA: torch.sparse).

    References
    ----------
    Mocanu et al. (2018), Nature Communications 9, 2383 (truly sparse SET layers).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        rows,
        cols,
        bias: bool = True,
        init: str = "he",
        generator: torch.Generator | None = None,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.init = init
        factory = {"device": device, "dtype": dtype or torch.get_default_dtype()}
        self.values = nn.Parameter(torch.empty(0, **factory))
        for name in STRUCTURE:
            self.register_buffer(name, torch.empty(0, dtype=INDEX_DTYPE, device=device))
        self.bias = nn.Parameter(torch.empty(out_features, **factory)) if bias else None
        rows = torch.as_tensor(np.asarray(rows), dtype=torch.int64, device=device)
        cols = torch.as_tensor(np.asarray(cols), dtype=torch.int64, device=device)
        self.set_connectivity(rows, cols, torch.zeros(rows.numel(), **factory))
        self.reset_parameters(generator)

    # ------------------------------------------------------------------ structure

    @property
    def nnz(self) -> int:
        return int(self.values.numel())

    @property
    def density(self) -> float:
        return self.nnz / (self.in_features * self.out_features)

    def structure(self) -> list[torch.Tensor]:
        """(crow, col, perm, t_crow, t_col): the CSR of ``W`` with its permutation into ``values``,
        and the CSR of ``Wᵀ``, which ``values`` follow."""
        return [self.crow_indices, self.col_indices, self.perm, self.t_crow_indices, self.t_col_indices]

    @torch.no_grad()
    def check_structure(self) -> None:
        """Check that the structure is whole and consistent, so that no kernel can read out of
        bounds: index ranges, row pointers, lengths and the permutation between the two CSRs.  A
        ValueError names the tensor (for structures loaded from files)."""
        count = _check_compressed(self.crow_indices.cpu(), self.col_indices.cpu(), self.out_features,
                                  self.in_features, ("crow_indices", "col_indices"))
        if _check_compressed(self.t_crow_indices.cpu(), self.t_col_indices.cpu(), self.in_features,
                             self.out_features, ("t_crow_indices", "t_col_indices")) != count:
            raise ValueError(f"t_crow_indices: {int(self.t_crow_indices[-1])} connections, but crow_indices "
                             f"has {count}")
        if self.values.dim() != 1 or self.values.numel() != count or not self.values.is_floating_point():
            raise ValueError(f"values: expected {count} floating-point values, got {tuple(self.values.shape)}")
        if self.bias is not None and tuple(self.bias.shape) != (self.out_features,):
            raise ValueError(f"bias: expected {self.out_features} values, got {tuple(self.bias.shape)}")
        perm = self.perm.cpu()
        if perm.dtype != INDEX_DTYPE or perm.dim() != 1 or perm.numel() != count:
            raise ValueError(f"perm: expected {count} int32 indices, got {tuple(perm.shape)} {perm.dtype}")
        perm = perm.long()
        if count and (int(perm.min()) < 0 or int(perm.max()) >= count
                      or bool((torch.bincount(perm, minlength=count) != 1).any())):
            raise ValueError("perm: not a permutation of the connections")
        # entry i of the CSR of W is value perm[i], whose place in the CSR of Wᵀ says (row, col)
        rows = _expanded(self.crow_indices.cpu())
        t_cols = _expanded(self.t_crow_indices.cpu())
        if not (torch.equal(self.t_col_indices.cpu().long()[perm], rows)
                and torch.equal(t_cols[perm], self.col_indices.cpu().long())):
            raise ValueError("perm: the two CSRs do not describe the same connections through it")

    def row_indices(self) -> torch.Tensor:
        """The target neuron of every stored value (in the order of ``values``)."""
        return self.t_col_indices.long()

    def connections(self) -> tuple[torch.Tensor, torch.Tensor]:
        """int64 (rows, cols) of every connection, in the order of ``values``."""
        return self.row_indices(), _expanded(self.t_crow_indices)

    def linear_indices(self) -> torch.Tensor:
        """``row * in_features + col`` (int64) for every connection, in the order of ``values``."""
        rows, cols = self.connections()
        return rows * self.in_features + cols

    def fan_in(self) -> torch.Tensor:
        return (self.crow_indices[1:] - self.crow_indices[:-1]).long()

    def fan_out(self) -> torch.Tensor:
        return (self.t_crow_indices[1:] - self.t_crow_indices[:-1]).long()

    @torch.no_grad()
    def set_connectivity(
        self, rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor
    ) -> torch.Tensor:
        """Replace the connections with (rows, cols, values); returns the permutation applied.

        The returned ``order`` satisfies ``new_values = values[order]``: callers that track where
        each connection came from apply the same permutation.
        """
        rows = rows.to(self.crow_indices.device, torch.int64)
        cols = cols.to(self.crow_indices.device, torch.int64)
        if rows.numel():
            if int(rows.min()) < 0 or int(rows.max()) >= self.out_features:
                raise ValueError(f"row index outside [0, {self.out_features})")
            if int(cols.min()) < 0 or int(cols.max()) >= self.in_features:
                raise ValueError(f"column index outside [0, {self.in_features})")
        order, structure = _layout(rows, cols, self.out_features, self.in_features)
        for name, tensor in structure.items():
            setattr(self, name, tensor)
        self.values.data = values.to(self.values.device, self.values.dtype)[order].contiguous()
        return order

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """He or Xavier normal initialisation on the fan-in (fan-out) each neuron really has.

        The noise is drawn in row-major order (target by target), so a seed gives the same
        weights whatever order the values are stored in.
        """
        fan_in = self.fan_in().clamp(min=1).to(self.values.dtype)
        rows = _expanded(self.crow_indices)
        if self.init == "he":
            std = torch.sqrt(2.0 / fan_in)[rows]
        elif self.init == "xavier":
            fan_out = self.fan_out().clamp(min=1).to(self.values.dtype)
            std = torch.sqrt(2.0 / (fan_in[rows] + fan_out[self.col_indices.long()]))
        else:
            raise ValueError(f"init must be 'he' or 'xavier', got {self.init!r}")
        noise = torch.randn(self.nnz, generator=generator, dtype=self.values.dtype)
        self.values[self.perm.long()] = noise.to(self.values.device) * std
        if self.bias is not None:
            self.bias.zero_()

    def to_dense(self) -> torch.Tensor:
        """The dense weight (out × in). For tests and small layers only."""
        weight = torch.zeros(
            self.out_features, self.in_features, dtype=self.values.dtype, device=self.values.device
        )
        weight[self.connections()] = self.values.detach()
        return weight

    # ------------------------------------------------------------------ compute

    # RigL sets ``capture`` for one step to see this layer's input and output gradient
    capture = False
    captured: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward_t(self, xt: torch.Tensor) -> torch.Tensor:
        """Feature-major forward: ``xt`` is (in × batch), the result (out × batch)."""
        if self.capture:
            return self._forward_capturing(xt)
        return sparse_matmul_t(self, xt)

    def _forward_capturing(self, xt: torch.Tensor) -> torch.Tensor:
        yt = sparse_matmul_t(self, xt, with_bias=False)
        if yt.requires_grad:
            saved = xt.detach()

            def keep(grad: torch.Tensor) -> None:
                self.captured = (saved, grad.detach())

            yt.register_hook(keep)
        return yt if self.bias is None else yt + self.bias[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        y = self.forward_t(x.reshape(-1, self.in_features).t()).t()
        return y.reshape(*shape[:-1], self.out_features)

    # ------------------------------------------------------------------ state_dict

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # a saved layer may have a different number of connections: adopt its structure first
        key = prefix + "values"
        if prefix + "t_perm" in state_dict:
            _upgrade_row_major(state_dict, prefix, self.out_features, self.in_features)
        if key in state_dict:
            with torch.no_grad():
                for name in STRUCTURE:
                    if prefix + name in state_dict:
                        setattr(
                            self, name, torch.empty_like(state_dict[prefix + name], device=self.crow_indices.device)
                        )
                self.values.data = torch.empty_like(state_dict[key], device=self.values.device, dtype=self.values.dtype)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"connections={self.nnz}, density={self.density:.4g}, bias={self.bias is not None}"
        )


def _upgrade_row_major(state_dict: dict, prefix: str, n_out: int, n_in: int) -> None:
    """Rewrite, in place, a layer saved in the earlier layout (values in row-major CSR order and a
    ``t_perm`` buffer) into the column-major one."""
    crow, col = state_dict[prefix + "crow_indices"], state_dict[prefix + "col_indices"]
    count = _check_compressed(crow.cpu(), col.cpu(), n_out, n_in, (prefix + "crow_indices", prefix + "col_indices"))
    if state_dict[prefix + "values"].shape != (count,):
        raise ValueError(f"{prefix}values: expected {count} values, got {tuple(state_dict[prefix + 'values'].shape)}")
    order, structure = _layout(_expanded(crow.cpu()), col.long().cpu(), n_out, n_in)
    del state_dict[prefix + "t_perm"]
    state_dict[prefix + "values"] = state_dict[prefix + "values"][order.to(crow.device)]
    state_dict.update({prefix + name: tensor.to(crow.device) for name, tensor in structure.items()})


def check_sparse_layers(model: nn.Module) -> None:
    """:meth:`SparseLinear.check_structure` of every sparse layer; a ValueError names the layer and
    the tensor (``layers.0.col_indices: index 1000000 outside [0, 64)``)."""
    for name, module in model.named_modules():
        if isinstance(module, SparseLinear):
            try:
                module.check_structure()
            except ValueError as error:
                raise ValueError(f"{name + '.' if name else ''}{error}") from None


class MaskedLinear(nn.Module):
    """Reference only: a dense weight multiplied by a 0/1 mask (for tests and benchmarks)."""

    def __init__(self, in_features: int, out_features: int, rows, cols, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.zeros(out_features, in_features))
        self.register_buffer("mask", torch.zeros(out_features, in_features))
        self.mask[torch.as_tensor(np.asarray(rows)), torch.as_tensor(np.asarray(cols))] = 1.0
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        with torch.no_grad():
            bound = 1.0 / math.sqrt(max(1.0, float(self.mask.sum(1).mean())))
            self.weight.uniform_(-bound, bound).mul_(self.mask)

    @classmethod
    def from_sparse(cls, layer: SparseLinear) -> MaskedLinear:
        rows, cols = layer.connections()
        masked = cls(layer.in_features, layer.out_features, rows.cpu(), cols.cpu(), layer.bias is not None)
        masked = masked.to(layer.values.dtype)
        with torch.no_grad():
            masked.weight.copy_(layer.to_dense())
            if layer.bias is not None:
                masked.bias.copy_(layer.bias)
        return masked

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight * self.mask, self.bias)
