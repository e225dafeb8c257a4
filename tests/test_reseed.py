"""``[evolution] reseeds``: each generation also retrains the structures with the best mean validation
over their trainings from new initialisations; those children bypass the gate and selection, cost
their training, can be the pick, and a killed search resumes to the same run."""

import statistics

import pytest
from helpers import kill_9_search, tiny_space

from structsearch.errors import ConfigError
from structsearch.search.baseline import trajectory
from structsearch.search.engine import Search
from structsearch.search.executors import InProcessExecutor
from structsearch.search.fake import StructureScoreExecutor
from structsearch.store import RunStore

POOLED = {"gate__predictor": "online", "gate__pool": 5, "gate__warmup": 4, "evolution__offspring": 4,
          "evolution__generations": 4, "budget__max_epochs": 0, "evolution__reseeds": 2}


def run(path, executor=None, **changes):
    search = Search.start(tiny_space(**{**POOLED, **changes}), path, executor or StructureScoreExecutor(0.2))
    search.run()
    search.store.close()
    with RunStore.open(path) as store:
        return search, store.candidates()


def by_hand_choice(rows, generation, count):
    """The structures a generation reseeds, computed from the store: the best mean validation over each
    structure's trainings in earlier generations (ties: the earlier id)."""
    trainings: dict[int, list[float]] = {}
    for row in sorted(rows, key=lambda c: c.id):
        if row.generation >= generation or row.status in (None, "dropped-by-predictor") \
                or row.metrics.get("duplicate_of"):
            continue
        root = row.attributes.get("reseed_of", row.id)
        trainings.setdefault(root, []).append(row.metrics["val_accuracy"])
    ranked = sorted(trainings, key=lambda i: (-statistics.fmean(trainings[i]), i))
    return ranked[:count]


def test_each_generation_retrains_the_structures_with_the_best_mean_over_their_trainings(tmp_path):
    search, rows = run(tmp_path / "run")
    by_id = {c.id: c for c in rows}
    for generation in range(1, 5):
        generation_rows = [c for c in rows if c.generation == generation]
        reseeds = [c for c in generation_rows if "reseed_of" in c.attributes]
        assert [c.attributes["reseed_of"] for c in reseeds] == by_hand_choice(rows, generation, 2)
        for child in reseeds:
            original = by_id[child.attributes["reseed_of"]]
            assert child.genotype == original.genotype and child.hash.startswith(original.hash + "#reseed")
            assert child.status == "ok" and not child.metrics.get("duplicate_of")  # trained, not reused
            assert "gate" not in child.feature_meta and child.origin == "reseed"  # not scored by the gate
        gated = [c for c in generation_rows if "reseed_of" not in c.attributes]
        assert len(gated) == 5 * 4  # the pool is the same size
        trained = [c for c in gated if c.status not in (None, "dropped-by-predictor")
                   and not c.metrics.get("duplicate_of")]
        assert len(trained) == 4  # and still trains offspring children
        assert search.history[generation].reseeded == 2
    # the same structure is reseeded again only under a new key, and never enters the population
    keys = [c.hash for c in rows if "reseed_of" in c.attributes]
    assert len(keys) == len(set(keys)) == 8
    assert all(ind.reseed_of is None for ind in search.population)
    # a new initialisation moves the score (init_noise) and can be the search's pick
    moved = [c for c in rows if "reseed_of" in c.attributes
             and c.metrics["val_accuracy"] != by_id[c.attributes["reseed_of"]].metrics["val_accuracy"]]
    assert moved
    pick = trajectory(rows, "epochs")[-1][2]
    assert pick.metrics["val_accuracy"] == max(c.metrics["val_accuracy"] for c in rows if c.status == "ok")


def test_the_summary_lists_each_structure_once_by_its_best_training(tmp_path):
    from structsearch.search.display import summary_records

    search = Search.start(tiny_space(**POOLED), tmp_path / "run", StructureScoreExecutor(0.2))
    search.run()
    records = summary_records(search, top=50)
    search.store.close()
    roots = [ind.reseed_of if ind.reseed_of is not None else ind.id for ind in search.known.values()]
    assert len(records) == len(set(roots))  # one row per structure, not per training
    best_of = {}
    for ind in search.known.values():
        root = ind.reseed_of if ind.reseed_of is not None else ind.id
        best_of[root] = max(best_of.get(root, 0.0), ind.accuracy)
    assert sorted((r["val_accuracy"] for r in records), reverse=True) == sorted(best_of.values(), reverse=True)
    reseeded = [r for r in records if r["origin"].startswith("reseed of ")]
    assert reseeded  # with init_noise some structure's best training is a re-initialisation
    for record in reseeded:
        assert int(record["origin"].removeprefix("reseed of ")) in {ind.id for ind in search.known.values()}


def test_without_reseeds_nothing_is_retrained(tmp_path):
    _, rows = run(tmp_path / "run", evolution__reseeds=0)
    assert not [c for c in rows if "reseed_of" in c.attributes]


def test_a_reseed_is_a_real_training_from_a_new_initialisation(tmp_path):
    search, rows = run(tmp_path / "run", InProcessExecutor(), gate__predictor="none", evolution__reseeds=1,
                       evolution__generations=1, evolution__offspring=2)
    (child,) = [c for c in rows if "reseed_of" in c.attributes]
    original = next(c for c in rows if c.id == child.attributes["reseed_of"])
    assert child.genotype == original.genotype
    assert child.metrics["cost_macs"] > 0 and child.metrics["val_accuracy"] != original.metrics["val_accuracy"]
    assert search.ledger.trained == len([c for c in rows if c.status == "ok" and not c.metrics.get("duplicate_of")])


@pytest.mark.parametrize("changes", [{"evolution__reseeds": -1},
                                     {"evolution__reseeds": 1, "evolution__inheritance": "lamarckian"}])
def test_bad_reseeds_are_one_line_errors(changes):
    with pytest.raises(ConfigError, match="evolution.reseeds") as error:
        tiny_space(**changes)
    assert "\n" not in str(error.value)


def test_kill_9_while_reseeds_train_then_resume_gives_the_same_run(tmp_path):
    _, whole = run(tmp_path / "whole")
    # generation 0 trains 4, generation 1 trains 4 children and then its 2 reseeds: killed after the first
    # reseed's result is stored, so that the replay knows it and must still make the same children
    kill_9_search(tmp_path / "killed", 4 + 4 + 2, POOLED, init_noise=0.2)
    resumed = Search.resume(tmp_path / "killed", StructureScoreExecutor(0.2))
    resumed.run()
    resumed.store.close()
    with RunStore.open(tmp_path / "killed") as store:
        again = store.candidates()
    assert [(c.hash, c.status, c.metrics.get("val_accuracy")) for c in again] == \
        [(c.hash, c.status, c.metrics.get("val_accuracy")) for c in whole]
