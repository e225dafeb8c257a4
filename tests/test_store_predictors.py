import json
import sqlite3

import numpy as np
import pytest
from helpers import synthetic_table

from structsearch.commands import main
from structsearch.errors import ConfigError, DataError
from structsearch.experiments import random_structures
from structsearch.graphs import erdos_renyi
from structsearch.graphs.features import feature_names
from structsearch.meta import export, read_table, write_table
from structsearch.predictors import PerformancePredictor, load_predictor
from structsearch.predictors.evaluation import cross_validate, precision_at
from structsearch.predictors.model import make_pipeline
from structsearch.store import SCHEMA_VERSION, RunStore


def graph(seed=0, hidden=(5, 4)):
    return erdos_renyi([4, *hidden, 2], 2, np.random.default_rng(seed))


def test_store_round_trips(tmp_path):
    store = RunStore.create(tmp_path / "run", {"task": {"name": "digits"}, "training": {"seed": 3}})
    g = graph()
    first = store.add_candidate(g, generation=0, origin="prior", features={"edges": 9.0},
                                feature_meta={"exact": True})
    store.record_result(first, "ok", metrics={"test_accuracy": 0.9}, curves={"val_accuracy": [0.5, 0.8]},
                        seconds={"train": 1.5})
    second = store.add_candidate(graph(1), parents=[first], generation=1, origin="mutation",
                                 result={"status": "dropped-by-predictor", "prediction": 0.42})
    store.log_event("generation", index=1, trained=1)
    store.close()
    reopened = RunStore.open(tmp_path / "run")
    a, b = reopened.candidates()
    assert a.genotype == g and a.hash == g.content_hash() and a.features == {"edges": 9.0}
    assert a.metrics == {"test_accuracy": 0.9} and a.curves["val_accuracy"] == [0.5, 0.8]
    assert b.parents == [first] and b.origin == "mutation" and b.status == "dropped-by-predictor"
    assert b.prediction == pytest.approx(0.42) and b.id == second
    assert reopened.config["training"]["seed"] == 3
    assert reopened.events("generation")[0]["trained"] == 1
    assert reopened.find_by_hash(g.content_hash()).id == first
    assert reopened.connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # closed: one file
    reopened.close()
    with RunStore.open(tmp_path / "run", write=True) as writer:  # a writer works in WAL mode
        assert writer.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_interrupted_write_leaves_the_previous_state(tmp_path):
    store = RunStore.create(tmp_path / "run")
    store.add_candidate(graph(), result={"status": "ok", "metrics": {"test_accuracy": 0.5}})
    with pytest.raises(RuntimeError):
        with store.transaction() as cursor:
            cursor.execute("INSERT INTO candidates (hash, genotype, parents, generation, origin, created) "
                           "VALUES ('x', x'00', '[]', 0, 'prior', 0)")
            raise RuntimeError("killed half-way")
    with pytest.raises(ValueError):  # a bad result rolls back the candidate written with it
        store.add_candidate(graph(1), result={"status": "exploded"})
    assert store.count() == 1
    assert [c.status for c in store.candidates()] == ["ok"]


def test_store_bad_inputs(tmp_path):
    with pytest.raises(DataError, match="no run store"):
        RunStore.open(tmp_path)
    RunStore.create(tmp_path / "new").close()
    connection = sqlite3.connect(tmp_path / "new" / "run.db")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(DataError, match="newer than this structsearch"):
        RunStore.open(tmp_path / "new")


def test_a_version_1_store_is_upgraded_in_place(tmp_path):
    with RunStore.create(tmp_path / "old", {"task": {"name": "digits"}}) as store:
        first = store.add_candidate(graph(0), result={"status": "ok", "metrics": {"test_accuracy": 0.5}})
    connection = sqlite3.connect(tmp_path / "old" / "run.db")  # make it what version 1 wrote
    connection.execute("ALTER TABLE candidates DROP COLUMN attributes")
    connection.execute("PRAGMA user_version = 1")
    connection.commit()
    connection.close()
    with RunStore.open(tmp_path / "old") as store:  # read-only: read as it is, not upgraded
        assert store.candidate(first).attributes == {} and store.version == 1
    with RunStore.open(tmp_path / "old", write=True) as store:
        assert store.connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        assert store.candidate(first).attributes == {} and store.candidate(first).metrics["test_accuracy"] == 0.5
        second = store.add_candidate(graph(1), attributes={"cell": "gru"})
        assert store.candidate(second).attributes == {"cell": "gru"}


@pytest.mark.parametrize("model", ["rf", "gbr", "adaboost"])
def test_predictor_recovers_a_known_relation(model):
    table = synthetic_table()
    x = np.column_stack([table[n] for n in feature_names()])
    cv = cross_validate(make_pipeline(model), x, table["test_accuracy"], folds=5, repeats=1)
    assert cv["r2"]["mean"] >= 0.9


def test_bayesian_ridge_is_scaled_and_fits_a_linear_relation():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, len(feature_names()))) * rng.uniform(1, 1000, len(feature_names()))
    y = 0.002 * x[:, 0] - 0.0005 * x[:, 3] + rng.normal(0, 0.01, 120)
    assert "scale" in make_pipeline("bayesian-ridge").named_steps
    cv = cross_validate(make_pipeline("bayesian-ridge"), x, y, folds=5, repeats=1)
    assert cv["r2"]["mean"] >= 0.9


def test_precision_at_k():
    y = np.arange(20.0)
    assert precision_at(y, y) == 1.0
    assert precision_at(y, -y) == 0.0


def test_skops_round_trip_preserves_predictions(tmp_path):
    table = synthetic_table(rows=60)
    predictor = PerformancePredictor("gbr").fit(table, table["test_accuracy"])
    path, card = predictor.save(tmp_path / "p")
    loaded = load_predictor(path)
    np.testing.assert_array_equal(loaded.predict(table), predictor.predict(table))
    assert json.loads(card.read_text())["features"] == feature_names()
    genotypes = [graph(s, hidden=(3 + s, 4)) for s in range(4)]
    ranked = loaded.rank(genotypes)
    assert [p for _, p in ranked] == sorted((p for _, p in ranked), reverse=True)


def test_untrusted_type_is_refused(tmp_path):
    import skops.io as sio

    from structsearch.predictors.model import PerformancePredictor as P

    table = synthetic_table(rows=30)
    P("rf").fit(table, table["test_accuracy"]).save(tmp_path / "p")
    import collections

    sio.dump({"payload": collections.Counter("abc")}, tmp_path / "p.skops")  # a foreign type
    with pytest.raises(DataError, match="untrusted type collections.Counter"):
        load_predictor(tmp_path / "p.skops")
    sio.dump({"payload": [1, 2]}, tmp_path / "p.skops")  # trusted types, but no pipeline
    with pytest.raises(DataError, match="not a predictor pipeline"):
        load_predictor(tmp_path / "p.skops")


def test_predictor_bad_inputs(tmp_path):
    table = synthetic_table(rows=30)
    with pytest.raises(ConfigError, match="known: rf, adaboost, bayesian-ridge, gbr"):
        PerformancePredictor("svm").fit(table, table["test_accuracy"])
    y = table["test_accuracy"].copy()
    y[3] = np.nan
    with pytest.raises(DataError, match="NaN"):
        PerformancePredictor().fit(table, y)
    del table["edges"]
    with pytest.raises(DataError, match="missing"):
        PerformancePredictor().fit(table, y)


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_meta_file_bad_inputs(capsys, tmp_path):
    table = synthetic_table(rows=40)
    good = tmp_path / "good.csv"
    write_table({k: list(v) for k, v in table.items()}, good)
    missing = {k: list(v) for k, v in table.items() if k != "density"}
    write_table(missing, tmp_path / "missing.csv")
    nan = {k: list(v) for k, v in table.items()}
    nan["test_accuracy"][0] = float("nan")
    write_table(nan, tmp_path / "nan.csv")
    wrong = {k: list(v) for k, v in table.items()}
    wrong["edges"] = ["many"] * 40
    write_table(wrong, tmp_path / "wrong.csv")
    out_dir = str(tmp_path / "predictors")
    for name, message in [("missing", "lacks 1 of structsearch"), ("nan", "NaN"), ("wrong", "'edges' must be numeric")]:
        code, _, err = run_cli(capsys, "predictor", "train", str(tmp_path / f"{name}.csv"), "--out-dir", out_dir)
        assert code == 1 and message in err and err.count("\n") == 1, err
    code, _, err = run_cli(capsys, "predictor", "train", str(good), "--model", "svm", "--out-dir", out_dir)
    assert code == 2 and "known: rf" in err
    code, _, err = run_cli(capsys, "predictor", "train", str(good), "--model", "bayesian-ridge",
                           "--out-dir", out_dir, "--name", "p", "--folds", "3", "--repeats", "1")
    assert code == 0, err
    code, out, _ = run_cli(capsys, "predictor", "evaluate", str(tmp_path / "predictors" / "p.skops"), str(good),
                           "--json")
    assert code == 0 and json.loads(out)["rows"] == 40
    code, _, err = run_cli(capsys, "predictor", "evaluate", str(tmp_path / "predictors" / "p.skops"),
                           str(tmp_path / "missing.csv"))
    assert code == 1 and "feature names differ" in err
    code, out, _ = run_cli(capsys, "predictor", "show", str(tmp_path / "predictors" / "p.skops"))
    assert code == 0 and "bayesian-ridge" in out
    code, _, err = run_cli(capsys, "meta", "export", str(tmp_path), "--out", str(tmp_path / "m.csv"))
    assert code == 1 and "no run store" in err


@pytest.mark.slow
def refuse(*args, **kwargs):
    raise AssertionError("a model was fitted again")


def test_random_structure_study_to_meta_to_predictor(capsys, tmp_path, monkeypatch):
    run = tmp_path / "study"
    code, _, err = run_cli(capsys, "experiment", "random-structures", "--task", "digits", "--per-prior", "6",
                           "--min-nodes", "10", "--max-nodes", "16", "--epochs", "2", "--runs", str(tmp_path),
                           "--name", "study")
    assert code == 0, err
    with RunStore.open(run) as store:
        candidates = store.candidates()
        assert len(candidates) == 12 and all(c.features and c.status for c in candidates)
        first_hashes = [c.hash for c in candidates]
    # resuming a finished study trains nothing new and keeps every candidate, and reprints the
    # predictor comparison it stored without refitting a model
    comparison = (run / "predictors.csv").read_text()
    monkeypatch.setattr(random_structures, "cross_validate", refuse)
    monkeypatch.setattr(random_structures, "single_split", refuse)
    code, _, err = run_cli(capsys, "experiment", "random-structures", "--task", "digits", "--per-prior", "6",
                           "--min-nodes", "10", "--max-nodes", "16", "--epochs", "2", "--resume", str(run))
    assert code == 0, err
    with RunStore.open(run) as store:
        assert [c.hash for c in store.candidates()] == first_hashes
    assert (run / "predictors.csv").read_text() == comparison
    assert (run / "correlations.csv").read_text().startswith("feature,pearson_r")
    for suffix in ("csv", "parquet"):
        out = tmp_path / f"meta.{suffix}"
        path, rows = export([run], out)
        table = read_table(path)
        assert rows == sum(1 for c in candidates if c.status == "ok")
        assert set(feature_names()) <= set(table) and "test_accuracy" in table and table["task"][0] == "digits"
    code, _, err = run_cli(capsys, "predictor", "train", str(tmp_path / "meta.csv"), "--out-dir",
                           str(tmp_path / "predictors"), "--name", "digits-rf", "--folds", "3", "--repeats", "1")
    assert code == 0, err
    card = json.loads((tmp_path / "predictors" / "digits-rf.json").read_text())
    assert card["target"] == "val_accuracy" and "cross_validation" in card["evaluation"]
    code, _, err = run_cli(capsys, "experiment", "random-structures", "--resume", str(tmp_path / "nowhere"))
    assert code == 1 and "no run store" in err


def test_study_split_by_prior_draws_the_same_networks(capsys, tmp_path):
    """Processes given one prior each fill one run directory with the networks of the whole study."""
    common = ["--task", "digits", "--per-prior", "3", "--min-nodes", "10", "--max-nodes", "30", "--epochs", "1"]
    code, _, err = run_cli(capsys, "experiment", "random-structures", *common, "--runs", str(tmp_path),
                           "--name", "whole")
    assert code == 0, err
    code, _, err = run_cli(capsys, "experiment", "random-structures", *common, "--priors", "barabasi-albert",
                           "--runs", str(tmp_path), "--name", "split")
    assert code == 0, err
    code, _, err = run_cli(capsys, "experiment", "random-structures", *common, "--priors", "watts-strogatz",
                           "--resume", str(tmp_path / "split"))
    assert code == 0, err

    def networks(run):
        with RunStore.open(tmp_path / run) as store:
            return {(c.origin, c.generation): c.hash for c in store.candidates()}

    whole = networks("whole")
    assert len(whole) == 6 and networks("split") == whole


def test_repeats_average_trainings_and_a_resumed_study_adds_the_missing_ones(capsys, tmp_path):
    common = ["--task", "digits", "--per-prior", "2", "--min-nodes", "10", "--max-nodes", "20", "--epochs", "1"]
    code, _, err = run_cli(capsys, "experiment", "random-structures", *common, "--runs", str(tmp_path),
                           "--name", "rep")
    assert code == 0, err
    with RunStore.open(tmp_path / "rep") as store:
        before = {c.id: c.metrics for c in store.candidates()}
    code, _, err = run_cli(capsys, "experiment", "random-structures", *common, "--repeats", "3",
                           "--resume", str(tmp_path / "rep"))
    assert code == 0, err
    with RunStore.open(tmp_path / "rep") as store:
        after = store.candidates()
    assert len(after) == len(before) == 4
    for candidate in after:
        runs = candidate.metrics["runs"]
        assert len(runs) == 3 and len({run["seed"] for run in runs}) == 3
        # the first training is the one stored before; the accuracies are the means
        assert runs[0]["test_accuracy"] == before[candidate.id]["test_accuracy"]
        assert candidate.metrics["test_accuracy"] == pytest.approx(np.mean([r["test_accuracy"] for r in runs]))
        assert candidate.metrics["test_accuracy_std"] >= 0
    code, _, err = run_cli(capsys, "experiment", "random-structures", *common, "--repeats", "0",
                           "--resume", str(tmp_path / "rep"))
    assert code == 2 and "--repeats" in err
