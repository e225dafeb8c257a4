"""The pooled gate: a pool of K × offspring children, scored by the predictor, the best `offspring`
by an acquisition trained; the size-only baseline beside the predictor; the population's spread."""

import math

import numpy as np
import pytest
from helpers import kill_9_search, tiny_space

from structsearch.diversity import plateau_generation, population_spread
from structsearch.errors import ConfigError
from structsearch.search.engine import Search
from structsearch.search.fake import StructureScoreExecutor
from structsearch.search.gate.acquisition import (
    acquire,
    adaptive_beta,
    expected_improvement,
    pareto_order,
    rank_pool,
)
from structsearch.search.gate.size import SizeModel
from structsearch.search.gate.structure import PredictorGate
from structsearch.store import RunStore


def pooled_space(**changes):
    base = {"gate__predictor": "online", "gate__pool": 5, "gate__warmup": 4, "evolution__offspring": 4,
            "evolution__generations": 3, "budget__max_epochs": 0}
    return tiny_space(**{**base, **changes})


def run_pooled(path, **changes):
    search = Search.start(pooled_space(**changes), path, StructureScoreExecutor())
    outcome = search.run()
    search.store.close()
    return search, outcome


def test_the_pool_makes_k_times_offspring_children_and_trains_offspring_of_them(tmp_path):
    search, outcome = run_pooled(tmp_path / "run")
    with RunStore.open(tmp_path / "run") as store:
        for generation in range(1, outcome.generations + 1):
            rows = store.candidates(generation=generation)
            assert len(rows) == 5 * 4  # pool × offspring children, every one stored
            trained = [c for c in rows if c.status not in (None, "dropped-by-predictor")
                       and not c.metrics.get("duplicate_of")]
            dropped = [c for c in rows if c.status == "dropped-by-predictor"]
            assert len(trained) == 4  # exactly offspring of them trained
            assert all(c.prediction is not None for c in dropped)  # scored, stored with the prediction
            kept = [c for c in rows if c.feature_meta.get("gate", {}).get("kept")]
            assert min(c.prediction for c in kept) >= max(c.prediction for c in dropped)  # the best by the mean
    stats = search.history[1]
    assert stats.children == 20 and stats.kept == 4 and stats.trained == 4
    assert stats.gate_model in ("rf", "size")
    assert stats.size_kendall_tau is not None or stats.gate_kendall_tau is None


def test_a_pooled_search_is_repeatable_and_random_search_pools_too(tmp_path):
    first, _ = run_pooled(tmp_path / "a", gate__acquisition="thompson")
    second, _ = run_pooled(tmp_path / "b", gate__acquisition="thompson")
    assert [c.key for c in first.population] == [c.key for c in second.population]
    drawn, _ = run_pooled(tmp_path / "random", evolution__selection="random")
    assert drawn.history[1].children == 20 and drawn.history[1].trained == 4


def test_mean_ucb_and_thompson_order_a_pool_as_a_hand_computation_does():
    mean = np.array([0.80, 0.82, 0.78, 0.81])
    std = np.array([0.01, 0.00, 0.06, 0.03])
    assert rank_pool(acquire("mean", mean)).tolist() == [1, 3, 0, 2]
    # ucb with β = 1: 0.81, 0.82, 0.84, 0.84 → ties by index
    assert rank_pool(acquire("ucb", mean, std, beta=1.0)).tolist() == [2, 3, 1, 0]
    assert rank_pool(acquire("ucb", mean, std, beta=0.0)).tolist() == [1, 3, 0, 2]
    draws = np.random.default_rng(7).standard_normal(4)
    by_hand = mean + std * draws
    values = acquire("thompson", mean, std, rng=np.random.default_rng(7))
    assert values == pytest.approx(by_hand)
    assert rank_pool(values).tolist() == np.argsort(-by_hand, kind="stable").tolist()
    with pytest.raises(ValueError, match="spread"):
        acquire("ucb", mean)


def test_the_nsga2_pool_ranking_matches_hand_computed_fronts():
    # (predicted accuracy ↑, connections ↓)
    values = [0.90, 0.85, 0.80, 0.88, 0.70, 0.84]
    connections = [500, 300, 100, 500, 100, 320]
    # front 1: 0 (best accuracy), 1 (0.85 at 300), 2 (0.80 at 100); 3 is dominated by 0, 4 by 2, 5 by 1
    # front 2: 3 (0.88, 500), 5 (0.84, 320), 4 (0.70, 100)
    order = pareto_order(values, connections).tolist()
    assert set(order[:3]) == {0, 1, 2} and set(order[3:]) == {3, 4, 5}
    # crowding: the extremes of each front first (infinite distance), then the middle
    assert order[2] == 1 and order[5] == 5
    assert rank_pool(values, connections).tolist() == order


def test_the_size_model_ranks_by_connections_in_the_fitted_direction():
    sizes = np.array([100, 200, 400, 800, 1600])
    rising = SizeModel().fit(sizes, [0.5, 0.6, 0.6, 0.7, 0.8])
    assert np.argsort(rising.predict([50, 3000, 300, 301])).tolist() == [0, 2, 3, 1]
    falling = SizeModel().fit(sizes, [0.9, 0.8, 0.7, 0.7, 0.6])
    assert np.argsort(falling.predict([50, 3000, 300])).tolist() == [1, 2, 0]
    mean, std = rising.predict_spread([150, 900])
    assert mean == pytest.approx(rising.predict([150, 900])) and (std >= 0).all()


def test_the_online_gate_ranks_with_the_size_baseline_where_it_predicts_held_out_generations_better():
    space = pooled_space()
    gate = PredictorGate(space.gate, space.cells, 0, space.genes, space.family, offspring=4)
    rng = np.random.default_rng(0)
    rows, sizes, generations, targets = [], [], [], []
    for generation in range(5):
        for _ in range(8):
            size = float(rng.integers(50, 2000))
            rows.append({name: float(rng.normal()) for name in gate.names})  # features that say nothing
            sizes.append(size)
            generations.append(generation)
            targets.append(0.5 + 0.05 * math.log(size) + rng.normal(0, 0.002))  # accuracy rises with size
    gate.refit(rows, targets, sizes, generations)
    assert gate.choice == "size" and gate.predictor is gate.size
    assert gate.comparison["held_out"] == [2, 3, 4]
    assert gate.comparison["tau"]["size"] > gate.comparison["tau"]["rf"]
    predictions, keep, _ = gate.decide(rows[:10], sizes[:10], 5)
    assert sum(keep) == 4  # offspring of a pool
    kept_sizes = sorted(s for s, k in zip(sizes[:10], keep, strict=True) if k)
    assert kept_sizes == sorted(sizes[:10])[-4:]  # the largest, as the size baseline ranks them


def test_the_size_only_gate_ranks_by_the_connections_even_where_the_features_predict_better():
    space = pooled_space(gate__model="size", gate__acquisition="ucb")
    gate = PredictorGate(space.gate, space.cells, 0, space.genes, space.family, offspring=4)
    rng = np.random.default_rng(1)
    rows, sizes, targets = [], [], []
    for _ in range(4 * 8):  # four generations of eight
        signal = float(rng.normal())
        rows.append({name: signal for name in gate.names})  # every feature carries the accuracy
        sizes.append(float(rng.integers(50, 2000)))
        targets.append(0.7 + 0.05 * signal + 0.00001 * sizes[-1])
    gate.refit(rows, targets, sizes, [i // 8 for i in range(len(rows))])
    assert gate.choice == "size" and gate.predictor is gate.size and gate.comparison == {}
    assert gate.needs_costs is False
    pool, pool_sizes = rows[:12], sizes[:12]
    scores = gate.scores(pool, pool_sizes, 4)
    mean, spread = SizeModel(0).fit(sizes, targets).predict_spread(pool_sizes)
    assert scores.mean == pytest.approx(mean) and scores.value == pytest.approx(mean + spread)  # ucb, beta 1
    _, keep, _ = gate.decide(pool, pool_sizes, 4)
    assert sum(keep) == 4
    kept = sorted(np.argsort(-(mean + spread))[:4].tolist())
    assert [i for i, k in enumerate(keep) if k] == kept


def test_a_search_gated_by_the_size_alone_records_it_and_its_report_says_so(tmp_path):
    from structsearch.report import gate_comparison_section, importances, load_search

    search, outcome = run_pooled(tmp_path / "run", gate__model="size")
    gated = [stats for stats in search.history if stats.kept is not None and stats.children == 20]
    assert gated and all(stats.gate_model == "size" for stats in gated)
    with RunStore.open(tmp_path / "run") as store:
        for generation in range(1, outcome.generations + 1):
            rows = [c for c in store.candidates(generation=generation) if c.prediction is not None]
            by_size = sorted(rows, key=lambda c: c.genotype.connections)
            predictions = [c.prediction for c in by_size]
            # a monotone fit of the connections: the predictions are sorted one way or the other
            assert predictions == sorted(predictions) or predictions == sorted(predictions, reverse=True)
    run = load_search(tmp_path / "run")
    assert importances(run) is None  # no feature model to explain
    section = gate_comparison_section(run)
    assert section is not None and '<code>gate.model = "size"</code>' in section.text
    assert "size-only model alone" in section.text


def test_the_adaptive_acquisition_explores_as_much_as_the_ranker_fails_held_out_generations(tmp_path):
    assert [adaptive_beta(2.0, tau) for tau in (None, -0.3, 0.0, 0.25, 0.9, 1.2)] == pytest.approx(
        [2.0, 2.0, 2.0, 1.5, 0.2, 0.0])
    mean = np.array([0.80, 0.82, 0.78, 0.81])
    std = np.array([0.01, 0.00, 0.06, 0.03])
    assert rank_pool(acquire("adaptive", mean, std, beta=adaptive_beta(1.0, 0.0))).tolist() == [2, 3, 1, 0]  # ucb
    assert rank_pool(acquire("adaptive", mean, std, beta=adaptive_beta(1.0, 1.0))).tolist() == [1, 3, 0, 2]  # mean
    run_pooled(tmp_path / "run", gate__acquisition="adaptive", gate__beta=0.5, evolution__generations=5)
    with RunStore.open(tmp_path / "run") as store:
        events = [e for e in store.events() if e["kind"] == "gate_model"]
        rows = [c for c in store.candidates() if c.feature_meta.get("gate", {}).get("spread") is not None]
    measured = [e for e in events if e["tau"][e["choice"]] is not None]
    assert measured, "no generation was held out"
    for event in events:  # β = 0.5 × (1 − the chosen ranker's held-out τ), recorded with the choice
        assert event["beta"] == pytest.approx(adaptive_beta(0.5, event["tau"][event["choice"]]))
    betas = {round(e["beta"], 6) for e in events}
    assert len(betas) > 1  # it moves with the ranker's τ
    spread = [c for c in rows if c.feature_meta["gate"]["spread"] > 1e-6]
    assert spread
    for row in spread:  # each scored child's acquisition value is its mean plus a recorded β times its spread
        gate = row.feature_meta["gate"]
        assert round((gate["acquisition"] - row.prediction) / gate["spread"], 6) in betas


def test_expected_improvement_and_its_rate_per_mac_order_a_pool_as_a_hand_computation_does():
    mean = np.array([0.80, 0.84, 0.70, 0.83])
    std = np.array([0.02, 0.00, 0.10, 0.01])
    cost = np.array([1e9, 4e9, 1e9, 2e9])
    incumbent = 0.82

    def by_hand(m, s):  # E[max(Y − 0.82, 0)], Y ~ N(m, s²), by the closed form written out
        if s == 0:
            return max(m - incumbent, 0.0)
        z = (m - incumbent) / s
        return (m - incumbent) * 0.5 * (1 + math.erf(z / math.sqrt(2))) + s * math.exp(-z * z / 2) / math.sqrt(
            2 * math.pi)

    expected = [by_hand(m, s) for m, s in zip(mean, std, strict=True)]
    # 0: 0.00167, 1: 0.02 (no spread: the gain), 2: 0.00561, 3: 0.01083
    values = acquire("ei", mean, std, incumbent=incumbent)
    assert values == pytest.approx(expected)
    assert rank_pool(values).tolist() == [1, 3, 2, 0]
    per_mac = acquire("ei-per-macs", mean, std, incumbent=incumbent, cost=cost)
    assert per_mac == pytest.approx(np.array(expected) / cost)
    assert rank_pool(per_mac).tolist() == [2, 3, 1, 0]  # the dear sure gain falls behind cheaper chances
    # before anything trained, the incumbent is the pool's best mean
    assert acquire("ei", mean, std) == pytest.approx(acquire("ei", mean, std, incumbent=0.84))
    with pytest.raises(ValueError, match="planned training MACs"):
        acquire("ei-per-macs", mean, std, incumbent=incumbent)
    with pytest.raises(ValueError, match="planned training MACs"):
        acquire("ei-per-macs", mean, std, incumbent=incumbent, cost=[1e9, 0, 1e9, 1e9])


def test_a_pooled_search_by_ei_per_mac_ranks_on_each_childs_planned_macs(tmp_path):
    from structsearch.search.dispatch import child_planned_macs

    search, _ = run_pooled(tmp_path / "run", gate__acquisition="ei-per-macs", evolution__generations=4)
    with RunStore.open(tmp_path / "run") as store:
        rows = store.candidates()
    ranked = [c for c in rows if "acquisition" in c.feature_meta.get("gate", {})]
    assert ranked
    by_generation: dict = {}
    for row in ranked:
        gate = row.feature_meta["gate"]
        by_generation.setdefault(row.generation, []).append(row)
        assert gate["planned_macs"] > 0 and gate["acquisition"] >= 0
        # ranked by the expected improvement over the best trained so far, per planned MAC
        improvement = expected_improvement([row.prediction], [gate["spread"]], gate["incumbent"])[0]
        assert gate["acquisition"] == pytest.approx(improvement / gate["planned_macs"], rel=1e-9, abs=1e-300)
    trained = {c.id: c for c in search.known.values()}
    checked = [row for row in ranked if row.id in trained]
    assert checked
    for row in checked:  # the stored cost is the planned MACs of the child's training, as the budget reserves it
        assert row.feature_meta["gate"]["planned_macs"] == child_planned_macs(search.space, search.task,
                                                                              trained[row.id])
    for scored in by_generation.values():
        kept = [c for c in scored if c.feature_meta["gate"]["kept"]]
        dropped = [c for c in scored if not c.feature_meta["gate"]["kept"]]
        assert len(kept) == 4 and dropped
        assert min(c.feature_meta["gate"]["acquisition"] for c in kept) >= max(
            c.feature_meta["gate"]["acquisition"] for c in dropped)


@pytest.mark.parametrize(("changes", "message"), [
    ({"gate__pool": 0}, "gate.pool"),
    ({"gate__beta": -0.5}, "gate.beta"),
    ({"gate__acquisition": "greedy"}, "gate.acquisition"),
    ({"budget__max_macs": 0}, "budget.max_macs"),
    ({"budget__max_macs": -1e9}, "budget.max_macs"),
    ({"gate__acquisition": "thompson", "gate__model": "gbr"}, "gives none: set gate.ensemble"),
    ({"gate__acquisition": "ucb", "gate__model": "adaboost"}, "gives none: set gate.ensemble"),
    ({"gate__model": "size", "gate__stage": "curve"}, "gate.model = \"size\" ranks the online structure stage"),
    ({"gate__model": "size", "gate__pretrain": "rows.csv"}, "no gate.pretrain"),
    ({"gate__model": "boosted"}, "gate.model"),
])
def test_bad_pool_settings_are_one_line_errors(changes, message):
    with pytest.raises(ConfigError, match=message) as error:
        pooled_space(**changes)
    assert "\n" not in str(error.value)


def test_without_a_predictor_or_with_the_curve_stage_alone_there_is_no_pool(tmp_path):
    assert not pooled_space(gate__predictor="none").gate.pooled
    assert not pooled_space(gate__stage="curve").gate.pooled and pooled_space(gate__stage="both").gate.pooled
    search, _ = run_pooled(tmp_path / "run", gate__predictor="none")
    assert [stats.children for stats in search.history] == [4, 4, 4, 4]


def test_a_bootstrap_ensemble_gives_a_model_without_a_spread_one(tmp_path):
    search, _ = run_pooled(tmp_path / "run", gate__acquisition="ucb", gate__model="gbr", gate__ensemble=3)
    assert len(search.gate.ensemble) == 3
    with RunStore.open(tmp_path / "run") as store:
        gated = [c.feature_meta["gate"] for c in store.candidates(generation=2) if "gate" in c.feature_meta]
    assert gated and all(g["acquisition"] == pytest.approx(g["prediction"] + g["spread"]) for g in gated)


def test_kill_9_during_a_pooled_generation_then_resume_gives_the_same_final_population(tmp_path):
    whole, _ = run_pooled(tmp_path / "whole", gate__acquisition="thompson")
    kill_9_search(tmp_path / "killed", 4 + 4 + 2, {"gate__predictor": "online", "gate__pool": 5, "gate__warmup": 4,
                                                   "evolution__offspring": 4, "evolution__generations": 3,
                                                   "budget__max_epochs": 0, "gate__acquisition": "thompson"})
    with RunStore.open(tmp_path / "killed") as store:
        assert store.meta("search_finished") is None
        assert len(store.candidates(generation=2)) == 20  # the pooled generation was stored, then killed
    resumed = Search.resume(tmp_path / "killed", StructureScoreExecutor())
    resumed.run()
    resumed.store.close()
    assert [c.key for c in resumed.population] == [c.key for c in whole.population]
    with RunStore.open(tmp_path / "killed") as a, RunStore.open(tmp_path / "whole") as b:
        assert [(c.hash, c.status) for c in a.candidates()] == [(c.hash, c.status) for c in b.candidates()]


def test_the_population_spread_is_measured_in_units_of_everything_trained():
    reference = [{"edges": float(e), "layers": float(e % 3)} for e in range(20)]
    same = population_spread([reference[4]] * 5, reference, ["k"] * 5)
    assert same == {"unique": 1, "spread": 0.0, "distance": 0.0}
    spread = population_spread(reference, reference, [str(i) for i in range(20)])
    assert spread["unique"] == 20 and spread["spread"] == pytest.approx(1.0)
    x = np.array([[r["edges"], r["layers"]] for r in reference]) / np.array([[r["edges"], r["layers"]]
                                                                              for r in reference]).std(axis=0)
    direct = np.mean([np.linalg.norm(x[i] - x[j]) for i in range(20) for j in range(i + 1, 20)]) / math.sqrt(2)
    assert spread["distance"] == pytest.approx(direct, abs=1e-4)
    assert plateau_generation([0.5, 0.6, 0.6, 0.7, 0.65]) == 3 and plateau_generation([None]) is None


def test_a_search_records_its_population_spread_each_generation(tmp_path):
    search, _ = run_pooled(tmp_path / "run")
    with RunStore.open(tmp_path / "run") as store:
        events = store.events("generation")
    assert [e["unique"] for e in events] == [s.unique for s in search.history]
    assert all(e["spread"] is not None and e["distance"] is not None for e in events)
