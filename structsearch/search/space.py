"""Search spaces: what ``structsearch evolve`` searches, read from TOML and checked on load.

A space file has a few top-level keys and its tables; every table but ``[task]`` is optional::

    name = "digits-small"
    description = "…"
    seed = 0

    [task]                    # the task and its options, as for `structsearch train`
    name = "digits"

    [genotype]                # the genotype family: its priors and their size ranges
    priors = ["watts-strogatz", "barabasi-albert"]
    nodes = [16, 64]          # hidden neurons of WS, BA and configuration-model graphs
    input_density = 0.25      # fraction of the inputs feeding each source neuron
    [genotype.watts-strogatz]
    k = [2, 8]
    p = [0.2, 1.0]

    [model]                   # mlp, or recurrent cells drawn (and mutated) from `cells`
    kind = "mlp"              # mlp | rnn | cnn (convolutional: priors randwire-ws, randwire-ba,
                              # randwire-er, random-dag; operators relabel, insert-subgraph,
                              # subpath-swap, bridge, matching-layers)
    cells = ["gru"]           # rnn only: rnn_tanh | rnn_relu | lstm | gru
    embedding = 8             # rnn only: the genotype's inputs are this embedding

    [training]                # the shared trainer (the same table as in a train file)
    epochs = 5

    [rewiring]                # rewiring while a candidate trains (as in a train file)
    rule = "set"              # none (the default here) | set | set-motif | rigl
    drop_fraction = 0.3       # fraction rewired per epoch

    [stopping]                # the median stopping rule
    median = false

    [evolution]               # the genetic algorithm
    population = 8
    generations = 5
    selection = "tournament"  # tournament | aging | nsga2 | random (random search: no breeding)
    single_edge_limit = 1000  # above this many edges only block (and layer) operators mutate
    inheritance = "none"      # none | weights | lamarckian: children start from their parents' weights
    inherited_epochs = 2      # epochs an inheriting child trains (default: a quarter of training.epochs)
    keep_weights = false      # keep every trained candidate's weights (always with inheritance)
    keep_optimizer = false    # and its optimizer state
    weights_generations = 1   # weights kept: the population's and those of the last K generations
    [evolution.mutations]     # per-operator weights
    add-edge = 1.0
    resize-layer = 1.0
    [evolution.steps]         # the block operators' steps
    resize-layer = 2.0        # width × a factor drawn log-uniformly in [1/2, 2]
    scale-density = 2.0       # one block's edge count × such a factor
    rewire-fraction = 0.25    # share of one block's edges moved

    [genes.lr]                # training genes: evolve with the structure (see search/genes.py)
    type = "log-float"
    low = 0.001
    high = 0.05

    [gate]                    # the predictor gate
    predictor = "online"      # none | online | a .skops file
    estimation_fraction = 0.5
    warmup = 16
    proxies = []              # zero-cost proxies among its features: synflow snip grad_norm fisher naswot
    pretrain = ""             # a meta-dataset of earlier runs of this space: the online gate starts warm
    audit = 0                 # dropped children per generation trained anyway (weighted τ, regret)
    stage = "structure"       # structure | curve | both (curve: stop children predicted weak after curve_epochs)
    curve_epochs = 1

    [budget]
    max_candidates = 0        # trained candidates; 0: no limit
    max_hours = 0.0           # 0: no limit
    max_epochs = 0            # training epochs over all candidates; 0: no limit

Before 0.2 the rewiring and stopping keys lived in ``[training]`` (``rule``, ``zeta``,
``motif_size``, ``median_stopping``, ``median_warmup_epochs``, ``median_startup``); those names
still work this release, each with a one-line note.

Ranges are ``[low, high]`` (inclusive; integers for counts).  Unknown keys, wrong types and
impossible ranges are a :class:`ConfigError` naming the key, the value and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from structsearch.config import (
    ModelConfig,
    RewiringConfig,
    TaskConfig,
    read_toml,
    rename_legacy,
    task_from_table,
    task_table,
    update_section,
)
from structsearch.declare import (
    Either,
    Flag,
    Interval,
    Options,
    Range,
    Text,
    check_settings,
    document_settings,
    setting,
)
from structsearch.errors import ConfigError, errors_from
from structsearch.graphs.cnn_priors import CONV_PRIORS
from structsearch.graphs.priors import PRIORS
from structsearch.nn.activations import ACTIVATIONS
from structsearch.nn.proxies import PROXIES
from structsearch.nn.recurrent import CELLS
from structsearch.overrides import PARAMETERS, rename_parameters
from structsearch.registry import names_registry, renamed
from structsearch.train import TrainConfig

SELECTIONS = names_registry("selection", ("tournament", "aging", "nsga2", "random"))
INHERITANCE = names_registry("inheritance", ("none", "weights", "lamarckian"))
MODEL_KINDS = names_registry("model kind", ("mlp", "rnn", "cnn"))
# the convolutional genotype's priors (structsearch.graphs.cnn_priors): RandWire stages from three
# random-graph families, and Stier et al.'s random labelled DAGs
CNN_PRIORS = tuple(CONV_PRIORS)
CNN_OPERATORS = {"mutations": {"relabel": 1.0, "insert-subgraph": 1.0},
                 "crossovers": {"subpath-swap": 1.0, "bridge": 1.0, "matching-layers": 1.0}}
# the prior-specific parameters each prior takes, with their kind (int or float range)
PRIOR_PARAMETERS = {
    "erdos-renyi": {"layers": int, "width": int, "epsilon": float},
    "watts-strogatz": {"k": int, "p": float},
    "barabasi-albert": {"m": int},
    "configuration-model": {"degree": int},
    "motif-composed": {"layers": int, "width": int, "motifs": int},
    "motif-informed": {"layers": int, "width": int, "motifs": int},
    "randwire-ws": {"stages": int, "nodes": int, "width": int, "k": int, "p": float},
    "randwire-ba": {"stages": int, "nodes": int, "width": int, "m": int},
    "randwire-er": {"stages": int, "nodes": int, "width": int, "p": float},
    "random-dag": {"stages": int, "depth": int, "level_width": int, "channels": int},
}
PRIOR_DEFAULTS = {
    "erdos-renyi": {"layers": [1, 3], "width": [16, 64], "epsilon": [2.0, 10.0]},
    "watts-strogatz": {"k": [2, 6], "p": [0.1, 1.0]},
    "barabasi-albert": {"m": [1, 4]},
    "configuration-model": {"degree": [1, 4]},
    "motif-composed": {"layers": [1, 3], "width": [16, 64], "motifs": [20, 120]},
    "motif-informed": {"layers": [1, 3], "width": [16, 64], "motifs": [20, 120]},
    # width: the first stage's channels; each later stage doubles them (RandWire)
    "randwire-ws": {"stages": [3, 3], "nodes": [8, 16], "width": [16, 32], "k": [4, 4], "p": [0.75, 0.75]},
    "randwire-ba": {"stages": [3, 3], "nodes": [8, 16], "width": [16, 32], "m": [1, 5]},
    "randwire-er": {"stages": [3, 3], "nodes": [8, 16], "width": [16, 32], "p": [0.2, 0.4]},
    "random-dag": {"stages": [1, 1], "depth": [6, 12], "level_width": [1, 3], "channels": [16, 64]},
}
# what each prior parameter means (the configuration reference lists them from here)
PARAMETER_DOCS = {
    "layers": "hidden layers", "width": "neurons per hidden layer (randwire: the first stage's channels, "
    "doubled at each reduction)", "epsilon": "Erdős–Rényi ε of each layer pair",
    "k": "each node's nearest neighbours in the ring", "p": "rewiring probability (Watts–Strogatz) or edge "
    "probability (Erdős–Rényi stages)", "m": "edges each new node attaches with", "degree": "each node's degree",
    "motifs": "motifs composed into the genotype", "stages": "stages separated by stride-2 reductions",
    "nodes": "vertices per stage", "depth": "levels of the random DAG", "level_width": "vertices per level",
    "channels": "channels per vertex",
}
BUILTIN_PACKAGE = "structsearch.search_spaces"
DEFAULT_SPACE = "digits-small"


def _prior_names() -> list[str]:
    return [*PRIORS, *CNN_PRIORS]


def _model_names():
    from structsearch.predictors.model import MODELS  # the predictors import scikit-learn's estimators

    return MODELS


def _range(section: str, key: str, value: Any, kind: type, low_bound: float) -> list:
    """A checked ``[low, high]`` range of ``kind`` with ``low_bound ≤ low ≤ high``."""
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise ConfigError(f"{section}.{key} must be a [low, high] range of numbers, got {value!r}")
    if kind is int and not all(isinstance(v, int) for v in value):
        raise ConfigError(f"{section}.{key} must be a range of integers, got {value!r}")
    low, high = value
    if low > high:
        raise ConfigError(f"{section}.{key} = {value}: low must not exceed high")
    if low < low_bound:
        raise ConfigError(f"{section}.{key} = {value}: values must be ≥ {low_bound}")
    return [kind(low), kind(high)]


@document_settings
@dataclass
class GenotypeSpace:
    """``[genotype]``: the priors candidates are drawn from, and their parameter ranges."""

    priors: list[str] = setting(doc="the priors candidates are drawn from (layered or convolutional, not both)",
                                allowed=Options(_prior_names, many=True, empty=False),
                                factory=lambda: ["watts-strogatz", "barabasi-albert"])
    prior: str | None = setting(None, "shorthand for priors = [prior]", Either((None, Options(_prior_names))))
    census: str | None = setting(None, "the census file (structsearch motifs --out) of the motif-informed prior",
                                 Either((None, Text("a path"))))
    nodes: list[int] = setting(doc="[low, high] hidden neurons of Watts–Strogatz, Barabási–Albert and "
                                   "configuration-model graphs", allowed=Range(Interval(2, None, integer=True)),
                               factory=lambda: [16, 64])
    input_density: float | list[float] = setting(
        1.0, "the share of the inputs each input-layer neuron reads; a range [low, high] draws each "
             "candidate's own (a gene the search varies)",
        Either((Interval(0, 1, low_open=True), Range(Interval(0, 1, low_open=True)))))
    orientation: str = setting("order", "how an undirected prior graph becomes a DAG: by node order, or random",
                               Options(("order", "random")))
    motif_mix: dict[str, float] = setting(doc="motif-composed: the motifs' sampling weights",
                                          factory=lambda: {"v": 1.0, "bi-fan": 1.0})
    parameters: dict[str, dict[str, list]] = setting(
        doc="[genotype.PRIOR] tables: the prior's own parameter ranges (listed below)", factory=dict)

    def prior_parameters(self, prior: str) -> dict[str, list]:
        return {**PRIOR_DEFAULTS[prior], **self.parameters.get(prior, {})}

    def validate(self) -> GenotypeSpace:
        check_settings(self, "genotype")
        if self.prior is not None:
            self.priors, self.prior = [self.prior], None
        if 0 < sum(prior in CNN_PRIORS for prior in self.priors) < len(self.priors):
            raise ConfigError(f"genotype.priors = {self.priors}: convolutional priors ({', '.join(CNN_PRIORS)}) "
                              "cannot be mixed with layered ones")
        for prior, values in self.parameters.items():
            if prior not in PRIOR_PARAMETERS:
                raise ConfigError(f"unknown table [genotype.{prior}]; allowed: {', '.join(PRIOR_PARAMETERS)}")
            for key in values:
                if key not in PRIOR_PARAMETERS[prior]:
                    raise ConfigError(f"unknown key genotype.{prior}.{key}; allowed: "
                                      f"{', '.join(PRIOR_PARAMETERS[prior])}")
        for prior in self.priors:
            checked = {}
            for key, value in self.prior_parameters(prior).items():
                kind = PRIOR_PARAMETERS[prior][key]
                low_bound = {"p": 0.0, "epsilon": 1e-9}.get(key, 1)
                checked[key] = _range(f"genotype.{prior}", key, value, kind, low_bound)
            self.parameters[prior] = checked
        smallest = self.nodes[0]
        for prior, key in (("watts-strogatz", "k"), ("barabasi-albert", "m"), ("configuration-model", "degree")):
            if prior in self.priors and self.parameters[prior][key][1] >= smallest:
                raise ConfigError(
                    f"genotype.{prior}.{key} = {self.parameters[prior][key]}: the largest value must be "
                    f"below the smallest node count genotype.nodes[0] = {smallest}")
        for prior, key in (("randwire-ws", "k"), ("randwire-ba", "m")):
            if prior in self.priors and self.parameters[prior][key][1] >= self.parameters[prior]["nodes"][0]:
                raise ConfigError(
                    f"genotype.{prior}.{key} = {self.parameters[prior][key]}: the largest value must be "
                    f"below the smallest stage size genotype.{prior}.nodes[0] = {self.parameters[prior]['nodes'][0]}")
        for prior in ("watts-strogatz", "randwire-ws", "randwire-er"):
            if prior in self.priors and self.parameters[prior]["p"][1] > 1.0:
                raise ConfigError(f"genotype.{prior}.p = {self.parameters[prior]['p']}: a probability must lie "
                                  "in [0, 1]")
        if "motif-composed" in self.priors:
            from structsearch.graphs.motif_catalogue import MOTIFS

            for name in self.motif_mix:
                if name not in MOTIFS:
                    raise ConfigError(f"genotype.motif_mix: unknown motif {name!r}; allowed: {', '.join(MOTIFS)}")
            check_weights(self.motif_mix, "genotype.motif_mix")
            if sum(self.motif_mix.values()) <= 0:
                raise ConfigError("genotype.motif_mix weights must have a positive sum")
        self._check_memory()
        if "motif-informed" in self.priors:
            if self.census is None:
                raise ConfigError("genotype.census must name a census file (structsearch motifs --out) "
                                  "for the motif-informed prior")
            from structsearch.errors import DataError
            from structsearch.motifs.census import load_census, motif_mix

            try:
                self.census_data = load_census(self.census)
                motif_mix(self.census_data, self.census)
            except DataError as error:
                raise ConfigError(f"genotype.census: {error}") from None
        return self


    def _check_memory(self) -> None:
        """Refuse ranges whose largest genotype (hidden part; inputs and outputs come on top)
        cannot fit in memory: before any candidate is drawn, not at generation 7."""
        from structsearch.graphs.density import connections_for, erdos_renyi_density
        from structsearch.limits import check_memory, genotype_bytes, model_bytes

        n = self.nodes[1]
        for prior in self.priors:
            params = self.parameters[prior]
            if prior in CNN_PRIORS:
                continue  # tens of vertices: the decoded model's size is checked when it is built
            if prior in ("watts-strogatz", "barabasi-albert", "configuration-model"):
                degree = params.get("k", params.get("m", params.get("degree")))[1]
                nodes, edges = n, n * degree
            else:
                layers, width = params["layers"][1], params["width"][1]
                nodes = layers * width
                edges = (layers - 1) * (connections_for(width, width, erdos_renyi_density(width, width, params[
                    "epsilon"][1])) if prior == "erdos-renyi" else 0) + 8 * params.get("motifs", [0, 0])[1]
            check_memory(genotype_bytes(nodes, edges) + model_bytes(edges, nodes),
                         f"the largest {prior} genotype of this space ({nodes:,} hidden nodes, about {edges:,} edges)")


def check_weights(weights: dict, table: str) -> None:
    """Sampling weights: finite numbers ≥ 0 with a finite sum, else a ConfigError naming the key."""
    for name, weight in weights.items():
        if not isinstance(weight, int | float) or isinstance(weight, bool) or not math.isfinite(weight) or weight < 0:
            raise ConfigError(f"{table}.{name} must be a finite weight ≥ 0, got {weight!r}")
    if not math.isfinite(sum(weights.values())):
        raise ConfigError(f"{table}: the weights' sum overflows; give weights of a sensible scale (e.g. 0 to 10)")


# what the search keeps of each generation (its statistics, the live view's row)
GENERATION_BYTES = 2048


@document_settings
@dataclass
class ModelSpace:
    """``[model]`` of a search space: the genotype family and how its candidates decode."""

    kind: str = setting("mlp", "the genotype family: mlp (layered), rnn (recurrent cells) or cnn (convolutional)",
                        Options(lambda: MODEL_KINDS))
    cells: list[str] = setting(doc="rnn: the cells candidates draw (and mutate) from",
                               allowed=Options(lambda: CELLS, many=True, empty=False), factory=lambda: ["gru"])
    embedding: int = setting(8, "rnn: the width of the embedding the genotype's inputs read",
                             Interval(1, None, integer=True))
    activation: str = setting("relu", "hidden activation (mlp)", Options(lambda: ACTIVATIONS))
    dropout: float = setting(0.0, "dropout on hidden activations", Interval(0, 1, high_open=True))

    def model_config(self, cell: str | None = None) -> ModelConfig:
        """The train-file ``[model]`` settings a candidate of this space (with ``cell``) decodes with."""
        return ModelConfig(cell=cell, activation=self.activation, dropout=self.dropout)

    def validate(self) -> ModelSpace:
        check_settings(self, "model")
        return self


@document_settings
@dataclass
class StoppingConfig:
    """``[stopping]``: Optuna's median rule for candidates (stop one whose curve falls below the
    median of earlier candidates' curves)."""

    median: bool = setting(False, "stop a candidate whose curve falls below the median of earlier ones", Flag())
    warmup_epochs: int = setting(1, "epochs a candidate trains before the rule may stop it",
                                 Interval(0, None, integer=True))
    startup: int = setting(5, "finished candidates needed before the rule acts", Interval(1, None, integer=True))

    def validate(self) -> StoppingConfig:
        check_settings(self, "stopping")
        return self


@document_settings
@dataclass
class EvolutionConfig:
    """``[evolution]``: the genetic search (population, breeding, operators, inheritance)."""

    population: int = setting(8, "individuals kept from one generation to the next", Interval(1, None, integer=True))
    generations: int = setting(5, "generations after generation 0", Interval(0, None, integer=True))
    offspring: int | None = setting(None, "children made per generation (unset: the population size)",
                                    Either((None, Interval(1, None, integer=True))))
    selection: str = setting("tournament", "tournament, aging (regularized evolution), nsga2 (accuracy ↑, "
                                           "connections ↓) or random (random search: no breeding)",
                             Options(lambda: SELECTIONS))
    tournament_size: int = setting(3, "individuals per tournament", Interval(1, None, integer=True))
    crossover_probability: float = setting(0.3, "chance that a child is made by crossover", Interval(0, 1))
    mutation_probability: float = setting(0.9, "chance that a child is mutated", Interval(0, 1))
    elitism: int = setting(1, "best individuals carried over unchanged (at most the population)",
                           Interval(0, None, integer=True))
    mutations: dict[str, float] = setting(
        doc="[evolution.mutations]: each mutation operator's sampling weight (the operators are listed below)",
        factory=lambda: {
            "add-edge": 1.0, "remove-edge": 1.0, "rewire-edge": 1.0, "add-neuron": 1.0, "remove-neuron": 1.0,
            "insert-motif": 0.5, "remove-motif": 0.5, "add-layer": 0.25, "remove-layer": 0.25,
            "resize-layer": 1.0, "scale-density": 1.0, "resample-block": 0.5, "rewire-fraction": 1.0})
    crossovers: dict[str, float] = setting(doc="[evolution.crossovers]: each crossover operator's sampling weight",
                                           factory=lambda: {"bridge": 1.0, "matching-layers": 1.0})
    cell_mutation_probability: float = setting(0.1, "rnn with several cells: chance that a mutation redraws "
                                                    "the cell", Interval(0, 1))
    gene_mutation_probability: float = setting(0.2, "chance per [genes] gene that a mutation redraws it",
                                               Interval(0, 1))
    steps: dict[str, float] = setting(
        doc="[evolution.steps]: the block operators' steps: a factor s, drawn in [1/s, s] (resize-layer, "
            "scale-density) or a fraction of a block's edges (rewire-fraction)", factory=dict)
    single_edge_limit: int = setting(1000, "above this many edges only block and layer operators mutate",
                                     Interval(0, None, integer=True))
    inheritance: str = setting("none", "none; weights: children start from their parents' trained weights; "
                                       "lamarckian: and the topology learned in training becomes the genotype",
                               Options(lambda: INHERITANCE))
    inherited_epochs: int | None = setting(None, "epochs an inheriting child trains, between 1 and training.epochs "
                                                 "(unset: a quarter of training.epochs)")
    keep_weights: bool = setting(False, "keep every trained candidate's weights (always, with inheritance)", Flag())
    keep_optimizer: bool = setting(False, "keep its optimizer state too", Flag())
    weights_generations: int = setting(1, "weights kept: the population's plus those of the last K generations",
                                       Interval(0, None, integer=True))

    @property
    def n_offspring(self) -> int:
        return self.population if self.offspring is None else self.offspring

    def step(self, operator: str) -> float:
        from structsearch.graphs.operators import BLOCK_STEPS

        return self.steps.get(operator, BLOCK_STEPS[operator])

    def validate(self) -> EvolutionConfig:
        from structsearch.graphs.operators import BLOCK_STEPS, CROSSOVERS, MUTATIONS

        check_settings(self, "evolution")
        for name, value in self.steps.items():
            if name not in BLOCK_STEPS:
                raise ConfigError(f"evolution.steps: {name!r} takes no step; steps are for {', '.join(BLOCK_STEPS)}")
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
                raise ConfigError(f"evolution.steps.{name} must be a number, got {value!r}")
            if name == "rewire-fraction" and not 0.0 < value <= 1.0:
                raise ConfigError(f"evolution.steps.{name} is a fraction of a block's edges: it must lie in "
                                  f"(0, 1], got {value}")
            if name != "rewire-fraction" and value <= 0:
                raise ConfigError(f"evolution.steps.{name} is a factor: it must be > 0, got {value}")
        if not 0 <= self.elitism <= self.population:
            raise ConfigError(f"evolution.elitism must lie in [0, population = {self.population}], got {self.elitism}")
        from structsearch.graphs.cnn_operators import CNN_CROSSOVERS, CNN_MUTATIONS

        for table, registry, cnn in (("mutations", MUTATIONS, CNN_MUTATIONS), ("crossovers", CROSSOVERS,
                                                                              CNN_CROSSOVERS)):
            weights = getattr(self, table)
            for name in weights:
                if name not in registry and name not in cnn:
                    raise ConfigError(f"evolution.{table}: unknown operator {name!r}; allowed: {', '.join(registry)} "
                                      f"(layered genotypes), {', '.join(cnn)} (convolutional)")
            check_weights(weights, f"evolution.{table}")
            if sum(weights.values()) <= 0 and (table == "mutations" or self.crossover_probability > 0):
                raise ConfigError(f"evolution.{table} needs at least one operator with a positive weight")
        return self


@document_settings
@dataclass
class GateConfig:
    """``[gate]``: the predictor that drops offspring before they train."""

    predictor: str = setting("none", "none, online (a model refitted every generation) or a .skops predictor",
                             Text("none, online or a .skops file",
                                  lambda v: isinstance(v, str) and (v in ("none", "online") or v.endswith(".skops"))))
    estimation_fraction: float = setting(0.5, "the share of each generation's children the gate drops",
                                         Interval(0, 1, high_open=True))
    warmup: int = setting(16, "trained rows the online predictor needs before it gates",
                          Interval(2, None, integer=True))
    model: str = setting("rf", "the online predictor's regressor", Options(_model_names))
    proxies: list[str] = setting(doc="zero-cost proxies added to the gate's features",
                                 allowed=Options(lambda: PROXIES, many=True), factory=list)
    pretrain: str = setting("", "a meta-dataset (.csv or .parquet) of earlier runs of this space that the "
                                "online gate starts from",
                            Text("empty, or a .csv or .parquet file",
                                 lambda v: isinstance(v, str) and (not v or v.endswith((".csv", ".parquet")))))
    audit: int = setting(0, "dropped children per generation trained anyway, to measure the gate's real ranking",
                         Interval(0, None, integer=True))
    stage: str = setting("structure", "structure: drop children before training; curve: stop them after "
                                      "curve_epochs; both", Options(("structure", "curve", "both")))
    curve_epochs: int = setting(1, "epochs a child trains before the curve stage predicts its final accuracy",
                                Interval(1, None, integer=True))

    @property
    def enabled(self) -> bool:
        return self.predictor != "none" and self.estimation_fraction > 0

    def validate(self) -> GateConfig:
        check_settings(self, "gate")
        if self.stage != "structure" and self.predictor not in ("online", "none"):
            raise ConfigError(f"gate.stage = {self.stage!r} fits its curve model online; gate.predictor is "
                              f"{self.predictor!r}")
        if self.pretrain and self.predictor != "online":
            raise ConfigError(f"gate.pretrain seeds the online predictor; gate.predictor is {self.predictor!r}")
        return self


@document_settings
@dataclass
class BudgetConfig:
    """``[budget]``: where a search stops (0: no limit).  ``max_epochs`` counts the training epochs
    of every candidate, the fair unit for comparing searches (random search, evolution, gated
    evolution) whose candidates may stop early."""

    max_candidates: int = setting(0, "stop after this many trained candidates (0: no limit)",
                                  Interval(0, None, integer=True))
    max_hours: float = setting(0.0, "stop after this many hours of wall time (0: no limit)", Interval(0, None))
    max_epochs: int = setting(0, "stop after this many training epochs, summed over every candidate (0: no limit)",
                              Interval(0, None, integer=True))

    def validate(self) -> BudgetConfig:
        check_settings(self, "budget")
        return self




@document_settings
@dataclass
class StudySpace:
    """``[study]``: the hyperparameters ``structsearch study`` tunes, one table per parameter::

        [study.params.lr]
        type = "log-float"      # float | log-float | int | log-int | categorical
        low = 1e-4
        high = 0.1
        [study.params.rule]
        type = "categorical"
        choices = ["set", "rigl", "none"]

    ``genotype`` names a fixed genotype file; without it each trial draws its genotype from the
    space's priors with the trial's own seed.
    """

    params: dict[str, dict] = setting(doc="[study.params.NAME]: the distribution of each tuned hyperparameter "
                                          "(listed below)", factory=dict)
    genotype: str | None = setting(None, "a fixed genotype file every trial trains (unset: each trial draws one "
                                         "from the priors)", Either((None, Text("a path"))))

    def validate(self) -> StudySpace:
        from structsearch.search.genes import check_distribution

        self.params = rename_parameters(self.params, "study.params")
        for name, spec in self.params.items():
            where = f"study.params.{name}"
            if name not in PARAMETERS:
                raise ConfigError(f"{where}: unknown parameter {name!r}; the trainer knows "
                                  f"{', '.join(PARAMETERS)}")
            check_distribution(spec, where, PARAMETERS[name][1])
        return self


_TABLES = {"genotype": GenotypeSpace, "model": ModelSpace, "training": TrainConfig,
           "rewiring": RewiringConfig, "stopping": StoppingConfig, "evolution": EvolutionConfig,
           "gate": GateConfig, "budget": BudgetConfig, "study": StudySpace}
# keys of earlier releases → today's (each used with a one-line deprecation note)
LEGACY_KEYS = {
    "training.rule": "rewiring.rule", "training.zeta": "rewiring.drop_fraction",
    "training.motif_size": "rewiring.motif_size", "training.median_stopping": "stopping.median",
    "training.median_warmup_epochs": "stopping.warmup_epochs", "training.median_startup": "stopping.startup",
}
TOP_LEVEL = ("name", "description", "seed")
_OWN_TABLES = ("task", "genes")  # tables read by their own code, not by update_section


@document_settings
@dataclass
class SearchSpace:
    """A search space: what ``structsearch evolve`` searches, read from TOML by :func:`load_space`
    and checked by :meth:`validate`. The tables are described in the configuration reference."""

    name: str = setting("custom", "the space's name (shown in reports and run stores)")
    description: str = setting("", "one line on what the space searches")
    seed: int = setting(0, "the seed every random draw of the search derives from",
                        Interval(0, 2**63, high_open=True, integer=True))
    task: TaskConfig = setting(doc="[task]: the task and its options", factory=TaskConfig)
    genotype: GenotypeSpace = setting(doc="[genotype]: the priors and their ranges", factory=GenotypeSpace)
    model: ModelSpace = setting(doc="[model]: the genotype family and how candidates decode", factory=ModelSpace)
    training: TrainConfig = setting(doc="[training]: the shared trainer, as in a train file", factory=TrainConfig)
    rewiring: RewiringConfig = setting(doc="[rewiring]: rewiring while a candidate trains (none in a space "
                                           "unless set)", factory=lambda: RewiringConfig(rule="none"))
    stopping: StoppingConfig = setting(doc="[stopping]: the median stopping rule", factory=StoppingConfig)
    evolution: EvolutionConfig = setting(doc="[evolution]: the genetic search", factory=EvolutionConfig)
    gate: GateConfig = setting(doc="[gate]: the predictor gate", factory=GateConfig)
    budget: BudgetConfig = setting(doc="[budget]: where the search stops", factory=BudgetConfig)
    study: StudySpace = setting(doc="[study]: what structsearch study tunes", factory=StudySpace)
    genes: dict[str, dict] = setting(doc="[genes.NAME]: training genes that evolve with the structure "
                                         "(listed below)", factory=dict)

    def validate(self) -> SearchSpace:
        from structsearch.search import genes
        from structsearch.tasks import task_entry

        check_settings(self, "")
        task_entry(self.task.name)
        self.genes = genes.check_genes(self.genes, self.model.kind)
        cell = self.genes.pop("cell", None)  # the cell already is a gene of recurrent candidates:
        if cell is not None:                 # [genes.cell] names its choices
            self.model.cells = list(cell["choices"])
        for table in _TABLES:
            getattr(self, table).validate()
        self._check_family()
        self._check_counts()
        if self.model.kind == "rnn" and self.rewiring.rule != "none":
            raise ConfigError(f"rewiring.rule = {self.rewiring.rule!r}: recurrent candidates train without "
                              "rewiring; use 'none'")
        genes.check_extremes(self.genes, self.model.model_config(), self.rewiring, self.training)
        self._check_inheritance()
        if self.gate.stage != "structure" and self.gate.curve_epochs >= self.training.epochs:
            raise ConfigError(f"gate.curve_epochs = {self.gate.curve_epochs} must be fewer than training.epochs "
                              f"({self.training.epochs}): the curve stage stops children before the end")
        return self

    @property
    def convolutional(self) -> bool:
        return self.model.kind == "cnn"

    def _check_counts(self) -> None:
        """Refuse counts whose bookkeeping cannot fit in memory, before anything is allocated: a
        generation holds the population, its offspring and the audited children at once (each an
        individual with its smallest genotype, features and metrics), and the search keeps a record
        per generation."""
        from structsearch.limits import INDIVIDUAL_BYTES, check_memory, genotype_bytes

        evolution = self.evolution
        smallest = genotype_bytes(self.genotype.nodes[0], self.genotype.nodes[0])
        for name, count in (("evolution.population", evolution.population),
                            ("evolution.offspring", evolution.n_offspring), ("gate.audit", self.gate.audit)):
            check_memory(count * (INDIVIDUAL_BYTES + smallest), f"{name} = {count:,} (individuals held at once)")
        held = evolution.population + evolution.n_offspring + self.gate.audit
        check_memory(held * (INDIVIDUAL_BYTES + smallest) + evolution.generations * GENERATION_BYTES,
                     f"a generation of {held:,} individuals over evolution.generations = {evolution.generations:,}")

    def _check_family(self) -> None:
        """Convolutional spaces draw from the convolutional priors and vary genotypes with their
        operators (the defaults when the space names none); layered spaces with theirs."""
        from structsearch.graphs.cnn_operators import CNN_CROSSOVERS, CNN_MUTATIONS
        from structsearch.graphs.operators import CROSSOVERS, MUTATIONS

        cnn_priors = [prior for prior in self.genotype.priors if prior in CNN_PRIORS]
        if self.convolutional != bool(cnn_priors):
            raise ConfigError(f"genotype.priors = {self.genotype.priors}: model.kind = 'cnn' takes the convolutional "
                              f"priors ({', '.join(CNN_PRIORS)}), and only it does")
        if not self.convolutional:
            registries = {"mutations": MUTATIONS, "crossovers": CROSSOVERS}
        else:
            defaults = EvolutionConfig()
            for table in ("mutations", "crossovers"):
                if getattr(self.evolution, table) == getattr(defaults, table):
                    setattr(self.evolution, table, dict(CNN_OPERATORS[table]))
            registries = {"mutations": CNN_MUTATIONS, "crossovers": CNN_CROSSOVERS}
            if self.rewiring.rule != "none":
                raise ConfigError(f"rewiring.rule = {self.rewiring.rule!r}: convolutional candidates train without "
                                  "rewiring; use 'none'")
            if self.evolution.inheritance != "none":
                raise ConfigError(f"evolution.inheritance = {self.evolution.inheritance!r} is for layered genotypes; "
                                  "convolutional candidates train from scratch ('none')")
        family = "convolutional" if self.convolutional else "layered"
        for table, registry in registries.items():
            for name in getattr(self.evolution, table):
                if name not in registry:
                    raise ConfigError(f"evolution.{table}: {name!r} is not an operator of {family} genotypes; "
                                      f"allowed: {', '.join(registry)}")

    def _check_inheritance(self) -> None:
        evolution, epochs = self.evolution, self.training.epochs
        if evolution.inherited_epochs is not None and not 1 <= evolution.inherited_epochs <= epochs:
            raise ConfigError(f"evolution.inherited_epochs = {evolution.inherited_epochs} must lie between 1 and "
                              f"training.epochs ({epochs})")
        if evolution.inheritance == "lamarckian" and self.rewiring.rule == "none":
            import warnings

            warnings.warn("evolution.inheritance = 'lamarckian' with rewiring.rule = 'none': training does not "
                          "change the topology, so this is the same as 'weights'", UserWarning, stacklevel=2)

    @property
    def inherited_epochs(self) -> int:
        """Epochs an inheriting child trains."""
        epochs = self.evolution.inherited_epochs
        return max(1, self.training.epochs // 4) if epochs is None else epochs

    @property
    def keeps_weights(self) -> bool:
        return self.evolution.keep_weights or self.evolution.inheritance != "none"

    @property
    def max_width(self) -> int:
        """The widest hidden layer the genotype ranges allow (resize-layer grows no layer beyond it)."""
        widths = [self.genotype.nodes[1]] + [self.genotype.prior_parameters(p).get("width", [0, 0])[1]
                                             for p in self.genotype.priors]
        return max(widths)

    def n_inputs(self, task) -> int:
        """The genotype's input width: the task's inputs, or the embedding of a recurrent model."""
        if self.convolutional:
            return task.image_shape[0]  # image channels
        return self.model.embedding if self.model.kind == "rnn" else task.n_inputs

    @property
    def cells(self) -> list[str]:
        return list(self.model.cells) if self.model.kind == "rnn" else []

    def to_dict(self) -> dict:
        data = {"name": self.name, "description": self.description, "seed": self.seed,
                "task": task_table(self.task)}
        for table in _TABLES:
            data[table] = asdict(getattr(self, table))
        if self.genes:
            data["genes"] = {name: dict(spec) for name, spec in self.genes.items()}
        parameters = data["genotype"].pop("parameters")
        data["genotype"].update({prior: values for prior, values in parameters.items()})
        return data


# names of 0.2 → today's: a table that is not a space is a *Config; each old name works until
# structsearch 0.3 with a DeprecationWarning
__getattr__ = renamed(globals(), {"BudgetSpace": "BudgetConfig", "StoppingSpace": "StoppingConfig",
                                  "EvolutionSpace": "EvolutionConfig", "GateSpace": "GateConfig"}, __name__)


# every table of a search space by name ("": the top-level keys), for the reference and the options
SPACE_TABLES = {"": SearchSpace, "task": TaskConfig, **_TABLES}


def space_from_dict(data: dict[str, Any], source: str = "search space") -> SearchSpace:
    """Build and validate a :class:`SearchSpace` from a space file's tables; errors start with ``source``."""
    with errors_from(source):
        data = rename_legacy(data, LEGACY_KEYS, source)
        space = SearchSpace()
        for key, value in data.items():
            if key in TOP_LEVEL:
                expected = int if key == "seed" else str
                if not isinstance(value, expected) or isinstance(value, bool):
                    raise ConfigError(f"{key} must be {expected.__name__}, got {value!r}")
                setattr(space, key, value)
            elif key == "task":
                if not isinstance(value, dict) or not isinstance(value.get("name"), str):
                    got = value.get("name") if isinstance(value, dict) else value
                    raise ConfigError(f"task.name must be a string naming a task, got {got!r}")
                space.task = task_from_table(value)
            elif key == "genes":
                space.genes = value
            elif key in _TABLES:
                if not isinstance(value, dict):
                    raise ConfigError(f"[{key}] must be a table")
                values = dict(value)
                if key == "genotype":
                    space.genotype.parameters = {prior: values.pop(prior) for prior in list(values)
                                                 if isinstance(values[prior], dict) and prior != "motif_mix"}
                update_section(getattr(space, key), key, values)
            else:
                allowed = ", ".join(TOP_LEVEL + _OWN_TABLES + tuple(_TABLES))
                raise ConfigError(f"unknown key {key!r}; allowed: {allowed}")
        return space.validate()


def builtin_spaces() -> dict[str, Path]:
    """The search spaces shipped with structsearch, by name."""
    folder = resources.files(BUILTIN_PACKAGE)
    return {Path(entry.name).stem: Path(str(entry)) for entry in folder.iterdir()
            if entry.name.endswith(".toml")}


def space_path(name_or_path: str | Path) -> Path:
    """The file of a built-in space by name, or the TOML file at a path."""
    text = str(name_or_path)
    spaces = builtin_spaces()
    if text in spaces:
        return spaces[text]
    path = Path(text)
    if not path.is_file():
        raise ConfigError(f"no search space {text!r}: not a file, and the built-in spaces are "
                          f"{', '.join(sorted(spaces))}")
    return path


def load_space(name_or_path: str | Path = DEFAULT_SPACE) -> SearchSpace:
    """A built-in space by name, or a TOML file by path, loaded and checked.

    Parameters
    ----------
    name_or_path : str or Path
        A built-in space's name (``structsearch spaces`` lists them; default ``digits-small``) or
        the path of a TOML file.

    Returns
    -------
    SearchSpace
        The validated space. Its tables may be changed before a search starts; call
        :meth:`SearchSpace.validate` again after changing them.
    """
    path = space_path(name_or_path)
    return space_from_dict(read_toml(path, required=("task",)), str(path))


def load_space_with_changes(name_or_path: str | Path, changes: list[tuple[str, Any]] = ()) -> SearchSpace:
    """A built-in space or TOML file with ``(dotted key, value)`` changes applied (see
    :mod:`structsearch.overrides`); errors name the file and say that it was changed."""
    from structsearch.overrides import apply_changes

    path = space_path(name_or_path)
    data = apply_changes(read_toml(path, required=("task",)), changes, renames=LEGACY_KEYS)
    return space_from_dict(data, f"{path}" + (" with command-line overrides" if changes else ""))
