"""Input importance of a trained sparse MLP: which inputs its surviving connections use.

In a truly sparse network trained with SET, the inputs that keep strong connections are the ones
that matter (Mocanu et al. 2018 used SET for supervised feature selection).  Two measures, both of
the connections that leave the input layer (with skip-layer edges an input may feed several layers;
every such connection counts):

* ``strength`` — the sum of the absolute weights of an input's connections: the *neuron strength*
  QuickSelection ranks features by (Atashgahi et al. 2022, "Quick and robust feature selection:
  the strength of energy-efficient sparse training for autoencoders", Machine Learning 111);
* ``degree`` — the number of its surviving connections (what SET's regrowth leaves an input);
* ``accumulated`` — the strength summed over the training, after every epoch's update: WAST's
  importance (Sokar et al. 2022, "Where to pay attention in sparse training for feature
  selection?", NeurIPS), which adds ``λ · |reconstruction error| + (1 − λ) · strength`` of each
  input at every update, with λ = 0 — a supervised classifier reconstructs nothing — so that inputs
  that stayed strong all along rank above those that are strong only at the end.  Recorded by
  :class:`ImportanceTrace` during training (``structsearch train``), not computable afterwards.

:class:`ImportanceTrace` also records the top inputs after every epoch's rewiring, so that the
stability of the ranking over SET updates can be reported: the mean Jaccard overlap of consecutive
top-K sets (1: the same inputs every epoch).
"""

from __future__ import annotations

import numpy as np
import torch

from structsearch.errors import ConfigError
from structsearch.nn.mlp import SparseMLP

MEASURES = ("strength", "degree")  # of a trained model; "accumulated" needs the training (ImportanceTrace)


def input_importance(model, measure: str = "strength") -> np.ndarray:
    """One value per input of a :class:`~structsearch.nn.mlp.SparseMLP` (see the module docstring)."""
    if measure not in MEASURES:
        raise ConfigError(f"importance measure {measure!r}: known: {', '.join(MEASURES)}")
    if not isinstance(model, SparseMLP):
        raise ConfigError(f"input importance needs a sparse MLP (an input layer of its own); got a "
                          f"{type(model).__name__}")
    n_inputs = model.layer_sizes[0]
    total = torch.zeros(n_inputs, dtype=torch.float64)
    for layer, sources in zip(model.layers, model.sources, strict=True):
        if 0 not in sources:
            continue
        offset = sum(model.layer_sizes[s] for s in sources[: sources.index(0)])
        _, cols = layer.connections()
        cols = cols.cpu() - offset
        inside = (cols >= 0) & (cols < n_inputs)
        weight = (layer.values.detach().abs().double().cpu() if measure == "strength"
                  else torch.ones(cols.numel(), dtype=torch.float64))
        total.index_add_(0, cols[inside], weight[inside])
    return total.numpy()


def top_inputs(importance: np.ndarray, k: int) -> list[int]:
    """The ``k`` most important inputs, most important first (ties by index)."""
    order = np.lexsort((np.arange(importance.size), -importance))
    return [int(i) for i in order[:k]]


def jaccard(a, b) -> float:
    a, b = set(a), set(b)
    return len(a & b) / len(a | b) if a | b else 1.0


class ImportanceTrace:
    """A trainer callback: the top ``k`` inputs by strength after every epoch (after its rewiring,
    when it runs after the rewiring rule).  On a model without an input layer of its own (recurrent,
    convolutional) it records nothing."""

    def __init__(self, k: int = 20):
        self.k = k
        self.tops: list[list[int]] = []
        self.accumulated: np.ndarray | None = None  # WAST's importance with λ = 0 (see the module docstring)

    def on_train_begin(self, trainer) -> None:
        self.tops, self.accumulated = [], None
        if isinstance(trainer.model, SparseMLP):
            strength = input_importance(trainer.model)
            self.tops, self.accumulated = [top_inputs(strength, self.k)], np.zeros_like(strength)

    def on_epoch_end(self, trainer, epoch: int) -> None:
        if self.accumulated is None:
            return
        strength = input_importance(trainer.model)
        self.tops.append(top_inputs(strength, self.k))
        self.accumulated += strength

    def on_train_end(self, trainer) -> None:
        pass

    def stability(self) -> float | None:
        """Mean Jaccard overlap of consecutive top-k sets (None before two records)."""
        if len(self.tops) < 2:
            return None
        return float(np.mean([jaccard(a, b) for a, b in zip(self.tops, self.tops[1:], strict=False)]))

    def to_dict(self) -> dict:
        return {"k": self.k, "top_per_epoch": self.tops, "stability": self.stability(),
                "accumulated": None if self.accumulated is None else self.accumulated.tolist()}
