"""Random search, epoch budgets, block mutations and training genes (issue 17)."""

from __future__ import annotations

import re
from importlib.resources import files

import numpy as np
import pytest
from helpers import tiny_space
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from structsearch.commands import main
from structsearch.errors import ConfigError
from structsearch.graphs.operators import (
    _pick_block,
    block_of_edges,
    resample_block,
    resize_layer,
    rewire_fraction,
    scale_density,
)
from structsearch.graphs.priors import erdos_renyi
from structsearch.search import genes as training_genes
from structsearch.search.engine import Search
from structsearch.search.executors import InProcessExecutor
from structsearch.search.genome import operator_weights
from structsearch.search.space import load_space, space_from_dict
from structsearch.store import RunStore

# ------------------------------------------------------------------------------ budgets


def spent(run_dir) -> tuple[int, list]:
    with RunStore.open(run_dir) as store:
        rows = [c for c in store.candidates() if c.status is not None and c.status != "dropped-by-predictor"
                and not c.metrics.get("duplicate_of")]
    return sum(c.metrics["cost_epochs"] for c in rows), rows


@pytest.mark.parametrize("selection", ["random", "tournament"])
def test_random_search_and_evolution_spend_the_same_epochs_within_one_candidate(tmp_path, selection):
    space = tiny_space(evolution__selection=selection, evolution__generations=50, budget__max_epochs=21,
                       training__epochs=2, stopping__median=True, stopping__startup=2)
    search = Search.start(space, tmp_path / selection, InProcessExecutor())
    outcome = search.run()
    epochs, rows = spent(search.run_dir)
    assert outcome.stopped_by.startswith("budget: ") and "training epochs" in outcome.stopped_by
    assert 21 <= epochs < 21 + space.training.epochs
    assert all(row.metrics["cost_seconds"] > 0 for row in rows)
    assert all(row.metrics["cost_epochs"] == row.metrics["epochs_run"] for row in rows)
    search.store.close()


def test_the_budget_is_checked_within_a_generation_and_resume_finishes_the_generation(tmp_path):
    # one generation of 12 children, but only 10 epochs (5 candidates of 2): the generation stops part-way
    space = tiny_space(evolution__selection="random", evolution__population=12, evolution__generations=1,
                       budget__max_epochs=10)
    search = Search.start(space, tmp_path / "cut", InProcessExecutor())
    outcome = search.run()
    search.store.close()
    epochs, rows = spent(tmp_path / "cut")
    assert epochs == 10 and len(rows) == 5 and outcome.generations == -1
    with RunStore.open(tmp_path / "cut") as store:
        assert sum(c.status is None for c in store.candidates()) == 7
    more = Search.resume(tmp_path / "cut", InProcessExecutor(), extend={"budget.max_epochs": 100})
    more.run()
    more.store.close()
    epochs, rows = spent(tmp_path / "cut")
    assert len(rows) > 5 and epochs == 2 * len(rows)  # the rest of generation 0, and generation 1
    with RunStore.open(tmp_path / "cut") as store:
        assert all(c.status is not None for c in store.candidates())


class CrashingExecutor(InProcessExecutor):
    """In-process training that dies (as ``kill`` would) after ``results`` results."""

    def __init__(self, results: int):
        self.results = results

    def run(self, jobs):
        for count, result in enumerate(super().run(jobs)):
            if count == self.results:
                raise KeyboardInterrupt
            yield result


def test_time_spent_before_a_kill_in_generation_0_counts_after_resume(tmp_path):
    # killed after 3 results of generation 0: no checkpoint exists yet, the results' search_elapsed must count
    space = tiny_space(evolution__population=8, evolution__generations=1)
    cut = Search.start(space, tmp_path / "cut", CrashingExecutor(3))
    with pytest.raises(KeyboardInterrupt):
        cut.run()
    cut.store.close()
    with RunStore.open(tmp_path / "cut") as store:
        last = max(c.metrics["search_elapsed"] for c in store.candidates() if c.status is not None)
        assert store.meta("search_state") is None and last > 0
    resumed = Search.resume(tmp_path / "cut", InProcessExecutor())
    assert resumed.elapsed_before == last and resumed.elapsed >= last
    resumed.store.close()


def test_a_resumed_random_search_ends_with_the_candidates_of_an_uninterrupted_one(tmp_path):
    def space():
        return tiny_space(evolution__selection="random", evolution__generations=3, budget__max_epochs=30)

    whole = Search.start(space(), tmp_path / "whole", InProcessExecutor())
    whole.run()
    whole.store.close()
    cut = Search.start(space(), tmp_path / "cut", CrashingExecutor(2))  # dies in generation 1
    with pytest.raises(KeyboardInterrupt):
        cut.run()
    cut.store.close()
    resumed = Search.resume(tmp_path / "cut", InProcessExecutor())
    resumed.run()
    resumed.store.close()

    def candidates(run):
        with RunStore.open(tmp_path / run) as store:
            return [(c.hash, c.status, c.metrics.get("val_accuracy")) for c in store.candidates()]

    assert candidates("whole") == candidates("cut")
    assert len(candidates("whole")) > 8  # it got past generation 1
    assert all(origin.startswith("prior:") for origin in _origins(tmp_path / "whole"))


def _origins(run_dir) -> list[str]:
    with RunStore.open(run_dir) as store:
        return [c.origin for c in store.candidates()]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"budget": {"max_epochs": -5}}, "budget.max_epochs must be an integer ≥ 0, got -5"),
        ({"budget": {"max_hours": -1.0}}, "budget.max_hours must be a number ≥ 0"),
        ({"evolution": {"steps": {"resize-layer": 0.0}}}, "evolution.steps.resize-layer is a factor: it must be > 0"),
        ({"evolution": {"steps": {"rewire-fraction": 1.5}}}, "must lie in (0, 1], got 1.5"),
        ({"evolution": {"steps": {"rewire-fraction": 0.0}}}, "must lie in (0, 1], got 0.0"),
        ({"evolution": {"steps": {"add-edge": 2.0}}}, "'add-edge' takes no step"),
        ({"genes": {"lr": {"type": "log-float", "low": 0.1, "high": 0.01}}}, "genes.lr: low = 0.1 exceeds high = 0.01"),
        ({"genes": {"cell": {"type": "categorical", "choices": ["gru"]}}}, "genes.cell: a cell gene needs model.kind"),
        ({"genes": {"epsilon": {"type": "float", "low": 1.0, "high": 5.0}}}, "genes.epsilon: epsilon is not a gene"),
        ({"genes": {"colour": {"type": "float", "low": 1.0, "high": 5.0}}}, "unknown gene 'colour'"),
        ({"genes": {"dropout": {"type": "float", "low": 0.0, "high": 1.0}}}, "genes.dropout = 1.0: model.dropout"),
        ({"genes": {"batch_size": {"type": "float", "low": 8, "high": 64}}}, "takes integers"),
    ],
)
def test_bad_budgets_steps_and_genes_are_one_line_errors(changes, message):
    with pytest.raises(ConfigError) as error:
        space_from_dict({"task": {"name": "digits"}, **changes}, "space.toml")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_rnn_space_refuses_a_rewiring_gene():
    with pytest.raises(ConfigError, match="recurrent candidates train without rewiring"):
        space_from_dict({"task": {"name": "reber"}, "model": {"kind": "rnn"},
                         "genes": {"rule": {"type": "categorical", "choices": ["set"]}}}, "s")


def test_resume_refuses_another_selection(tmp_path, capsys):
    tiny = ["--population", "2", "--generations", "0", "--epochs", "1", "--quiet", "--dry-run",
            "--set", "genotype.nodes=[10, 24]", "--set", "genotype.erdos-renyi.width=[8, 24]"]
    assert main(["evolve", "--runs", str(tmp_path), "--name", "t", *tiny, "--selection", "tournament"]) == 0
    capsys.readouterr()
    code = main(["evolve", "--resume", str(tmp_path / "t"), "--selection", "random"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "made by selection 'tournament'" in err and "\n" not in err


# ------------------------------------------------------------------------------ block mutations


def layered(sizes, epsilon, seed):
    return erdos_renyi(sizes, epsilon, np.random.default_rng(seed))


def block_counts(graph) -> dict[int, int]:
    keys, counts = np.unique(block_of_edges(graph), return_counts=True)
    return dict(zip(keys.tolist(), counts.tolist(), strict=True))


sizes = st.lists(st.integers(4, 60), min_size=1, max_size=3).map(lambda hidden: [16, *hidden, 5])
fuzz = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@fuzz
@given(sizes=sizes, epsilon=st.floats(1.0, 6.0), seed=st.integers(0, 10_000))
def test_rewire_fraction_moves_the_promised_share_of_one_block(sizes, epsilon, seed):
    graph = layered(sizes, epsilon, seed)
    fraction = 0.3
    child = rewire_fraction(graph, np.random.default_rng(seed), step=fraction)
    child.validate()
    a, b, mask = _pick_block(graph, np.random.default_rng(seed))  # the block it picked
    widths = graph.layer_widths()
    count = int(mask.sum())
    promised = min(max(1, round(fraction * count)), widths[a] * widths[b] - count)  # a full block moves nothing
    before, after = set(graph.edge_keys().tolist()), set(child.edge_keys().tolist())
    removed = before - after
    assert removed <= set(graph.edge_keys()[mask].tolist())  # only that block lost edges
    # repair may reconnect a neuron the move left dead through one of the removed edges
    assert promised - widths[a] - widths[b] <= len(removed) <= promised
    assert len(after - before) >= len(removed)  # as many moved in (repair may add a few more)


@fuzz
@given(sizes=sizes, epsilon=st.floats(1.0, 6.0), seed=st.integers(0, 10_000), factor=st.floats(1.1, 4.0))
def test_scale_density_scales_one_block_by_a_factor_in_range(sizes, epsilon, seed, factor):
    graph = layered(sizes, epsilon, seed)
    child = scale_density(graph, np.random.default_rng(seed), step=factor)
    child.validate()
    a, b, mask = _pick_block(graph, np.random.default_rng(seed))  # the block it picked
    widths = graph.layer_widths()
    key, count, total = int(block_of_edges(graph)[mask][0]), int(mask.sum()), widths[a] * widths[b]
    new = block_counts(child).get(key, 0)
    # × a factor in [1/factor, factor], rounded, kept within [1, a full block]
    assert new >= count / factor - widths[a] - widths[b]
    assert new <= min(total, np.ceil(count * factor) + widths[a] + widths[b])
    if 1 < count < total:  # the block's edges changed (repair may put a removed edge back, never all)
        assert set(child.edge_keys().tolist()) != set(graph.edge_keys().tolist())
    others = {k: v for k, v in block_counts(graph).items() if k != key}
    assert all(block_counts(child).get(k, 0) >= v for k, v in others.items())  # other blocks only gain repairs


@fuzz
@given(sizes=sizes, epsilon=st.floats(1.0, 6.0), seed=st.integers(0, 10_000))
def test_resample_block_keeps_the_count_and_redraws_the_block(sizes, epsilon, seed):
    graph = layered(sizes, epsilon, seed)
    child = resample_block(graph, np.random.default_rng(seed))
    child.validate()
    assert child.layer_widths() == graph.layer_widths()
    assert child.n_edges >= graph.n_edges  # the block's count is kept; repair only adds


@fuzz
@given(sizes=sizes, epsilon=st.floats(1.0, 6.0), seed=st.integers(0, 10_000), factor=st.floats(1.2, 3.0))
def test_resize_layer_changes_one_width_and_keeps_its_block_densities(sizes, epsilon, seed, factor):
    graph = layered(sizes, epsilon, seed)
    child = resize_layer(graph, np.random.default_rng(seed), step=factor, max_width=200)
    child.validate()
    old, new = graph.layer_widths(), child.layer_widths()
    assert len(old) == len(new)
    changed = [i for i in range(len(old)) if old[i] != new[i]]
    assert len(changed) == 1 and 1 <= changed[0] < len(old) - 1
    layer = changed[0]
    assert old[layer] / factor - 1 <= new[layer] <= old[layer] * factor + 1
    width = graph.output_layer + 1
    for key, count in block_counts(graph).items():
        a, b = divmod(key, width)
        if layer in (a, b):
            density = count / (old[a] * old[b])
            redrawn = block_counts(child).get(key, 0) / (new[a] * new[b])
            # the same density, up to rounding and the edges repair adds to reconnect neurons
            assert abs(redrawn - density) <= 1.0 / (new[a] * new[b]) + (new[a] + new[b]) / (new[a] * new[b])


def test_big_genotypes_use_block_operators_and_small_ones_keep_single_edges():
    space = load_space("digits-small")
    small, big = layered([64, 10, 10], 2.0, 0), layered([64, 200, 200, 10], 8.0, 0)
    assert small.n_edges <= space.evolution.single_edge_limit < big.n_edges
    assert "add-edge" in operator_weights(space, small) and "add-edge" not in operator_weights(space, big)
    assert "resize-layer" in operator_weights(space, big)


# ------------------------------------------------------------------------------ training genes

GENES = {"lr": {"type": "log-float", "low": 0.001, "high": 0.05},
         "rule": {"type": "categorical", "choices": ["set", "rigl"]},
         "batch_size": {"type": "int", "low": 16, "high": 64, "step": 16}}


def test_training_genes_are_drawn_inherited_mutated_within_range_and_stored(tmp_path):
    space = tiny_space(evolution__generations=2, evolution__gene_mutation_probability=1.0)
    space.genes = GENES
    space.validate()
    search = Search.start(space, tmp_path / "genes", InProcessExecutor())
    search.run()
    with RunStore.open(tmp_path / "genes") as store:
        candidates = store.candidates()
    for candidate in candidates:
        genes = candidate.attributes["genes"]
        assert 0.001 <= genes["lr"] <= 0.05 and genes["rule"] in ("set", "rigl")
        assert genes["batch_size"] in (16, 32, 48, 64)
        assert candidate.features["gene_lr"] == pytest.approx(np.log10(genes["lr"]))
    by_id = {c.id: c for c in candidates}
    mutated = [c for c in candidates if c.origin.startswith("mutation:")]
    assert mutated and all("+genes:" in c.origin for c in mutated)
    for child in mutated:  # a categorical gene mutated with probability 1 always changes
        assert child.attributes["genes"]["rule"] != by_id[child.parents[0]].attributes["genes"]["rule"]
    crossed = [c for c in candidates if c.origin.startswith("crossover:") and "+" not in c.origin]
    for child in crossed:  # without a mutation, each gene comes from one of the parents
        parents = [by_id[p].attributes["genes"] for p in child.parents]
        assert all(child.attributes["genes"][g] in (p[g] for p in parents) for g in GENES)
    search.store.close()


def test_genes_set_the_candidates_training():
    space = tiny_space()
    model, rewiring, training = training_genes.apply(space.model.model_config(), space.rewiring, space.training,
                                                     {"lr": 0.02, "rule": "rigl", "batch_size": 48})
    assert (training.lr, rewiring.rule, training.batch_size) == (0.02, "rigl", 48)
    rng = np.random.default_rng(0)
    values = training_genes.sample(GENES, rng)
    for _ in range(200):
        values = training_genes.mutate(GENES, values, 1.0, rng)
        assert 0.001 <= values["lr"] <= 0.05 and values["batch_size"] % 16 == 0


def epochs_space(tmp_path) -> str:
    """The default space with an epoch budget instead of its compute budget."""
    text = (files("structsearch.search_spaces") / "digits-small.toml").read_text()
    path = tmp_path / "epochs.toml"
    path.write_text(re.sub(r"(?m)^max_macs = .*$", "max_epochs = 720", text))
    return str(path)


def test_evolve_with_a_random_baseline_spends_the_same_epochs_and_compares(tmp_path, capsys):
    tiny = ["--population", "3", "--generations", "1", "--epochs", "2", "--quiet", "--dry-run",
            "--set", "genotype.nodes=[10, 24]", "--set", "genotype.erdos-renyi.width=[8, 24]"]
    assert main(["evolve", epochs_space(tmp_path), "--runs", str(tmp_path), "--name", "b", "--baseline", "random",
                 *tiny]) == 0
    out = capsys.readouterr().out
    assert "random" in out and "best validation within the training epochs" in out and "pick test" in out
    evolved, _ = spent(tmp_path / "b")
    random_epochs, rows = spent(tmp_path / "b-random")
    assert evolved <= random_epochs < evolved + 2
    with RunStore.open(tmp_path / "b-random") as store:
        assert store.config["evolution"]["selection"] == "random" and store.config["gate"]["predictor"] == "none"
    assert all(row.origin.startswith("prior:") for row in rows)
    # a clash with the baseline's folder is refused before anything trains
    (tmp_path / "c-random").mkdir()
    (tmp_path / "c-random" / "x").write_text("x")
    assert main(["evolve", "--runs", str(tmp_path), "--name", "c", "--baseline", "random", *tiny]) == 2
    assert not (tmp_path / "c").exists()


def test_with_a_compute_budget_the_random_baseline_spends_the_same_compute(tmp_path, capsys):
    tiny = ["--population", "4", "--generations", "3", "--epochs", "2", "--quiet", "--dry-run", "--max-macs", "3e7",
            "--set", "genotype.nodes=[10, 24]", "--set", "genotype.erdos-renyi.width=[8, 24]"]
    assert main(["evolve", "--runs", str(tmp_path), "--name", "m", "--baseline", "random", *tiny]) == 0
    out = capsys.readouterr().out
    assert "best validation within the training compute" in out and "pick test" in out and "MAC" in out

    def compute(run):
        rows = spent(tmp_path / run)[1]
        return sum(c.metrics["cost_macs"] for c in rows), max(c.metrics["cost_macs"] for c in rows)

    (searched, _), (drawn, largest) = compute("m"), compute("m-random")
    assert searched <= drawn < searched + largest  # within one candidate's compute of the search's
    with RunStore.open(tmp_path / "m") as store:
        assert store.meta("baseline")["max_macs"] == searched
