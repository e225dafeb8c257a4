"""The size-only model of the gate: accuracy predicted from the parameter count alone.

ZiCo (Li et al., ICLR 2023) found that no zero-cost proxy consistently beats the parameter count,
and on Fashion-MNIST the connections alone ranked candidates better than the random forest on 42
graph features. So the online gate keeps :class:`SizeModel` among its models and ranks a pool with
it wherever it predicts held-out generations better (:mod:`structsearch.search.gate.structure`).

:class:`SizeModel` is the predictors' :class:`~structsearch.predictors.evaluation.SizeBaseline` (the
best monotone function of the connections, ranking exactly as they do in the direction the rows
show) on the pool's sizes, with a spread for the ``ucb`` and ``thompson`` acquisitions: the standard
deviation over a bootstrap ensemble of such fits.
"""

from __future__ import annotations

import numpy as np

from structsearch import seeds
from structsearch.predictors.evaluation import SizeBaseline

BOOTSTRAP_FITS = 16  # the fits of the spread's bootstrap ensemble (each a fraction of a millisecond)


def _column(sizes) -> np.ndarray:
    return np.asarray(sizes, dtype=float).reshape(-1, 1)


class SizeModel:
    """A monotone fit of accuracy on the candidates' sizes (the genotype family's parameter count:
    connections, or a CNN's parameters); ``seed`` draws the bootstrap resamples of its spread."""

    name = "size"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, sizes, y) -> SizeModel:
        self.x_, self.y_ = _column(sizes), np.asarray(y, dtype=float)
        self.fit_ = SizeBaseline().fit(self.x_, self.y_)
        return self

    def predict(self, sizes) -> np.ndarray:
        return self.fit_.predict(_column(sizes))

    def predict_spread(self, sizes) -> tuple[np.ndarray, np.ndarray]:
        x, rng, n = _column(sizes), seeds.generator(self.seed, "size-bootstrap"), len(self.y_)
        draws = []
        for _ in range(BOOTSTRAP_FITS):
            sample = rng.integers(0, n, n)
            draws.append(SizeBaseline().fit(self.x_[sample], self.y_[sample]).predict(x))
        return self.predict(sizes), np.std(draws, axis=0)
