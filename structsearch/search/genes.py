"""Training genes: settings of the trainer that evolve with the structure.

A space may declare ``[genes.NAME]`` tables, with the same distributions as ``[study.params]``::

    [genes.lr]
    type = "log-float"
    low = 0.001
    high = 0.05
    [genes.rule]
    type = "categorical"
    choices = ["set", "rigl"]

Every candidate then carries one value per gene: drawn from the distribution in generation 0
(and by random search), inherited gene by gene from either parent in a crossover, and each
changed with ``evolution.gene_mutation_probability`` in a mutation: a numeric gene takes a
Gaussian step of a fifth of its range (on the log scale for ``log-`` types) clipped into it, a
categorical one another of its choices.  The values are stored with the candidate (its
``attributes``), are part of its deduplication key, are features for the gate, and set the
candidate's ``[training]``, ``[rewiring]`` and ``[model]`` keys when it trains.

Genes are the trainer's parameters (the names of ``structsearch study``), ``input_density`` on an
MLP space (a genotype gene: the share of the inputs each neuron of the input layer reads; the
candidate's genotype is reshaped to it when it is drawn, crossed over or mutated —
:func:`structsearch.graphs.operators.set_input_density`) and ``cell`` on a
recurrent space (where the cell already evolves with every candidate: ``[genes.cell]`` sets
``model.cells``, its choices, and is not kept as a gene of its own).  ``epsilon`` is not a gene:
a genotype fixes its own density, which the structure operators (``scale-density``, …) evolve.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from structsearch.errors import ConfigError
from structsearch.nn.recurrent import CELLS
from structsearch.overrides import PARAMETERS, rename_parameters

DISTRIBUTIONS = ("float", "log-float", "int", "log-int", "categorical")
STEP_SHARE = 0.2  # a numeric gene's mutation: a Gaussian step of this share of its range
RECURRENT_REFUSED = ("rule", "drop_fraction", "motif_size")  # recurrent candidates train without rewiring
# genes of the genotype rather than of the trainer: name → value type
GENOTYPE_GENES = {"input_density": float}
TRAINER_GENES = tuple(name for name in PARAMETERS if name != "epsilon")  # a genotype fixes its own density
GENE_NAMES = ("cell", *GENOTYPE_GENES, *TRAINER_GENES)


def check_distribution(spec: Any, where: str, value_type: type = float) -> dict:
    """A checked ``{type, low, high[, step]}`` or ``{type = "categorical", choices}`` table
    (the format of ``[study.params.NAME]`` and ``[genes.NAME]``); ``value_type`` is the type the
    parameter takes."""
    if not isinstance(spec, dict) or spec.get("type") not in DISTRIBUTIONS:
        got = spec.get("type") if isinstance(spec, dict) else spec
        raise ConfigError(f"{where}.type must be one of {', '.join(DISTRIBUTIONS)}, got {got!r}")
    kind = spec["type"]
    allowed = {"type", "choices"} if kind == "categorical" else {"type", "low", "high", "step"}
    extra = sorted(set(spec) - allowed)
    if extra:
        raise ConfigError(f"unknown key {where}.{extra[0]}; allowed: {', '.join(sorted(allowed))}")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}.choices must be a non-empty list, got {choices!r}")
        return spec
    expected = int if kind.endswith("int") else (int, float)
    low, high = spec.get("low"), spec.get("high")
    for key, value in (("low", low), ("high", high)):
        if not isinstance(value, expected) or isinstance(value, bool):
            raise ConfigError(f"{where}.{key} must be {'an integer' if expected is int else 'a number'}, got {value!r}")
    if value_type is int and kind in ("float", "log-float"):
        raise ConfigError(f"{where}: {where.rsplit('.', 1)[-1]} takes integers; use type 'int' or 'log-int'")
    if low > high:
        raise ConfigError(f"{where}: low = {low} exceeds high = {high}")
    if kind.startswith("log") and low <= 0:
        raise ConfigError(f"{where}: a log distribution needs low > 0, got low = {low}")
    return spec


def check_genes(genes: Any, family) -> dict[str, dict]:
    """The ``[genes]`` table, checked: known names, valid distributions, and genes the genotype
    family (:mod:`structsearch.families`) can use."""
    if not isinstance(genes, dict):
        raise ConfigError("[genes] must be a table of [genes.NAME] tables")
    genes = rename_parameters(genes, "genes")
    for name, spec in genes.items():
        where = f"genes.{name}"
        if name == "epsilon":
            raise ConfigError(f"{where}: epsilon is not a gene: a genotype fixes its own density (the "
                              "scale-density and resize-layer mutations evolve it)")
        if name == "cell":
            if not family.uses_cells:
                raise ConfigError(f"{where}: a cell gene needs model.kind = 'rnn'; this space builds "
                                  f"{family.name} candidates")
        elif name in GENOTYPE_GENES:
            if not family.input_layer:
                raise ConfigError(f"{where}: an input-density gene needs model.kind = 'mlp' (an input layer of "
                                  f"its own); this space builds {family.name} candidates")
            spec = check_distribution(spec, where, float)
            values = spec["choices"] if spec["type"] == "categorical" else [spec["low"], spec["high"]]
            if not all(isinstance(v, int | float) and 0.0 < v <= 1.0 for v in values):
                raise ConfigError(f"{where}: an input density is a share in (0, 1], got {values}")
            continue
        elif name not in PARAMETERS:
            raise ConfigError(f"{where}: unknown gene {name!r}; genes are cell and the trainer's "
                              f"parameters: {', '.join(TRAINER_GENES)}")
        elif not family.rewiring and name in RECURRENT_REFUSED:
            raise ConfigError(f"{where}: {family.adjective} candidates train without rewiring, so they cannot use "
                              f"a {name} gene")
        check_distribution(spec, where, PARAMETERS[name][1] if name in PARAMETERS else str)
        if name == "cell":
            if spec["type"] != "categorical" or not set(spec["choices"]) <= set(CELLS):
                raise ConfigError(f"{where} must be categorical with choices among {', '.join(CELLS)}")
    return genes


def sample(genes: dict[str, dict], rng: np.random.Generator) -> dict[str, Any]:
    """One value per gene, drawn from its distribution."""
    return {name: _draw(spec, rng) for name, spec in genes.items()}


def _draw(spec: dict, rng: np.random.Generator):
    kind = spec["type"]
    if kind == "categorical":
        return spec["choices"][int(rng.integers(len(spec["choices"])))]
    low, high = spec["low"], spec["high"]
    if kind.startswith("log"):
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    else:
        value = rng.uniform(low, high)
    return _snap(spec, value)


def _snap(spec: dict, value: float):
    """``value`` clipped into the range, on its step's grid, as the gene's type."""
    low, high = spec["low"], spec["high"]
    value = min(max(value, low), high)
    step = spec.get("step")
    if step:
        value = low + round((value - low) / step) * step
        value = min(max(value, low), high)
    return int(round(value)) if spec["type"].endswith("int") else float(value)


def mutate(genes: dict[str, dict], values: dict[str, Any], probability: float,
           rng: np.random.Generator) -> dict[str, Any]:
    """``values`` with each gene changed with ``probability``."""
    changed = dict(values)
    for name, spec in genes.items():
        if rng.random() >= probability:
            continue
        kind = spec["type"]
        if kind == "categorical":
            others = [c for c in spec["choices"] if c != values[name]] or spec["choices"]
            changed[name] = others[int(rng.integers(len(others)))]
            continue
        low, high, value = spec["low"], spec["high"], values[name]
        if kind.startswith("log"):
            scale = STEP_SHARE * (math.log(high) - math.log(low))
            changed[name] = _snap(spec, math.exp(math.log(value) + rng.normal(0.0, scale)))
        else:
            step = rng.normal(0.0, STEP_SHARE * (high - low))
            if kind.endswith("int") and round(step) == 0:
                step = 1 if step >= 0 else -1
            changed[name] = _snap(spec, value + step)
    return changed


def cross(genes: dict[str, dict], a: dict[str, Any], b: dict[str, Any], rng: np.random.Generator
          ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Uniform crossover: per gene, the first child takes either parent's value, the second the other."""
    first, second = {}, {}
    for name in genes:
        swap = rng.random() < 0.5
        first[name], second[name] = (b[name], a[name]) if swap else (a[name], b[name])
    return first, second


def feature_names(genes: dict[str, dict]) -> list[str]:
    """The gate's features of the genes: a numeric gene's value (log10 for ``log-`` types), a
    categorical gene's one-hot indicators."""
    names = []
    for name, spec in genes.items():
        if spec["type"] == "categorical":
            names += [f"gene_{name}={choice}" for choice in spec["choices"]]
        else:
            names.append(f"gene_{name}")
    return names


def features(genes: dict[str, dict], values: dict[str, Any]) -> dict[str, float]:
    out = {}
    for name, spec in genes.items():
        if spec["type"] == "categorical":
            out.update({f"gene_{name}={choice}": float(values.get(name) == choice) for choice in spec["choices"]})
        else:
            value = float(values[name])
            out[f"gene_{name}"] = math.log10(value) if spec["type"].startswith("log") else value
    return out


def apply(model, rewiring, training, values: dict[str, Any]):
    """``(model, rewiring, training)`` configs with the gene values set, validated."""
    tables = {"model": {}, "rewiring": {}, "training": {}}
    for name, value in values.items():
        if name in GENOTYPE_GENES:  # shapes the genotype, not the training
            continue
        table, key = PARAMETERS[name][0].split(".")
        tables[table][key] = value
    return (replace(model, **tables["model"]).validate(), replace(rewiring, **tables["rewiring"]).validate(),
            replace(training, **tables["training"]).validate())


def check_extremes(genes: dict[str, dict], model, rewiring, training) -> None:
    """Refuse a gene range whose ends the trainer would refuse (``lr`` ≤ 0, ``dropout`` ≥ 1, …)."""
    for name, spec in genes.items():
        if name in GENOTYPE_GENES:
            continue
        values = spec["choices"] if spec["type"] == "categorical" else [spec["low"], spec["high"]]
        for value in values:
            try:
                apply(model, rewiring, training, {name: value})
            except ConfigError as error:
                raise ConfigError(f"genes.{name} = {value!r}: {error}") from None
            except TypeError:
                raise ConfigError(f"genes.{name}: {value!r} is not a value of {name}") from None
