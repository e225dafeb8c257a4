"""The size-only baseline of the gate: accuracy predicted from the parameter count alone.

ZiCo (Li et al., ICLR 2023) found that no zero-cost proxy consistently beats the parameter count,
and on Fashion-MNIST the connections alone ranked candidates better than the random forest on 42
graph features. So the online gate keeps :class:`SizeBaseline` among its models and ranks a pool
with it wherever it predicts held-out generations better (:mod:`structsearch.search.gate.structure`).

:class:`SizeBaseline` is a monotone fit of accuracy on ``log(1 + connections)``: isotonic regression
whose direction (rising or falling) is the data's, with ties between equal fitted steps broken by
the connections in that direction, so its ranking is the ranking by connections (or its reverse)
wherever the fit is flat. Its spread, for the ``ucb`` and ``thompson`` acquisitions, is the standard
deviation over a bootstrap ensemble of such fits.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr
from sklearn.isotonic import IsotonicRegression

from structsearch import seeds

BOOTSTRAP_FITS = 16  # the fits of the spread's bootstrap ensemble (each a fraction of a millisecond)


def _log(sizes) -> np.ndarray:
    return np.log1p(np.asarray(sizes, dtype=float))


class SizeBaseline:
    """A monotone fit of accuracy on the connections (see the module docstring); ``seed`` draws the
    bootstrap resamples of its spread. Its inputs are the candidates' sizes (the genotype family's
    parameter count: connections, or a CNN's parameters)."""

    name = "size"

    def __init__(self, seed: int = 0):
        self.seed = seed

    @staticmethod
    def _fit_one(x: np.ndarray, y: np.ndarray) -> tuple[IsotonicRegression, float]:
        # the direction of Spearman's ρ (rising where it is undefined), as increasing="auto" picks it
        rising = not (np.ptp(x) > 0 and np.ptp(y) > 0 and spearmanr(x, y).statistic < 0)
        return IsotonicRegression(increasing=rising, out_of_bounds="clip").fit(x, y), 1.0 if rising else -1.0

    def fit(self, sizes, y) -> SizeBaseline:
        self.x_, self.y_ = _log(sizes), np.asarray(y, dtype=float)
        self.fit_, self.direction_ = self._fit_one(self.x_, self.y_)
        return self

    def _predict_with(self, fit, direction, x: np.ndarray) -> np.ndarray:
        return fit.predict(x) + direction * 1e-9 * x  # ties broken by size, in the fitted direction

    def predict(self, sizes) -> np.ndarray:
        return self._predict_with(self.fit_, self.direction_, _log(sizes))

    def predict_spread(self, sizes) -> tuple[np.ndarray, np.ndarray]:
        x = _log(sizes)
        rng, n = seeds.generator(self.seed, "size-bootstrap"), len(self.y_)
        draws = []
        for _ in range(BOOTSTRAP_FITS):
            sample = rng.integers(0, n, n)
            draws.append(self._predict_with(*self._fit_one(self.x_[sample], self.y_[sample]), x))
        return self.predict(sizes), np.std(draws, axis=0)
