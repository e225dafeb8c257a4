"""The recurrent family (``[model] kind = "rnn"``): layered genotypes decoded into sparse
recurrent nets (RNN_Tanh, RNN_ReLU, LSTM, GRU) over a sequence task's embedding; the cell is drawn,
and mutated, from the space's ``[model] cells``. Its priors and operators are the layered family's;
its candidates train without rewiring (Stier et al. 2021).
"""

from __future__ import annotations

import torch

from structsearch import seeds
from structsearch.families.base import FAMILIES
from structsearch.families.layered import LayeredFamily
from structsearch.graphs import LayeredGraph
from structsearch.nn.recurrent import SparseRecurrentNet


class RecurrentFamily(LayeredFamily):
    """Sparse recurrent nets from layered genotypes."""

    name = "rnn"
    meaning = "layered genotypes decoded into sparse recurrent cells (model.cells) over an embedding"
    adjective = "recurrent"
    task_kind = "sequence"
    rewiring = False
    input_layer = False  # the genotype's inputs are the embedding, not the task's inputs
    uses_cells = True

    def n_inputs(self, model, task) -> int:
        return model.embedding

    def cells(self, model) -> list[str]:
        return list(model.cells)

    def decode(self, genotype: LayeredGraph, model, task, seed: int) -> torch.nn.Module:
        return SparseRecurrentNet.from_graph(genotype, model.cell or "gru", task.vocabulary_size,
                                             seed=seeds.derive(seed, "model"))


FAMILIES.register("rnn", RecurrentFamily())
