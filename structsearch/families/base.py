"""What a genotype family is: the :class:`GenotypeFamily` protocol, the :class:`Prior` a family
draws from (a sampler with its parameter schema, memory estimate and checks), and the
:data:`FAMILIES` registry that ``[model] kind`` names.

A family is one plug-in: its priors, operators, features, decoder, constraints and file format
live together, and registering it (``FAMILIES.register(name, family)``) is all it takes for a
search space to use it. :class:`Family` gives the defaults a new family usually keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from structsearch.errors import ConfigError, DataError
from structsearch.graphs.genotype_file import parse_genotype, read_bytes
from structsearch.registry import Registry


@dataclass(frozen=True)
class Parameter:
    """One parameter of a prior: each candidate draws its value from a ``[low, high]`` range.

    Parameters
    ----------
    kind : type
        ``int`` (a count) or ``float``.
    default : tuple
        The default ``(low, high)`` range.
    meaning : str
        What it sets (the configuration reference shows it).
    low : float
        The smallest value a range may hold.
    high : float, optional
        The largest value a range may hold (none by default).
    """

    kind: type
    default: tuple
    meaning: str
    low: float = 1
    high: float | None = None

    def check(self, where: str, value: Any) -> list:
        """``value`` as a checked ``[low, high]`` range of this kind, else a one-line ConfigError."""
        if (not isinstance(value, list | tuple) or len(value) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
            raise ConfigError(f"{where} must be a [low, high] range of numbers, got {value!r}")
        if self.kind is int and not all(isinstance(v, int) for v in value):
            raise ConfigError(f"{where} must be a range of integers, got {list(value)!r}")
        low, high = value
        if low > high:
            raise ConfigError(f"{where} = {list(value)}: low must not exceed high")
        if low < self.low:
            raise ConfigError(f"{where} = {list(value)}: values must be ≥ {self.low}")
        if self.high is not None and high > self.high:
            raise ConfigError(f"{where} = {list(value)}: values must lie in [{self.low}, {self.high}]")
        return [self.kind(low), self.kind(high)]

    def invalid(self) -> list:
        """Ranges this parameter refuses, one per declared constraint (for the generated tests)."""
        low, high = self.default
        step = 1 if self.kind is int else max(abs(self.low) * 0.5, 1e-3)
        cases = [[self.low - step, max(high, self.low)], [high + step, high], "not a range"]
        if self.high is not None:
            cases.append([low, self.high + step])
        if self.kind is int:
            cases.append([low + 0.5, high + 1])
        return cases


def uniform(rng: np.random.Generator, bounds, kind: type = int):
    """A value drawn uniformly from the inclusive range ``bounds`` (integers for ``kind = int``)."""
    low, high = bounds
    return int(rng.integers(low, high + 1)) if kind is int else float(rng.uniform(low, high))


@dataclass(frozen=True)
class PriorContext:
    """What a sampler needs beyond its own parameters: the genotype's input and output widths and
    the ``[genotype]`` keys several priors share."""

    n_inputs: int
    n_outputs: int
    nodes: tuple = (16, 64)
    input_density: float | tuple = 1.0
    orientation: str = "order"
    motif_mix: Mapping[str, float] = field(default_factory=dict)
    census: str | None = None


@dataclass(frozen=True)
class Prior:
    """A prior of a family: ``sample(ranges, context, rng)`` draws one genotype, each parameter
    from its range in ``ranges`` (the schema ``parameters`` gives kinds, defaults and bounds).

    Parameters
    ----------
    sample : callable
        ``(ranges: dict, context: PriorContext, rng) -> genotype``.
    parameters : dict of str to Parameter
        The prior's own parameters (``[genotype.NAME]`` in a space).
    meaning : str
        One line for the references.
    size : callable, optional
        ``(ranges, genotype_table) -> (nodes, edges)`` of the largest genotype the ranges allow,
        for the memory check before anything is drawn; None for small genotypes.
    check : callable, optional
        ``(ranges, genotype_table) -> None``: checks that span keys, raising ConfigError.
    build : callable, optional
        The plain builder ``structsearch genotype sample NAME --param KEY=VALUE`` calls with the
        parameters given and ``rng``; by default the sampler over ``--param`` ranges.
    """

    sample: Callable[..., Any]
    parameters: Mapping[str, Parameter]
    meaning: str = ""
    size: Callable[..., tuple[int, int]] | None = None
    check: Callable[..., None] | None = None
    build: Callable[..., Any] | None = None

    @property
    def defaults(self) -> dict[str, list]:
        return {name: list(parameter.default) for name, parameter in self.parameters.items()}

    def check_keys(self, where: str, given: Mapping[str, Any]) -> None:
        """A ConfigError for a key of ``given`` that is none of this prior's parameters."""
        for key in given:
            if key not in self.parameters:
                raise ConfigError(f"unknown key {where}.{key}; allowed: {', '.join(self.parameters)}")

    def ranges(self, where: str, given: Mapping[str, Any]) -> dict[str, list]:
        """The defaults updated with ``given``, every range checked; ``where`` is ``genotype.NAME``."""
        self.check_keys(where, given)
        merged = {**self.defaults, **given}
        return {key: self.parameters[key].check(f"{where}.{key}", value) for key, value in merged.items()}

    def builder(self) -> Callable[..., Any]:
        """The function ``genotype sample`` calls: ``build``, or the sampler over keyword ranges
        (``n_inputs`` and ``n_outputs`` as keywords, 8 and 2 by default)."""
        if self.build is not None:
            return self.build

        def from_ranges(rng: np.random.Generator, n_inputs: int = 8, n_outputs: int = 2, **given):
            ranges = self.ranges("prior", {k: v if isinstance(v, list) else [v, v] for k, v in given.items()})
            return self.sample(ranges, PriorContext(n_inputs, n_outputs), rng)

        return from_ranges


@runtime_checkable
class GenotypeFamily(Protocol):
    """A genotype family: what ``[model] kind`` names.

    Attributes
    ----------
    name : str
        Its name in ``[model] kind``.
    meaning : str
        One line for the references and ``--help``.
    adjective : str
        How messages name its candidates ("layered", "recurrent", "convolutional").
    genotype_type : type
        The class of its genotypes (``save``, ``from_bytes``, ``content_hash``, ``validate``).
    task_kind : str
        The task it needs: ``vector`` (no sequences), ``sequence`` or ``image``.
    rewiring, inheritance : bool
        Whether its candidates may rewire while they train, and inherit their parents' weights.
    priors, mutations, crossovers : Registry
        Its priors, and its operators ``(genotype, rng, **options) -> genotype`` and
        ``(a, b, rng) -> (a', b')``.
    default_mutations, default_crossovers : dict
        The operator weights a space of this family gets when it names none.
    steps : dict
        The default step of each operator that takes one (``[evolution.steps]``).
    single_edge : tuple
        Operators that change one edge: dropped above ``evolution.single_edge_limit`` edges.
    input_layer : bool
        Whether its genotypes read the task's inputs directly (the input-density gene applies).
    uses_cells : bool
        Whether its candidates draw a recurrent cell from ``[model] cells`` (the cell gene applies).
    """

    name: str
    meaning: str
    adjective: str
    genotype_type: type
    task_kind: str
    rewiring: bool
    inheritance: bool
    priors: Registry
    mutations: Registry
    crossovers: Registry
    default_mutations: Mapping[str, float]
    default_crossovers: Mapping[str, float]
    steps: Mapping[str, float]
    single_edge: tuple
    input_layer: bool
    uses_cells: bool

    def check_task(self, task, space) -> None: ...
    def check_genotype(self, genotype, task, source: str) -> None: ...
    def n_inputs(self, model, task) -> int: ...
    def cells(self, model) -> list[str]: ...
    def draw(self, prior: str, ranges: dict, context: PriorContext, rng: np.random.Generator): ...
    def mutate(self, name: str, genotype, rng: np.random.Generator, **options): ...
    def cross(self, name: str, a, b, rng: np.random.Generator) -> tuple: ...
    def tag(self, genotype, slot: int): ...
    def feature_names(self) -> list[str]: ...
    def features(self, genotype) -> tuple[dict, dict]: ...
    def size(self, genotype) -> tuple[int, int]: ...
    def widths(self, genotype) -> tuple[int, int]: ...
    def decode(self, genotype, model, task, seed: int): ...
    def reads(self, data: bytes | dict) -> bool: ...


class Family:
    """The defaults most families keep: a layered-graph-like genotype with ``n_edges`` and
    ``n_nodes``, operators called with the options they accept, no cells, no lineage tags, and no
    file format of its own (``reads`` says no, so the layered reader takes the file)."""

    name = ""
    meaning = ""
    adjective = ""
    genotype_type: type = object
    task_kind = "vector"
    rewiring = True
    inheritance = True
    priors: Registry = Registry("prior")
    mutations: Registry = Registry("mutation")
    crossovers: Registry = Registry("crossover")
    default_mutations: Mapping[str, float] = {}
    default_crossovers: Mapping[str, float] = {}
    steps: Mapping[str, float] = {}
    single_edge: tuple = ()
    input_layer = False
    uses_cells = False

    def check_task(self, task, space) -> None:
        """Refuse a task this family cannot train on (a one-line DataError)."""
        if self.task_kind == "sequence" and not task.sequence:
            raise DataError(f"model.kind = {self.name!r} needs a sequence task; {space.task.name!r} is not one")
        if self.task_kind != "sequence" and task.sequence:
            raise DataError(f"task {space.task.name!r} holds sequences: set model.kind = 'rnn'")
        if self.task_kind == "image" and task.image_shape is None:
            raise DataError(f"model.kind = {self.name!r} needs an image task; {space.task.name!r} has inputs of "
                            f"shape {list(task.input_shape)}")

    def check_genotype(self, genotype, task, source: str) -> None:
        """Refuse a genotype (a file: ``source``) whose inputs or outputs do not fit the task."""
        if task.sequence:  # its inputs are the embedding, of any width
            if genotype.n_outputs != task.n_classes:
                raise ConfigError(f"{source} has {genotype.n_outputs} outputs but task {task.name!r} has "
                                  f"{task.n_classes} classes")
        elif genotype.n_inputs != task.n_inputs or genotype.n_outputs != task.n_classes:
            raise ConfigError(f"{source} has {genotype.n_inputs} inputs and {genotype.n_outputs} outputs but task "
                              f"{task.name!r} has {task.n_inputs} and {task.n_classes}")

    def n_inputs(self, model, task) -> int:
        return task.n_inputs

    def cells(self, model) -> list[str]:
        return []

    def draw(self, prior: str, ranges: dict, context: PriorContext, rng: np.random.Generator):
        return self.priors.lookup(prior).sample(ranges, context, rng)

    def mutate(self, name: str, genotype, rng: np.random.Generator, **options):
        """The mutation ``name`` of ``genotype``; ``options`` (``step``, ``max_width``, ``importance``)
        are for the families whose operators take them."""
        return self.mutations.lookup(name)(genotype, rng)

    def cross(self, name: str, a, b, rng: np.random.Generator) -> tuple:
        return self.crossovers.lookup(name)(a, b, rng)

    def tag(self, genotype, slot: int):
        return genotype

    def size(self, genotype) -> tuple[int, int]:
        """(connections, neurons) of the model the genotype decodes into, for the memory check."""
        return genotype.n_edges, genotype.n_nodes

    def widths(self, genotype) -> tuple[int, int]:
        """(inputs, outputs) of a genotype: what it reads and how many classes it gives."""
        return genotype.n_inputs, genotype.n_outputs

    def reads(self, data: bytes | dict) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<genotype family {self.name!r}>"


FAMILIES: Registry[GenotypeFamily] = Registry("model kind")


def prior_names() -> list[str]:
    """Every prior of every family, each once, in registration order."""
    return list(dict.fromkeys(name for entry in FAMILIES.values() for name in entry.priors))


def find_prior(name: str) -> Prior:
    """The prior ``name`` of whichever family has it."""
    for entry in FAMILIES.values():
        if name in entry.priors:
            return entry.priors[name]
    raise ConfigError(f"unknown prior {name!r}; known: {', '.join(prior_names())}")


def distinct_families(attribute: str) -> list[GenotypeFamily]:
    """One family per distinct registry of ``attribute`` (``priors``, ``mutations``, ``crossovers``):
    the recurrent family shares the layered one's, so it is listed once."""
    seen, out = set(), []
    for entry in FAMILIES.values():
        if id(getattr(entry, attribute)) not in seen:
            seen.add(id(getattr(entry, attribute)))
            out.append(entry)
    return out


def families_of_prior(name: str) -> list[str]:
    return [entry.name for entry in FAMILIES.values() if name in entry.priors]


def operator_names(table: str) -> list[str]:
    """Every operator of every family in ``table`` (``mutations`` or ``crossovers``)."""
    return list(dict.fromkeys(name for entry in FAMILIES.values() for name in getattr(entry, table)))


def reader_of(data: bytes | dict) -> GenotypeFamily:
    """The family whose file format ``data`` is (the layered one unless another family reads it)."""
    return next((entry for entry in FAMILIES.values() if entry.reads(data)), FAMILIES["mlp"])


def genotype_from_bytes(blob: bytes, source: str = "genotype"):
    """A genotype of any registered family from its stored bytes."""
    return reader_of(blob).genotype_type.from_bytes(blob, source)


def load_genotype(path, validate: bool = True):
    """A genotype file of any registered family."""
    path = Path(path)
    return parse_genotype(read_bytes(path), path, lambda data: reader_of(data).genotype_type, validate)


def family_of(genotype, task=None) -> GenotypeFamily:
    """The family a genotype decodes with when none is named: the first registered family of its
    type whose task kind fits ``task`` (the layered MLP for a layered genotype on a vector task)."""
    kinds = [entry for entry in FAMILIES.values() if isinstance(genotype, entry.genotype_type)]
    if task is not None:
        fitting = [entry for entry in kinds if (entry.task_kind == "sequence") == bool(task.sequence)]
        kinds = fitting or kinds
    if not kinds:
        raise DataError(f"no genotype family decodes a {type(genotype).__name__}")
    return kinds[0]
