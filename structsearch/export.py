"""Export a trained network so that it runs without structsearch: ``torch.export`` and ONNX.

structsearch's layers are CSR modules with C++ kernels of their own; neither a plain PyTorch
install nor an ONNX runtime knows them.  :func:`plain_model` makes a copy in standard operations
only: every :class:`~structsearch.nn.sparse_linear.SparseLinear` becomes a dense linear map with
zeros where no connection is (the same function: ``W x + b`` with ``W`` the layer's
:meth:`~structsearch.nn.sparse_linear.SparseLinear.to_dense`), and a recurrent network runs a fixed
number of steps (the padded length of its input codes) with finished sequences masked, instead of
stopping at the longest sequence of each batch.  The copy is then traced:

* ``torch`` — :func:`torch.export.export` into an ``ExportedProgram`` saved with
  :func:`torch.export.save` (a ``.pt2`` file): ``torch.export.load(path).module()(x)`` runs it with
  plain torch, structsearch not installed.  The batch dimension is dynamic.
* ``onnx`` — :func:`torch.onnx.export` (the dynamo exporter) into an ``.onnx`` file with dense
  weights, checked by ``onnx.checker``; onnxruntime runs it.

Connections stay connections: a weight that was not a connection is an exact zero in the file.
"""

from __future__ import annotations

import copy
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from structsearch.errors import ConfigError, DataError
from structsearch.nn.recurrent import SparseRecurrentNet
from structsearch.nn.sparse_linear import SparseLinear

FORMATS = ("torch", "onnx")


class DenseLinear(nn.Module):
    """A SparseLinear as a dense weight with zeros off its connections (standard operations only)."""

    def __init__(self, layer: SparseLinear):
        super().__init__()
        self.weight = nn.Parameter(layer.to_dense().detach().clone(), requires_grad=False)
        self.bias = None if layer.bias is None else nn.Parameter(layer.bias.detach().clone(), requires_grad=False)
        self.in_features, self.out_features = layer.in_features, layer.out_features

    def forward_t(self, xt: torch.Tensor) -> torch.Tensor:
        """Feature-major, as SparseLinear.forward_t: ``xt`` (in × batch) → (out × batch)."""
        out = self.weight @ xt
        return out if self.bias is None else out + self.bias[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight, self.bias)


class FixedLengthRecurrent(nn.Module):
    """A :class:`~structsearch.nn.recurrent.SparseRecurrentNet` over codes padded to a fixed length:
    every step runs, a finished sequence keeps its state (the same outputs as the original, whose
    loop stops at the batch's longest sequence)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        net = self.net
        steps = codes.shape[1]
        batch = torch.arange(codes.shape[0], device=codes.device)
        embedded = net.embedding(codes).permute(1, 2, 0)  # (T, emb, B)
        sequences = [embedded]
        finals = [embedded[lengths - 1, :, batch].t()]
        alive = (torch.arange(steps, device=codes.device)[:, None] < lengths[None, :]).to(embedded.dtype)
        for layer, sources in zip(net.recurrent, net.sources[:-1], strict=True):
            inputs = sequences[sources[0]] if len(sources) == 1 else torch.cat([sequences[s] for s in sources], dim=1)
            width = inputs.shape[1]
            projected = layer.input.forward_t(inputs.permute(1, 0, 2).reshape(width, steps * codes.shape[0]))
            projected = projected.reshape(layer.gates * layer.hidden, steps, codes.shape[0])
            weight = layer.hidden_weight()
            h = inputs.new_zeros(layer.hidden, codes.shape[0])
            c = inputs.new_zeros(layer.hidden, codes.shape[0]) if layer.cell == "lstm" else None
            outputs = []
            for t in range(steps):
                gates_h = torch.addmm(layer.hh_bias[:, None], weight, h)
                h_new, c_new = layer.step(projected[:, t], gates_h, h, c)
                keep = alive[t][None, :]
                h = torch.lerp(h, h_new, keep)
                if c is not None:
                    c = torch.lerp(c, c_new, keep)
                outputs.append(h)
            sequences.append(torch.stack(outputs))
            finals.append(h)
        head = net.sources[-1]
        features = finals[head[0]] if len(head) == 1 else torch.cat([finals[s] for s in head], dim=0)
        return net.head.forward_t(features).t()


def plain_model(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in standard operations (see the module docstring), in evaluation mode."""
    plain = copy.deepcopy(model).cpu().eval()
    for module in list(plain.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, SparseLinear):
                setattr(module, name, DenseLinear(child))
    if isinstance(plain, SparseRecurrentNet):
        plain = FixedLengthRecurrent(plain)
    for parameter in plain.parameters():
        parameter.requires_grad_(False)
    return plain.eval()


def example_inputs(model: nn.Module, task, rows: int = 8) -> tuple[torch.Tensor, ...]:
    """A batch of the task's real test inputs, as the model takes them."""
    split = task.test
    index = torch.arange(min(rows, len(split)))
    if split.lengths is not None:
        return split.x[index], split.lengths[index]
    return (split.x[index],)


def export(model: nn.Module, inputs: tuple[torch.Tensor, ...], to: str, out: str | Path) -> Path:
    """Write ``model`` (a structsearch network) as ``to`` (``torch`` or ``onnx``) to ``out``,
    traced on ``inputs``; the batch dimension stays dynamic."""
    if to not in FORMATS:
        raise ConfigError(f"--to {to!r}: unknown export format; known: {', '.join(FORMATS)}")

    for name in ("torch.export", "torch.onnx", "torch._export", "onnxscript"):  # its progress notes are not ours
        logging.getLogger(name).setLevel(logging.ERROR)
    out = Path(out)
    plain = plain_model(model)
    batch = torch.export.Dim("batch", min=1)
    shapes = tuple({0: batch} for _ in inputs)
    with torch.no_grad():
        try:
            program = torch.export.export(plain, inputs, dynamic_shapes=shapes)
        except Exception as error:  # torch raises many kinds for an operation it cannot trace
            raise DataError(f"this model cannot be exported ({str(error).splitlines()[0][:200]})") from None
        partial = out.with_name(f".partial-{out.name}")  # keeps the suffix torch.export.save expects
        try:
            if to == "torch":
                torch.export.save(program, partial)
            else:
                _onnx(program, inputs, partial)
            partial.replace(out)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise DataError(f"{out}: cannot write ({(error.strerror or str(error)).lower()})") from None
    return out


def _onnx(program, inputs, path: Path) -> None:
    import onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onnx_program = torch.onnx.export(program, inputs, dynamo=True, verbose=False, optimize=True)
    onnx_program.save(str(path))
    onnx.checker.check_model(str(path))


def size(model: nn.Module) -> str:
    """The network's connections (its sparse layers' weights), or its parameters where it has no
    sparse layer (a convolutional network)."""
    sparse = [module.nnz for module in model.modules() if isinstance(module, SparseLinear)]
    if sparse:
        return f"{int(sum(sparse)):,} connections"
    return f"{sum(p.numel() for p in model.parameters()):,} parameters"
