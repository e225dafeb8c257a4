"""The gate's curve stage (Baker et al. 2017): fitted in the search, applied in the worker.

:func:`fit_curve_gate` fits a linear model (imputed, scaled Bayesian ridge) from every trained
candidate's features and first ``curve_epochs`` validation accuracies to its final validation
accuracy. The worker receives it as a :class:`CurveGate` inside its job (plain JSON both ways) and
:class:`CurveStop` applies it after ``curve_epochs``: a child predicted below the threshold stops.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from structsearch.train_callbacks import Callback, StopTraining


@dataclass(frozen=True)
class CurveGate:
    """The fitted curve model as the worker gets it, with the candidate's own ``features``.

    Parameters
    ----------
    names : list of str
        The model's inputs: feature names, then ``curve_1`` … ``curve_E``.
    medians, means, scales : list of float
        Per input: the value that replaces a missing one, and the scaler's mean and scale.
    coef : list of float
        The ridge's coefficients on the scaled inputs.
    intercept : float
        Its intercept.
    epochs : int
        Epochs a child trains before the prediction (``gate.curve_epochs``).
    threshold : float
        A child predicted below it stops.
    features : dict
        The candidate's features (set per job).
    """

    names: list[str]
    medians: list[float]
    means: list[float]
    scales: list[float]
    coef: list[float]
    intercept: float
    epochs: int
    threshold: float
    features: dict = field(default_factory=dict)

    def for_candidate(self, features: dict) -> CurveGate:
        return replace(self, features=dict(features))

    def predict(self, curve: list[float]) -> float:
        """The predicted final validation accuracy from the candidate's features and ``curve``."""
        values = {**self.features, **{f"curve_{i + 1}": v for i, v in enumerate(curve)}}
        x = []
        for name, median in zip(self.names, self.medians, strict=True):
            value = values.get(name)
            x.append(median if value is None or value != value else value)  # NaN → the median
        scaled = [(v - m) / s for v, m, s in zip(x, self.means, self.scales, strict=True)]
        return self.intercept + sum(c * v for c, v in zip(self.coef, scaled, strict=True))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CurveGate:
        return cls(**data)


def fit_curve_gate(names: list[str], features: list[dict], curves: list[list[float]], targets: list[float],
                   epochs: int, threshold: float) -> CurveGate:
    """The curve model from each trained row's ``features`` (by ``names``), the first ``epochs`` of
    its validation curve, and its final validation accuracy."""
    from sklearn.linear_model import BayesianRidge  # only where it is fitted: the workers load this module
    from sklearn.preprocessing import StandardScaler

    x = np.array([[row.get(name, np.nan) for name in names] + curve[:epochs]
                  for row, curve in zip(features, curves, strict=True)], dtype=float)
    y = np.asarray(targets, dtype=float)
    with np.errstate(all="ignore"):  # a column with no value at all has no median: 0
        medians = np.nan_to_num(np.nanmedian(np.where(np.isfinite(x), x, np.nan), axis=0))
    x = np.where(np.isfinite(x), x, medians)
    scale = StandardScaler().fit(x)
    model = BayesianRidge().fit(scale.transform(x), y)
    return CurveGate(names + [f"curve_{i + 1}" for i in range(epochs)], medians.tolist(), scale.mean_.tolist(),
                     scale.scale_.tolist(), model.coef_.tolist(), float(model.intercept_), epochs, float(threshold))


def refit_curve_gate(config, names: list[str], rows: list, curves: dict[int, list[float]], features,
                     population: list) -> CurveGate | None:
    """The curve stage refitted on the trained ``rows`` whose stored validation curve (``curves`` by
    id) has ``config.curve_epochs`` epochs (``features(row)`` gives a row's), with the threshold the
    ``config.estimation_fraction`` quantile of the population's accuracies (a child predicted below
    it is unlikely to be selected); None before ``config.warmup`` such rows."""
    usable = [row for row in rows if len(curves.get(row.id, [])) >= config.curve_epochs]
    survivors = [individual.accuracy for individual in population if individual.fitness.valid]
    if len(usable) < config.warmup or not survivors:
        return None
    return fit_curve_gate(names, [features(row) for row in usable], [curves[row.id] for row in usable],
                          [row.accuracy for row in usable], config.curve_epochs,
                          float(np.quantile(survivors, config.estimation_fraction)))


class CurveStop(Callback):
    """Applies a :class:`CurveGate` after its ``epochs``: the prediction is kept in the result's curves
    (``curve_prediction``, ``curve_threshold``) either way; below the threshold the candidate stops
    (``stopped-early``)."""

    def __init__(self, gate: CurveGate):
        self.gate = gate

    def predict(self, curve: list[float]) -> float:
        return self.gate.predict(curve)

    def on_epoch_end(self, trainer, epoch):
        if epoch + 1 != self.gate.epochs:
            return
        prediction = self.predict(trainer.history["val_accuracy"][: self.gate.epochs])
        trainer.history["curve_prediction"] = [prediction]
        trainer.history["curve_threshold"] = [self.gate.threshold]
        if prediction < self.gate.threshold:
            raise StopTraining(f"curve gate: predicted final validation accuracy {prediction:.4f} below "
                               f"{self.gate.threshold:.4f} after {epoch + 1} epoch(s)")
