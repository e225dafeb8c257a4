"""Decode a :class:`~structsearch.graphs.cnn.ConvGenotype` into a ``torch.nn.Module``.

Stem, stages and head as the genotype module describes: vertex 0 of a stage is its input (the stem's
or the stride-2 reduction's output); a vertex aggregates its predecessors (RandWire's weighted sum
with learned positive weights, or concatenation for ``concat``), after projecting a predecessor
whose channel count differs by a 1×1 convolution, then applies its operation; the stage's output is
the mean of its sinks (projected to the stage's width where they differ); the head is global average
pooling and a linear layer.  Inputs may be flat (an MLP task's rows): they are reshaped to
``input_shape``.
"""

from __future__ import annotations

import torch
from torch import nn

from structsearch.graphs.cnn import ConvGenotype, Stage, aggregation_weights, kernel_size
from structsearch.graphs.layered import InvalidGraph
from structsearch.tasks.base import image_shape


def _conv_bn(c_in: int, c_out: int, k: int, stride: int = 1, relu: bool = True) -> nn.Sequential:
    layers = [nn.ReLU()] if relu else []
    layers += [nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers)


class _Vertex(nn.Module):
    def __init__(self, stage: Stage, v: int, preds: list[int]):
        super().__init__()
        self.preds = preds
        self.op = stage.ops[v]
        c = int(stage.channels[v])
        widths = [int(stage.channels[u]) for u in preds]
        if self.op == "concat":
            self.merge = nn.Conv2d(sum(widths), c, 1, bias=False)
        else:
            n_weights = aggregation_weights(self.op, len(preds))
            # lead = 1: weights relative to a first input of weight 1 (exp), else absolute (sigmoid);
            # at 0 every input alike
            self.lead = len(preds) - n_weights
            if n_weights:
                self.weights = nn.Parameter(torch.zeros(n_weights))
            self.project = nn.ModuleList([nn.Conv2d(w, c, 1, bias=False) if w != c else nn.Identity()
                                          for w in widths])
        k = kernel_size(self.op)
        if k is not None:
            self.body = _conv_bn(c, c, k)
        elif self.op == "maxpool":
            self.body = nn.MaxPool2d(3, stride=1, padding=1)
        elif self.op == "avgpool":
            self.body = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        else:
            self.body = nn.Identity()

    def forward(self, values: list[torch.Tensor]) -> torch.Tensor:
        inputs = [values[u] for u in self.preds]
        if self.op == "concat":
            x = self.merge(torch.cat(inputs, dim=1))
        elif len(inputs) == 1:
            x = self.project[0](inputs[0])
        else:
            projected = (project(u) for project, u in zip(self.project, inputs, strict=True))
            gates = torch.exp(self.weights) if self.lead else torch.sigmoid(self.weights)
            x = _WeightedSum.apply(self.lead, gates, *projected)
        return self.body(x)


class _WeightedSum(torch.autograd.Function):
    """``Σ gates[i] · inputs[i]``, or with ``lead = 1`` ``inputs[0] + Σ gates[i] · inputs[i + 1]``,
    with a lean backward: each gate's gradient is one dot product (autograd's ``addcmul`` would form
    ``grad × input`` in full and then sum it), and an unweighted first input takes ``grad`` as it is."""

    @staticmethod
    def forward(ctx, lead: int, gates: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
        # lead = 1: the first input enters unweighted (and gates has one entry fewer than inputs)
        ctx.lead = lead
        ctx.save_for_backward(gates, *inputs)
        weighted = inputs[lead:]
        out = torch.addcmul(inputs[0], weighted[0], gates[0]) if lead else weighted[0] * gates[0]
        for i in range(1, len(weighted)):
            out.addcmul_(weighted[i], gates[i])
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        gates, *inputs = ctx.saved_tensors
        lead = ctx.lead
        flat = grad.reshape(-1)
        grad_gates = (torch.stack([torch.dot(flat, x.reshape(-1)) for x in inputs[lead:]])
                      if ctx.needs_input_grad[1] else None)
        grad_inputs = [grad if i < lead else grad * gates[i - lead] if ctx.needs_input_grad[i + 2] else None
                       for i in range(len(inputs))]
        return (None, grad_gates, *grad_inputs)


class _Stage(nn.Module):
    def __init__(self, stage: Stage):
        super().__init__()
        preds = stage.predecessors()
        self.vertices = nn.ModuleList([_Vertex(stage, v, preds[v]) for v in range(1, stage.n_nodes)])
        self.sinks = stage.sinks()
        width = stage.width
        self.out = nn.ModuleList([nn.Conv2d(int(stage.channels[v]), width, 1, bias=False)
                                  if stage.channels[v] != width else nn.Identity() for v in self.sinks])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = [x]
        for vertex in self.vertices:
            values.append(vertex(values))
        y = self.out[0](values[self.sinks[0]])
        for project, v in zip(self.out[1:], self.sinks[1:], strict=True):
            y = y + project(values[v])
        return y / len(self.sinks)


class WiredCNN(nn.Module):
    """The network a :class:`ConvGenotype` describes, for images of ``input_shape`` ((H, W) or
    (C, H, W))."""

    # The trainer evaluates in batches of at most this many images: with their activation maps in the
    # caches, 64 images at a time ran 2.5× faster than 2048 (one core, a 16–32-channel random DAG).
    eval_batch_size = 64

    def __init__(self, genotype: ConvGenotype, input_shape: tuple[int, ...]):
        super().__init__()
        genotype.validate()
        self.input_shape = image_shape(input_shape)
        if self.input_shape is None:
            raise InvalidGraph(f"a convolutional genotype needs images, got inputs of shape {list(input_shape)}")
        problem = genotype.resolution_problem(self.input_shape[1:])
        if problem:
            raise InvalidGraph(problem)
        if self.input_shape[0] != genotype.in_channels:
            raise InvalidGraph(f"the genotype takes {genotype.in_channels} channels, the images have "
                             f"{self.input_shape[0]}")
        widths = [stage.width for stage in genotype.stages]
        self.stem = _conv_bn(genotype.in_channels, widths[0], 3, relu=False)
        self.reductions = nn.ModuleList([_conv_bn(widths[i - 1], widths[i], 3, stride=2)
                                         for i in range(1, len(widths))])
        self.stages = nn.ModuleList([_Stage(stage) for stage in genotype.stages])
        self.head = nn.Linear(widths[-1], genotype.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], *self.input_shape)
        x = self.stages[0](self.stem(x))
        for reduction, stage in zip(self.reductions, self.stages[1:], strict=True):
            x = stage(reduction(x))
        return self.head(torch.relu(x).mean(dim=(2, 3)))
