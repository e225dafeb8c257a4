"""The predictor gate: score offspring from their structure and train only the most promising.

With ``estimation_fraction`` f, the top ⌈(1 − f)·n⌉ of the n new offspring by predicted fitness are
trained and the rest are dropped (recorded with their prediction). With ``pool = K`` a generation
makes K × ``offspring`` children and the best ``offspring`` by the acquisition train
(:mod:`.acquisition`); the rest are stored as dropped, with their prediction.  The predictor is either a
saved :class:`~structsearch.predictors.model.PerformancePredictor` (its features must be ones this
search computes) or ``online``: refitted after every generation on every trained result so far,
from the ``warmup``-th row on.  Before an online predictor is warm, nothing is dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from structsearch import seeds
from structsearch.errors import ConfigError, DataError
from structsearch.families import FAMILIES
from structsearch.pipeline import ModelSpec, build_candidate
from structsearch.predictors.model import SPREAD_MODELS, PerformancePredictor, load_predictor
from structsearch.predictors.workflow import load_xy
from structsearch.search import genes as training_genes
from structsearch.search.gate.acquisition import ACQUISITIONS, acquire, adaptive_beta, rank_pool
from structsearch.search.gate.audit import kendall
from structsearch.search.gate.size import SizeModel
from structsearch.search.shared import candidate_proxies

if TYPE_CHECKING:  # the space imports the gate's acquisitions; the gate reads the space's [gate] table
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


HELD_OUT_GENERATIONS = 3  # the latest generations on which the online gate compares its models
MIN_EARLIER_ROWS = 6  # rows of earlier generations a held-out generation's fit needs


@dataclass
class GateScores:
    """The gate's scores of a pool: the mean prediction, the spread (when the acquisition uses one)
    and the acquisition's value of each child."""

    mean: np.ndarray
    std: np.ndarray | None
    value: np.ndarray


class PredictorGate:
    """The structure stage: scores new children from their features and keeps the most promising.

    Without a pool (``[gate] pool = 1``) it keeps the top ⌈(1 − ``estimation_fraction``)·n⌉ of the n
    new children; with ``pool = K`` the search makes K × ``offspring`` children and the gate keeps
    ``offspring`` of them, ranked by the acquisition (:mod:`.acquisition`; on an NSGA-II space
    ``pareto``, on the acquisition and the connections).

    An online gate fits two models on every trained row: its ``model`` (on the features) and the
    size-only :class:`~.size.SizeModel` (on the connections). Before each generation it compares
    them on the latest held-out generations (each fitted on the generations before it: grouped by
    generation, in the order the gate meets them) and ranks with the one whose mean Kendall τ there is
    higher (:attr:`choice`, recorded with the generation; the configured model until a generation
    can be held out).
    """

    def __init__(self, gate: GateConfig, cells: list[str], seed: int = 0, genes: dict | None = None,
                 family=None, offspring: int = 0, pareto: bool = False):
        self.config, self.seed = gate, seed
        self.offspring, self.pareto = offspring, pareto
        self.names = search_feature_names(cells, genes, gate.proxies, family)
        self.predictor = None
        self.ensemble: list = []  # its bootstrap ensemble, when the acquisition needs a spread it lacks
        self.size = None  # the fitted SizeModel
        self.choice = gate.model  # which one ranks: the model's name, or "size"
        self.comparison: dict = {}  # the held-out τ of each, behind the choice
        self._held_out: dict[tuple[str, int], float | None] = {}  # (model, generation) → τ (deterministic, kept)
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
            if ACQUISITIONS.lookup(gate.acquisition).spread and predictor.model not in SPREAD_MODELS:
                raise ConfigError(f"gate.acquisition = {gate.acquisition!r} needs a spread; the saved predictor "
                                  f"{gate.predictor} is a {predictor.model}, which gives none (use an rf or "
                                  f"bayesian-ridge predictor, or acquisition = \"mean\")")
            self.predictor, self.choice = predictor, predictor.model

    @property
    def online(self) -> bool:
        return self.config.predictor == "online"

    @property
    def active(self) -> bool:
        return self.config.enabled and self.predictor is not None

    @property
    def pretrain_rows(self) -> int:
        return 0 if self.pretrain is None else len(self.pretrain[1])

    def pool_size(self, offspring: int) -> int:
        """The children a generation makes for ``offspring`` slots: ``pool`` × ``offspring`` once the
        gate is active, else ``offspring``."""
        return offspring * (self.config.pool if self.active and self.config.pooled else 1)

    def _matrix(self, features: list[dict]) -> np.ndarray:
        return np.array([[row.get(name, np.nan) for name in self.names] for row in features],
                        dtype=float).reshape(-1, len(self.names))

    def _fit_model(self, x: np.ndarray, y: np.ndarray, seed: int) -> PerformancePredictor:
        if self.pretrain is not None:
            x, y = np.vstack([self.pretrain[0], x]), np.concatenate([self.pretrain[1], y])
        return PerformancePredictor(self.config.model, "val_accuracy", self.names, seed).fit(x, y)

    def refit(self, features: list[dict], targets: list[float], sizes=None, generations=None) -> None:
        """Fit the online predictor on every row so far and the pretrain rows (the search calls it
        once there are ``warmup`` of them together); with the rows' ``sizes`` (connections) the
        size baseline too, and with their ``generations`` the choice between the two."""
        y = np.asarray(targets, dtype=float)
        if self.config.model == SizeModel.name:  # the size-only gate: nothing else is fitted or compared
            if sizes is None:
                raise ValueError("the size-only gate needs the rows' sizes")
            self.size = SizeModel(self.seed).fit(sizes, y)
            self.predictor, self.choice = self.size, SizeModel.name
            return
        x = self._matrix(features)
        model = self._fit_model(x, y, self.seed)
        self.ensemble = []
        if (ACQUISITIONS.lookup(self.config.acquisition).spread and self.config.model not in SPREAD_MODELS
                and self.config.ensemble):
            rng = seeds.generator(self.seed, "ensemble", len(y))
            for k in range(self.config.ensemble):
                sample = rng.integers(0, len(y), len(y))
                self.ensemble.append(self._fit_model(x[sample], y[sample], seeds.derive(self.seed, "ensemble", k)))
        self.predictor, self.choice = model, self.config.model
        if sizes is None or len(y) < 2:
            return
        self.size = SizeModel(self.seed).fit(sizes, y)
        if generations is not None:
            self.choose(x, y, np.asarray(sizes, dtype=float), np.asarray(generations))
            if self.choice == SizeModel.name:
                self.predictor = self.size

    def choose(self, x: np.ndarray, y: np.ndarray, sizes: np.ndarray, generations: np.ndarray) -> None:
        """Compare the model and the size baseline on the latest held-out generations (each fitted on
        the rows of earlier generations) and set :attr:`choice` to the one with the higher mean τ."""
        held = [g for g in sorted(set(generations.tolist()))
                if (generations < g).sum() >= MIN_EARLIER_ROWS and (generations == g).sum() >= 3]
        held = held[-HELD_OUT_GENERATIONS:]
        taus: dict[str, list[float]] = {self.config.model: [], SizeModel.name: []}
        for g in held:
            before, at = generations < g, generations == g
            for name in taus:
                if (name, g) not in self._held_out:
                    if name == SizeModel.name:
                        predicted = SizeModel().fit(sizes[before], y[before]).predict(sizes[at])
                    else:
                        predicted = self._fit_model(x[before], y[before], self.seed).predict(x[at])
                    self._held_out[(name, g)] = kendall(predicted, y[at])
                if self._held_out[(name, g)] is not None:
                    taus[name].append(self._held_out[(name, g)])
        means = {name: float(np.mean(values)) if values else None for name, values in taus.items()}
        self.comparison = {"held_out": held, "tau": means}
        if means[self.config.model] is not None and means[SizeModel.name] is not None:
            self.choice = max(taus, key=lambda name: (means[name], name == self.config.model))
        if self.config.acquisition == "adaptive":
            self.comparison["beta"] = self.beta  # recorded with the choice (the gate_model event)

    def n_keep(self, n: int) -> int:
        if not self.active:
            return n
        if self.config.pooled:
            return min(n, max(1, self.offspring))
        return max(1, math.ceil((1.0 - self.config.estimation_fraction) * n - 1e-9))

    def scores(self, features: list[dict], sizes=None, generation: int = 0, costs=None,
               incumbent: float | None = None) -> GateScores:
        """The pool's mean predictions, spreads and acquisition values (``costs``: the children's
        planned training MACs; ``incumbent``: the best validation accuracy trained so far)."""
        acquisition = ACQUISITIONS.lookup(self.config.acquisition)
        by_size = self.predictor is self.size
        inputs = sizes if by_size else features
        std = None
        if not acquisition.spread:
            mean = np.asarray(self.predictor.predict(inputs), dtype=float)
        elif not by_size and self.ensemble:
            mean = np.asarray(self.predictor.predict(inputs), dtype=float)
            std = np.std([member.predict(inputs) for member in self.ensemble], axis=0)
        else:
            spread = self.predictor.predict_spread(inputs)
            if spread is None:
                raise ConfigError(f"gate.acquisition = {self.config.acquisition!r} needs a spread; "
                                  f"gate.model = {self.config.model!r} gives none: set gate.ensemble")
            mean, std = spread
        rng = seeds.generator(self.seed, "acquisition", generation)
        return GateScores(mean, std, acquire(self.config.acquisition, mean, std, self.beta, rng, incumbent, costs))

    @property
    def beta(self) -> float:
        """The weight on the spread this generation: ``beta``, or for the ``adaptive`` acquisition
        ``beta × (1 − τ)`` with τ the ranking model's mean held-out τ (:meth:`choose`)."""
        if self.config.acquisition != "adaptive":
            return self.config.beta
        return adaptive_beta(self.config.beta, (self.comparison.get("tau") or {}).get(self.choice))

    @property
    def needs_costs(self) -> bool:
        """Whether the acquisition ranks on each child's planned training MACs (``ei-per-macs``)."""
        return self.active and ACQUISITIONS.lookup(self.config.acquisition).cost

    def decide(self, features: list[dict], sizes=None, generation: int = 0, costs=None,
               incumbent: float | None = None) -> tuple[list[float | None], list[bool], GateScores | None]:
        """(predictions, keep, scores) for the new children's ``features`` (``sizes``: their
        connections, for the size baseline and an NSGA-II space's ranking; ``costs`` and
        ``incumbent``: see :meth:`scores`); everything is kept when the gate is inactive."""
        if not features:
            return [], [], None
        if not self.active:
            return [None] * len(features), [True] * len(features), None
        scored = self.scores(features, sizes, generation, costs, incumbent)
        order = rank_pool(scored.value, sizes if self.pareto and sizes is not None else None)
        keep = np.zeros(len(features), dtype=bool)
        keep[order[: self.n_keep(len(features))]] = True
        return [float(p) for p in scored.mean], keep.tolist(), scored
