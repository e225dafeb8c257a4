"""The predictor gate: score offspring from their structure and train only the most promising.

With ``estimation_fraction`` f, the top ⌈(1 − f)·n⌉ of the n new offspring by predicted fitness are
trained and the rest are dropped (recorded with their prediction).  The predictor is either a
saved :class:`~structsearch.predictors.model.PerformancePredictor` (its features must be ones this
search computes) or ``online``: refitted after every generation on every trained result so far,
from the ``warmup``-th row on.  Before an online predictor is warm, nothing is dropped.
"""

from __future__ import annotations

import math

import numpy as np

from structsearch.errors import ConfigError, DataError
from structsearch.families import FAMILIES
from structsearch.pipeline import ModelSpec, build_candidate
from structsearch.predictors.model import PerformancePredictor, load_predictor
from structsearch.predictors.workflow import load_xy
from structsearch.search import genes as training_genes
from structsearch.search.shared import candidate_proxies
from structsearch.search.space import GateConfig


def search_feature_names(cells: list[str], genes: dict | None = None, proxies: list[str] = (),
                         family=None) -> list[str]:
    """The genotype family's graph features (the layered family's by default), plus one indicator
    per cell when a space mixes cells, plus the training genes' features, plus the zero-cost
    proxies the gate asks for."""
    return ((family or FAMILIES["mlp"]).feature_names() + ([f"cell_{cell}" for cell in cells] if len(cells) > 1 else [])
            + training_genes.feature_names(genes or {}) + [f"proxy_{name}" for name in proxies])


def cell_features(cell: str | None, cells: list[str]) -> dict[str, float]:
    return {f"cell_{name}": float(name == cell) for name in cells} if len(cells) > 1 else {}


def attribute_features(individual, space) -> dict[str, float]:
    """The features of a candidate beyond its graph: its cell and its genes."""
    return {**cell_features(individual.cell, space.cells), **training_genes.features(space.genes, individual.genes)}


def candidate_features(space, task, individual, seed: int) -> tuple[dict, dict]:
    """The gate's features of a candidate: its family's graph features, its cell and genes, and, with
    ``[gate] proxies``, its zero-cost proxies at initialisation (the model it will train, built from
    its training ``seed``)."""
    features, meta = space.family.features(individual.graph)
    features = {**features, **attribute_features(individual, space)}
    if space.gate.proxies:
        model, rewiring, training = training_genes.apply(space.model.model_config(individual.cell), space.rewiring,
                                                         space.training, individual.genes)
        network, _ = build_candidate(individual.graph, ModelSpec(model, rewiring), task, seed, space.model.kind)
        values, _ = candidate_proxies(network, task, training.batch_size, space.gate.proxies)
        features.update({f"proxy_{name}": math.nan if value is None else value for name, value in values.items()})
    return features, meta


class PredictorGate:
    def __init__(self, gate: GateConfig, cells: list[str], seed: int = 0, genes: dict | None = None,
                 family=None):
        self.config, self.seed = gate, seed
        self.names = search_feature_names(cells, genes, gate.proxies, family)
        self.predictor = None
        self.pretrain = None  # (x, y) rows of earlier runs that the online predictor is fitted on too
        if gate.enabled and gate.pretrain:
            try:
                x, y, _ = load_xy(gate.pretrain, "val_accuracy", self.names, minimum=1)
            except DataError as error:
                raise ConfigError(f"gate.pretrain: {error}") from None
            self.pretrain = (x, y)
        if gate.enabled and gate.predictor != "online":
            predictor = load_predictor(gate.predictor)
            missing = [name for name in predictor.feature_list() if name not in self.names]
            if missing:
                raise ConfigError(
                    f"gate.predictor {gate.predictor}: its feature {missing[0]!r} (and {len(missing) - 1} more) "
                    f"is not one this search computes; it needs a predictor trained on structsearch graph "
                    f"features{' and cell indicators' if len(cells) > 1 else ''}")
            self.predictor = predictor

    @property
    def online(self) -> bool:
        return self.config.predictor == "online"

    @property
    def active(self) -> bool:
        return self.config.enabled and self.predictor is not None

    @property
    def pretrain_rows(self) -> int:
        return 0 if self.pretrain is None else len(self.pretrain[1])

    def refit(self, features: list[dict], targets: list[float]) -> None:
        """Fit the online predictor on every row so far and the pretrain rows (the search calls it
        once there are ``warmup`` of them together)."""
        predictor = PerformancePredictor(self.config.model, "val_accuracy", self.names, self.seed)
        x = np.array([[row.get(name, np.nan) for name in self.names] for row in features], dtype=float)
        y = np.asarray(targets, dtype=float)
        if self.pretrain is not None:
            x = np.vstack([self.pretrain[0], x.reshape(-1, len(self.names))])
            y = np.concatenate([self.pretrain[1], y])
        self.predictor = predictor.fit(x, y)

    def n_keep(self, n: int) -> int:
        return n if not self.active else max(1, math.ceil((1.0 - self.config.estimation_fraction) * n - 1e-9))

    def decide(self, features: list[dict]) -> tuple[list[float | None], list[bool]]:
        """(predictions, keep) for the offspring's features; everything is kept when inactive."""
        if not features:
            return [], []
        if not self.active:
            return [None] * len(features), [True] * len(features)
        predictions = self.predictor.predict(features)
        order = np.argsort(-predictions, kind="stable")
        keep = np.zeros(len(features), dtype=bool)
        keep[order[: self.n_keep(len(features))]] = True
        return [float(p) for p in predictions], keep.tolist()
