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
import warnings
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
    check_weights,
    document_settings,
    setting,
)
from structsearch.errors import ConfigError, errors_from
from structsearch.families import (
    FAMILIES,
    PriorContext,
    distinct_families,
    families_of_prior,
    find_prior,
    operator_names,
    prior_names,
)
from structsearch.limits import INDIVIDUAL_BYTES, check_memory, genotype_bytes, model_bytes
from structsearch.nn.activations import ACTIVATIONS
from structsearch.nn.proxies import PROXIES
from structsearch.nn.recurrent import CELLS
from structsearch.overrides import PARAMETERS, apply_changes, rename_parameters
from structsearch.predictors.model import MODELS, SPREAD_MODELS
from structsearch.registry import names_registry, renamed
from structsearch.search import genes
from structsearch.search.gate.acquisition import ACQUISITIONS
from structsearch.search.genes import check_distribution
from structsearch.search.selection import SELECTIONS
from structsearch.tasks import task_entry
from structsearch.train import TrainConfig

INHERITANCE = names_registry("inheritance", ("none", "weights", "lamarckian"))
BUILTIN_PACKAGE = "structsearch.search_spaces"
DEFAULT_SPACE = "digits-small"


def _model_names():
    return [*MODELS, "size"]  # size: the gate's size-only model alone (structsearch.search.gate.size)


@document_settings
@dataclass
class GenotypeSpace:
    """``[genotype]``: the priors candidates are drawn from, and their parameter ranges."""

    priors: list[str] = setting(doc="the priors candidates are drawn from (layered or convolutional, not both)",
                                allowed=Options(prior_names, many=True, empty=False),
                                factory=lambda: ["watts-strogatz", "barabasi-albert"])
    prior: str | None = setting(None, "shorthand for priors = [prior]", Either((None, Options(prior_names))))
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
        """The prior's parameter ranges: its defaults, updated with the space's ``[genotype.PRIOR]``."""
        return {**find_prior(prior).defaults, **self.parameters.get(prior, {})}

    def context(self, n_inputs: int, n_outputs: int) -> PriorContext:
        """What the priors' samplers read besides their own parameters."""
        density = self.input_density
        return PriorContext(n_inputs, n_outputs, tuple(self.nodes),
                            tuple(density) if isinstance(density, list) else density, self.orientation,
                            dict(self.motif_mix), self.census)

    def validate(self) -> GenotypeSpace:
        check_settings(self, "genotype")
        if self.prior is not None:
            self.priors, self.prior = [self.prior], None
        if len({frozenset(families_of_prior(prior)) for prior in self.priors}) > 1:
            raise ConfigError(f"genotype.priors = {self.priors}: the priors of one genotype family only; "
                              f"{_family_list()} cannot be mixed with layered ones")
        for prior, values in self.parameters.items():  # a table is read only when its prior is drawn from
            if prior not in prior_names():
                raise ConfigError(f"unknown table [genotype.{prior}]; allowed: {', '.join(prior_names())}")
            find_prior(prior).check_keys(f"genotype.{prior}", values)
        for prior in self.priors:
            entry = find_prior(prior)
            self.parameters[prior] = entry.ranges(f"genotype.{prior}", self.parameters.get(prior, {}))
            if entry.check is not None:
                entry.check(self.parameters[prior], self)
            if entry.size is not None:
                # the largest genotype (hidden part; inputs and outputs come on top), before any is drawn
                nodes, edges = entry.size(self.parameters[prior], self)
                check_memory(genotype_bytes(nodes, edges) + model_bytes(edges, nodes),
                             f"the largest {prior} genotype of this space ({nodes:,} hidden nodes, about "
                             f"{edges:,} edges)")
        return self


def _family_list() -> str:
    """The non-layered families' priors, for the message that refuses a mix."""
    return "; ".join(f"{entry.adjective} priors ({', '.join(entry.priors)})" for entry in FAMILIES.values()
                     if entry.name != "mlp" and entry.priors is not FAMILIES["mlp"].priors)


# what the search keeps of each generation (its statistics, the live view's row)
GENERATION_BYTES = 2048


@document_settings
@dataclass
class ModelSpace:
    """``[model]`` of a search space: the genotype family and how its candidates decode."""

    kind: str = setting("mlp", "the genotype family: mlp (layered), rnn (recurrent cells), cnn (convolutional) or "
                               "a registered plug-in (structsearch.families)", Options(lambda: FAMILIES))
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
    reseeds: int = setting(0, "each generation after 0 also retrains the N structures with the best mean "
                              "validation over their trainings from new initialisations (for spaces where the "
                              "initialisation matters as much as the structure)", Interval(0, None, integer=True))
    mutations: dict[str, float] = setting(
        doc="[evolution.mutations]: each mutation operator's sampling weight (the operators are listed below)",
        factory=lambda: dict(FAMILIES["mlp"].default_mutations))
    crossovers: dict[str, float] = setting(doc="[evolution.crossovers]: each crossover operator's sampling weight",
                                           factory=lambda: dict(FAMILIES["mlp"].default_crossovers))
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

        return self.steps.get(operator, operator_steps()[operator])

    def validate(self) -> EvolutionConfig:
        check_settings(self, "evolution")
        steps = operator_steps()
        for name, value in self.steps.items():
            if name not in steps:
                raise ConfigError(f"evolution.steps: {name!r} takes no step; steps are for {', '.join(steps)}")
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
                raise ConfigError(f"evolution.steps.{name} must be a number, got {value!r}")
            if name == "rewire-fraction" and not 0.0 < value <= 1.0:
                raise ConfigError(f"evolution.steps.{name} is a fraction of a block's edges: it must lie in "
                                  f"(0, 1], got {value}")
            if name != "rewire-fraction" and value <= 0:
                raise ConfigError(f"evolution.steps.{name} is a factor: it must be > 0, got {value}")
        if not 0 <= self.elitism <= self.population:
            raise ConfigError(f"evolution.elitism must lie in [0, population = {self.population}], got {self.elitism}")
        for table in ("mutations", "crossovers"):
            weights = getattr(self, table)
            for name in weights:
                if name not in operator_names(table):
                    allowed = "; ".join(f"{', '.join(getattr(entry, table))} ({entry.adjective} genotypes)"
                                        for entry in distinct_families(table))
                    raise ConfigError(f"evolution.{table}: unknown operator {name!r}; allowed: {allowed}")
            check_weights(weights, f"evolution.{table}")
            if sum(weights.values()) <= 0 and (table == "mutations" or self.crossover_probability > 0):
                raise ConfigError(f"evolution.{table} needs at least one operator with a positive weight")
        if self.reseeds and self.inheritance == "lamarckian":
            raise ConfigError("evolution.reseeds retrains a stored structure from new initialisations; with "
                              "inheritance = \"lamarckian\" a structure changes as it trains: use one or the other")
        return self


def operator_steps() -> dict[str, float]:
    """The default step of every operator of every family that takes one (``[evolution.steps]``)."""
    return {name: step for entry in FAMILIES.values() for name, step in entry.steps.items()}


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
    model: str = setting("rf", "the online predictor's regressor; size: rank by a monotone fit of the "
                               "connections alone (a baseline gate: does the predictor beat the size?)",
                         Options(_model_names))
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
    pool: int = setting(1, "children made per offspring slot: the gate scores pool × offspring children and trains "
                           "offspring of them (1: it drops estimation_fraction of offspring children; with no "
                           "predictor, or the curve stage alone, there is no pool)",
                        Interval(1, None, integer=True))
    acquisition: str = setting("mean", "how the pool is ranked: mean (the prediction), ucb (mean + beta × spread), "
                                       "thompson (a draw from the prediction's spread), adaptive (ucb with beta × "
                                       "(1 − the ranker's held-out Kendall τ)), ei (expected improvement over the "
                                       "best trained), ei-per-macs (ei per planned training MAC)",
                               Options(lambda: ACQUISITIONS))
    beta: float = setting(1.0, "ucb's weight on the predictor's spread (adaptive's before any held-out τ)",
                          Interval(0, None))
    ensemble: int = setting(0, "bootstrap models that give a spread to a model without one (adaboost, gbr) for "
                               "every acquisition but mean", Interval(0, None, integer=True))

    @property
    def enabled(self) -> bool:
        return self.predictor != "none" and (self.estimation_fraction > 0 or self.pool > 1)

    @property
    def pooled(self) -> bool:
        """Whether the structure stage ranks a pool (``pool`` > 1, a predictor, not the curve stage alone)."""
        return self.pool > 1 and self.predictor != "none" and self.stage != "curve"

    def validate(self) -> GateConfig:
        check_settings(self, "gate")
        if self.model == "size" and (self.predictor != "online" or self.stage != "structure" or self.pretrain):
            raise ConfigError("gate.model = \"size\" ranks the online structure stage by the connections alone; "
                              "it needs gate.predictor = \"online\", gate.stage = \"structure\" and no "
                              "gate.pretrain")
        if (self.predictor == "online" and ACQUISITIONS.lookup(self.acquisition).spread
                and self.model not in (*SPREAD_MODELS, "size") and not self.ensemble):
            raise ConfigError(f"gate.acquisition = {self.acquisition!r} needs the predictor's spread, and "
                              f"gate.model = {self.model!r} gives none: set gate.ensemble (bootstrap models), "
                              f"or use rf or bayesian-ridge")
        if self.stage != "structure" and self.predictor not in ("online", "none"):
            raise ConfigError(f"gate.stage = {self.stage!r} fits its curve model online; gate.predictor is "
                              f"{self.predictor!r}")
        if self.pretrain and self.predictor != "online":
            raise ConfigError(f"gate.pretrain seeds the online predictor; gate.predictor is {self.predictor!r}")
        return self


@document_settings
@dataclass
class BudgetConfig:
    """``[budget]``: where a search stops (0 or unset: no limit).  ``max_epochs`` counts the training
    epochs of every candidate and ``max_macs`` their training compute (:mod:`structsearch.compute`):
    the fair units for comparing searches (random search, evolution, gated evolution) whose
    candidates may stop early; ``max_macs`` also charges a large candidate more than a small one."""

    max_candidates: int = setting(0, "stop after this many trained candidates (0: no limit)",
                                  Interval(0, None, integer=True))
    max_hours: float = setting(0.0, "stop after this many hours of wall time (0: no limit)", Interval(0, None))
    max_epochs: int = setting(0, "stop after this many training epochs, summed over every candidate (0: no limit)",
                              Interval(0, None, integer=True))
    max_macs: float | None = setting(None, "stop after this much training compute, in multiply-accumulates summed "
                                           "over every candidate (cost_macs; e.g. 2.5e12; unset: no limit)",
                                     Either((None, Interval(0, None, low_open=True))))

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
        check_settings(self, "")
        task_entry(self.task.name)
        self.genes = genes.check_genes(self.genes, self.family)
        cell = self.genes.pop("cell", None)  # the cell already is a gene of recurrent candidates:
        if cell is not None:                 # [genes.cell] names its choices
            self.model.cells = list(cell["choices"])
        for table in _TABLES:
            getattr(self, table).validate()
        self._check_family()
        self._check_counts()
        genes.check_extremes(self.genes, self.model.model_config(), self.rewiring, self.training)
        self._check_inheritance()
        if self.gate.stage != "structure" and self.gate.curve_epochs >= self.training.epochs:
            raise ConfigError(f"gate.curve_epochs = {self.gate.curve_epochs} must be fewer than training.epochs "
                              f"({self.training.epochs}): the curve stage stops children before the end")
        return self

    @property
    def family(self):
        """The genotype family ``model.kind`` names (:mod:`structsearch.families`)."""
        return FAMILIES.lookup(self.model.kind, "model.kind")

    def _check_counts(self) -> None:
        """Refuse counts whose bookkeeping cannot fit in memory, before anything is allocated: a
        generation holds the population, its offspring and the audited children at once (each an
        individual with its smallest genotype, features and metrics), and the search keeps a record
        per generation."""
        evolution = self.evolution
        smallest = genotype_bytes(self.genotype.nodes[0], self.genotype.nodes[0])
        for name, count in (("evolution.population", evolution.population),
                            ("evolution.offspring", evolution.n_offspring), ("gate.audit", self.gate.audit)):
            check_memory(count * (INDIVIDUAL_BYTES + smallest), f"{name} = {count:,} (individuals held at once)")
        held = evolution.population + evolution.n_offspring + self.gate.audit
        check_memory(held * (INDIVIDUAL_BYTES + smallest) + evolution.generations * GENERATION_BYTES,
                     f"a generation of {held:,} individuals over evolution.generations = {evolution.generations:,}")

    def _check_family(self) -> None:
        """The space draws from its family's priors, varies genotypes with its family's operators (the
        family's defaults when the space names none) and keeps the family's constraints: rewiring and
        inheritance only where the family allows them."""
        family = self.family
        foreign = [prior for prior in self.genotype.priors if prior not in family.priors]
        if foreign:
            owner = FAMILIES[families_of_prior(foreign[0])[0]]
            raise ConfigError(f"genotype.priors = {self.genotype.priors}: model.kind = {owner.name!r} takes the "
                              f"{owner.adjective} priors ({', '.join(owner.priors)}), and only it does; "
                              f"model.kind = {family.name!r} takes {', '.join(family.priors)}")
        defaults = EvolutionConfig()
        for table in ("mutations", "crossovers"):
            if getattr(self.evolution, table) == getattr(defaults, table):
                setattr(self.evolution, table, dict(getattr(family, f"default_{table}")))
        if not family.rewiring and self.rewiring.rule != "none":
            raise ConfigError(f"rewiring.rule = {self.rewiring.rule!r}: {family.adjective} candidates train without "
                              "rewiring; use 'none'")
        if not family.inheritance and self.evolution.inheritance != "none":
            raise ConfigError(f"evolution.inheritance = {self.evolution.inheritance!r} is for layered genotypes; "
                              f"{family.adjective} candidates train from scratch ('none')")
        for table in ("mutations", "crossovers"):
            registry = getattr(family, table)
            for name in getattr(self.evolution, table):
                if name not in registry:
                    raise ConfigError(f"evolution.{table}: {name!r} is not an operator of {family.adjective} "
                                      f"genotypes; allowed: {', '.join(registry)}")

    def _check_inheritance(self) -> None:
        evolution, epochs = self.evolution, self.training.epochs
        if evolution.inherited_epochs is not None and not 1 <= evolution.inherited_epochs <= epochs:
            raise ConfigError(f"evolution.inherited_epochs = {evolution.inherited_epochs} must lie between 1 and "
                              f"training.epochs ({epochs})")
        if evolution.inheritance == "lamarckian" and self.rewiring.rule == "none":
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
        """The genotype's input width: the task's inputs, a recurrent model's embedding, an image's channels."""
        return self.family.n_inputs(self.model, task)

    @property
    def cells(self) -> list[str]:
        return self.family.cells(self.model)

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
    path = space_path(name_or_path)
    data = apply_changes(read_toml(path, required=("task",)), changes, renames=LEGACY_KEYS)
    return space_from_dict(data, f"{path}" + (" with command-line overrides" if changes else ""))
