"""Genotype families are plug-ins: a family or a prior registered from this module alone (no file of
structsearch edited) is drawn, varied, featurised, decoded, trained and stored by a real search."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from structsearch.errors import ConfigError
from structsearch.families import FAMILIES, Family, GenotypeFamily, Parameter, Prior, PriorContext, uniform
from structsearch.graphs import LayeredGraph
from structsearch.nn.mlp import SparseMLP
from structsearch.registry import Registry
from structsearch.search.engine import Search
from structsearch.search.executors import InProcessExecutor
from structsearch.search.space import load_space_with_changes
from structsearch.store import RunStore


def _one_hidden_layer(n_inputs: int, width: int, n_outputs: int, fan_in: int, rng: np.random.Generator) -> LayeredGraph:
    """Inputs → one hidden layer → outputs: every hidden neuron reads ``fan_in`` random inputs and
    feeds every output."""
    graph = LayeredGraph.from_layer_widths(n_inputs, [width], n_outputs)
    hidden = np.arange(n_inputs, n_inputs + width)
    outputs = np.arange(n_inputs + width, n_inputs + width + n_outputs)
    src = np.concatenate([rng.choice(n_inputs, fan_in, replace=False) for _ in hidden] + [np.repeat(hidden, n_outputs)])
    dst = np.concatenate([np.repeat(hidden, fan_in), np.tile(outputs, width)])
    return graph.with_edges(src, dst)


def sample_fan(ranges: dict, context: PriorContext, rng: np.random.Generator) -> LayeredGraph:
    width, fan_in = uniform(rng, ranges["width"]), uniform(rng, ranges["fan_in"])
    return _one_hidden_layer(context.n_inputs, width, context.n_outputs, min(fan_in, context.n_inputs), rng)


FAN = Prior(sample_fan, {"width": Parameter(int, (4, 12), "hidden neurons"),
                         "fan_in": Parameter(int, (2, 8), "inputs each hidden neuron reads")},
            "one hidden layer of random fan-in (a toy prior of this test)")


def widen(graph: LayeredGraph, rng: np.random.Generator) -> LayeredGraph:
    """Redraw the graph one hidden neuron wider or narrower."""
    width = max(2, graph.n_nodes - graph.n_inputs - graph.n_outputs + int(rng.choice([-1, 1])))
    return _one_hidden_layer(graph.n_inputs, width, graph.n_outputs, 3, rng)


def swap(a: LayeredGraph, b: LayeredGraph, rng: np.random.Generator) -> tuple[LayeredGraph, LayeredGraph]:
    return b, a


class FanFamily(Family):
    """A toy family: one-hidden-layer MLPs with random fan-in, decoded by the sparse MLP."""

    name = "fan"
    meaning = "one-hidden-layer MLPs of random fan-in (test)"
    adjective = "fan"
    genotype_type = LayeredGraph
    task_kind = "vector"
    rewiring = False
    inheritance = False
    priors = Registry("prior", {"fan": FAN})
    mutations = Registry("mutation", {"widen": widen})
    crossovers = Registry("crossover", {"swap": swap})
    default_mutations = {"widen": 1.0}
    default_crossovers = {"swap": 1.0}

    def feature_names(self) -> list[str]:
        return ["edges", "hidden"]

    def features(self, genotype: LayeredGraph) -> tuple[dict, dict]:
        hidden = genotype.n_nodes - genotype.n_inputs - genotype.n_outputs
        return {"edges": float(genotype.n_edges), "hidden": float(hidden)}, {"family": "fan", "exact": True}

    def decode(self, genotype: LayeredGraph, model, task, seed: int) -> torch.nn.Module:
        return SparseMLP(genotype.to_blocks(), activation=model.activation,
                         generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def fan_family():
    FAMILIES.register("fan", FanFamily())
    yield FAMILIES["fan"]
    FAMILIES.remove("fan")


@pytest.fixture
def fan_prior():
    layered = FAMILIES["mlp"].priors
    layered.register("fan", FAN)
    yield FAN
    layered.remove("fan")


def _tiny(family: str, priors: list[str], extra=()):
    return load_space_with_changes("digits-small", [
        ("model.kind", family), ("genotype.priors", priors), ("evolution.population", 4),
        ("evolution.generations", 2), ("training.epochs", 1), ("gate.predictor", "none"),
        ("rewiring.rule", "none"), *extra])


def test_a_family_registered_by_a_test_runs_a_search(fan_family, tmp_path):
    assert isinstance(fan_family, GenotypeFamily)
    space = _tiny("fan", ["fan"], [("genotype.fan", {"width": [5, 9]}), ("evolution.crossover_probability", 0.5)])
    assert space.evolution.mutations == {"widen": 1.0} and space.evolution.crossovers == {"swap": 1.0}
    outcome = Search.start(space, tmp_path / "run", InProcessExecutor()).run()
    assert outcome.generations == 2 and outcome.trained >= 4
    with RunStore.open(tmp_path / "run") as store:
        candidates = store.candidates()
    trained = [c for c in candidates if c.status == "ok"]
    assert trained and all(set(c.features) >= {"edges", "hidden"} for c in trained)
    hidden = {int(c.features["hidden"]) for c in trained}
    assert hidden <= set(range(3, 12)) and len(hidden) > 1  # drawn in [5, 9], then widened by ±1 a generation
    assert any(c.origin.startswith("mutation:widen") for c in candidates)
    assert all(0.0 < c.metrics["val_accuracy"] <= 1.0 for c in trained)


def test_a_family_declares_its_constraints(fan_family):
    with pytest.raises(ConfigError, match="fan candidates train without rewiring"):
        _tiny("fan", ["fan"], [("rewiring.rule", "set")])
    with pytest.raises(ConfigError, match="fan candidates train from scratch"):
        _tiny("fan", ["fan"], [("evolution.inheritance", "weights")])
    with pytest.raises(ConfigError, match="'add-edge' is not an operator of fan genotypes"):
        _tiny("fan", ["fan"], [("evolution.mutations", {"add-edge": 1.0})])
    with pytest.raises(ConfigError, match=r"genotype\.fan\.width = \[0, 3\]: values must be ≥ 1"):
        _tiny("fan", ["fan"], [("genotype.fan", {"width": [0, 3]})])
    with pytest.raises(ConfigError, match="model.kind = 'fan' takes the fan priors"):
        _tiny("mlp", ["fan"])


def test_a_prior_registered_by_a_test_joins_the_layered_family(fan_prior, tmp_path, capsys):
    from structsearch.commands import main
    from structsearch.families import load_genotype

    space = _tiny("mlp", ["fan", "watts-strogatz"], [("genotype.fan", {"fan_in": [3, 3]})])
    outcome = Search.start(space, tmp_path / "run", InProcessExecutor()).run()
    assert outcome.trained >= 4
    with RunStore.open(tmp_path / "run") as store:
        origins = {c.origin for c in store.candidates() if c.generation == 0}
    assert "prior:fan" in origins
    out = tmp_path / "fan.json"  # genotype sample draws every prior of every family, this one too
    assert main(["genotype", "sample", "fan", "--param", "n_inputs=6", "--param", "width=[5, 5]",
                 "--seed", "1", "--out", str(out)]) == 0
    graph = load_genotype(out)
    assert (graph.n_inputs, graph.n_nodes - 6 - graph.n_outputs) == (6, 5)
