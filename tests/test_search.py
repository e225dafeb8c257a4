"""The genetic search: spaces, the loop, the gate, deduplication, executors, resume, bad input."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import tiny_space

from structsearch.commands import main
from structsearch.errors import ConfigError
from structsearch.search.engine import Search
from structsearch.search.executors import InProcessExecutor
from structsearch.search.fake import StructureScoreExecutor
from structsearch.search.shared import median_curve
from structsearch.search.space import builtin_spaces, load_space, space_from_dict
from structsearch.search.worker import MedianStopping
from structsearch.store import RunStore

# a tiny digits space: 4 individuals, 2 generations, 2 epochs, small graphs
TINY = [
    "--population", "4", "--generations", "2", "--epochs", "2",
    "--set", "genotype.nodes=[10, 24]", "--set", "genotype.erdos-renyi.width=[8, 24]",
    "--set", "gate.warmup=4", "--set", "evolution.offspring=4", "--pool", "1",
]


def run_search(tmp_path, name="run", executor=None, **changes) -> Search:
    """A tiny search; scored by the fake evaluator (the real engine, store and gate, no training)
    unless a test gives a real executor."""
    search = Search.start(tiny_space(**changes), tmp_path / name, executor or StructureScoreExecutor())
    search.run()
    return search


def final_population(run_dir) -> list[tuple]:
    with RunStore.open(run_dir) as store:
        state = store.meta("search_state")
        rows = {c.id: c for c in store.candidates()}
    return [(rows[i].hash, rows[i].metrics.get("val_accuracy")) for i in state["population"]]


# ------------------------------------------------------------------------------ spaces


def test_every_builtin_space_loads_and_names_its_task():
    spaces = builtin_spaces()
    assert {"digits-small", "reber-gru", "reber-mixed-cells", "fashion-mnist-set-mlp"} <= set(spaces)
    for name in spaces:
        space = load_space(name)
        assert space.name == name
    assert load_space("reber-mixed-cells").cells == ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def test_the_top_level_search_spaces_folder_is_the_packaged_one():
    root = Path(__file__).resolve().parents[1] / "search_spaces"
    assert sorted(p.name for p in root.glob("*.toml")) == sorted(p.name for p in builtin_spaces().values())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"task": {"name": "digits"}, "evolution": {"populaton": 4}}, "unknown key evolution.populaton"),
        ({"task": {"name": "digits"}, "evolution": {"population": "many"}}, "evolution.population must be int"),
        (
            {"task": {"name": "digits"}, "evolution": {"population": 0}},
            "evolution.population must be an integer ≥ 1, got 0",
        ),
        (
            {"task": {"name": "digits"}, "genotype": {"nodes": [50, 10]}},
            "genotype.nodes must be a range [low, high] of integers ≥ 2, got [50, 10]",
        ),
        (
            {"task": {"name": "digits"}, "genotype": {"nodes": [4, 10], "watts-strogatz": {"k": [2, 6]}}},
            "genotype.watts-strogatz.k = [2, 6]: the largest value must be below the smallest node count",
        ),
        (
            {"task": {"name": "digits"}, "gate": {"estimation_fraction": 1.0}},
            "gate.estimation_fraction must be a number in [0, 1), got 1.0",
        ),
        (
            {"task": {"name": "digits"}, "gate": {"estimation_fraction": -0.1}},
            "gate.estimation_fraction must be a number in [0, 1), got -0.1",
        ),
        (
            {"task": {"name": "digits"}, "evolution": {"selection": "roulette"}},
            "evolution.selection must be one of tournament, aging, nsga2",
        ),
        ({"task": {"name": "digits"}, "evolution": {"mutations": {"teleport": 1.0}}}, "unknown operator 'teleport'"),
        ({"task": {"name": "digits"}, "colour": "blue"}, "unknown key 'colour'"),
    ],
)
def test_bad_spaces_name_the_key_the_value_and_what_is_allowed(data, message):
    with pytest.raises(ConfigError) as error:
        space_from_dict(data, "space.toml")
    assert message in str(error.value)
    assert str(error.value).startswith("space.toml: ")
    assert "\n" not in str(error.value)


# ------------------------------------------------------------------------------ the loop


def test_end_to_end_digits_small_two_generations_stores_every_candidate(tmp_path, capsys):
    started = time.perf_counter()
    code = main(["evolve", "--runs", str(tmp_path), "--name", "e2e", "--workers", "2", "--quiet", *TINY])
    elapsed = time.perf_counter() - started
    assert code == 0, capsys.readouterr().err
    assert elapsed < 60
    run = tmp_path / "e2e"
    with RunStore.open(run) as store:
        candidates = store.candidates()
        events = store.events("generation")
    assert [e["generation"] for e in events] == [0, 1, 2]
    assert len(candidates) == 4 + 2 * 4 == sum(e["children"] for e in events)
    assert all(c.status is not None for c in candidates)
    assert sum(e["trained"] for e in events) == sum(
        1 for c in candidates if c.status != "dropped-by-predictor" and "duplicate_of" not in c.metrics)
    best = json.loads((run / "best.json").read_text())["candidates"]
    accuracies = [entry["val_accuracy"] for entry in best]
    assert accuracies == sorted(accuracies, reverse=True) and accuracies[0] > 0.3
    assert (run / "best-genotype.json").is_file()
    assert "best candidates" in capsys.readouterr().out


def test_same_seed_same_search_and_another_seed_differs(tmp_path):
    first, second = run_search(tmp_path, "a"), run_search(tmp_path, "b")
    other = run_search(tmp_path, "c", evolution__generations=1, training__epochs=2)
    assert final_population(first.run_dir) == final_population(second.run_dir)
    with RunStore.open(first.run_dir) as a, RunStore.open(other.run_dir) as c:
        assert [x.hash for x in a.candidates()][:4] == [x.hash for x in c.candidates()][:4]
    space = tiny_space()
    space.seed = 7
    third = Search.start(space, tmp_path / "d", InProcessExecutor())
    third.run()
    assert final_population(third.run_dir) != final_population(first.run_dir)


@pytest.mark.slow
def test_two_local_workers_reach_the_same_search_as_one_process(tmp_path):
    from structsearch.search.executors import LocalExecutor

    executor = LocalExecutor(2)
    try:
        parallel = Search.start(tiny_space(), tmp_path / "parallel", executor)
        parallel.run()
    finally:
        executor.close()
    serial = run_search(tmp_path, "serial", executor=InProcessExecutor())
    assert final_population(parallel.run_dir) == final_population(serial.run_dir)


def test_the_fake_evaluator_runs_the_real_search_without_training(tmp_path, monkeypatch):
    """Scores are a deterministic function of structure; nothing reaches the trainer; the gate,
    deduplication and the store work as for a real search."""
    from structsearch.graphs import erdos_renyi
    from structsearch.search import worker
    from structsearch.search.fake import structure_score

    def no_training(*args, **kwargs):
        raise AssertionError("the fake evaluator must not train")

    monkeypatch.setattr(worker, "train_candidate", no_training)
    search = run_search(tmp_path)
    again = run_search(tmp_path, "again")
    assert final_population(search.run_dir) == final_population(again.run_dir)
    with RunStore.open(search.run_dir) as store:
        statuses = {c.status for c in store.candidates()}
        events = store.events("generation")
    assert "ok" in statuses and "dropped-by-predictor" in statuses and events
    rng = np.random.default_rng(0)
    small, large = erdos_renyi([64, 8, 10], 1.0, rng), erdos_renyi([64, 64, 10], 8.0, rng)
    assert structure_score(small) < structure_score(large)
    assert structure_score(small) == structure_score(small.with_edges(small.src, small.dst))


def test_a_dry_run_from_the_command_line_trains_nothing_and_resumes_only_as_a_dry_run(tmp_path, capsys,
                                                                                       monkeypatch):
    from structsearch.search import worker

    def no_training(*args, **kwargs):
        raise AssertionError("a dry run must not train")

    monkeypatch.setattr(worker, "train_candidate", no_training)
    argv = ["evolve", "--runs", str(tmp_path), "--quiet", "--no-report", "--generations", "2"]
    assert main([*argv, "--name", "dry", "--dry-run"]) == 0
    with RunStore.open(tmp_path / "dry") as store:
        assert store.meta("dry_run") is True
        workers = {json.dumps(c.metrics.get("worker")) for c in store.candidates() if c.status == "ok"}
    assert workers == {json.dumps({"fake": "structure-score"})}
    capsys.readouterr()
    assert main(["evolve", "--resume", str(tmp_path / "dry"), "--generations", "3"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: --resume {tmp_path / 'dry'}: this run was made with --dry-run; add --dry-run"]
    assert main(["evolve", "--resume", str(tmp_path / "dry"), "--generations", "3", "--dry-run", "--quiet",
                 "--no-report"]) == 0
    with RunStore.open(tmp_path / "dry") as store:
        assert max(c.generation for c in store.candidates()) == 3
    capsys.readouterr()
    assert main([*argv, "--name", "busy", "--dry-run", "--workers", "2"]) == 2
    assert "--dry-run trains nothing; drop --workers" in capsys.readouterr().err


def test_gate_trains_the_top_half_of_new_offspring_and_records_each_decision(tmp_path):
    search = run_search(tmp_path, evolution__generations=2)
    with RunStore.open(search.run_dir) as store:
        candidates = store.candidates()
        events = {e["generation"]: e for e in store.events("generation")}
    assert events[0]["dropped"] == 0 and events[0]["trained"] == 4  # the initial population all trains
    for generation in (1, 2):  # online predictor is warm after generation 0 (warmup 4)
        rows = [c for c in candidates if c.generation == generation]
        novel = [c for c in rows if "duplicate_of" not in c.metrics]
        kept = [c for c in novel if c.status != "dropped-by-predictor"]
        assert len(kept) == events[generation]["trained"] == int(np.ceil(0.5 * len(novel)))
        for c in novel:
            assert c.feature_meta["gate"]["kept"] == (c.status != "dropped-by-predictor")
            assert c.prediction == pytest.approx(c.feature_meta["gate"]["prediction"])
        assert min(c.prediction for c in kept) >= max(
            (c.prediction for c in novel if c.status == "dropped-by-predictor"), default=-1)


def test_no_gate_trains_every_new_offspring(tmp_path):
    search = run_search(tmp_path, gate__predictor="none")
    with RunStore.open(search.run_dir) as store:
        assert not [c for c in store.candidates() if c.status == "dropped-by-predictor"]


def test_duplicates_reuse_the_earlier_result_instead_of_training(tmp_path):
    from structsearch.graphs.operators import remove_edge
    from structsearch.search.genome import Individual

    search = Search.start(tiny_space(gate__predictor="none"), tmp_path / "dup", InProcessExecutor())
    search.run()
    first, second = search.population[0], search.population[-1]
    fresh = remove_edge(second.graph, np.random.default_rng(5))
    children = [Individual(first.graph, origin="copy"), Individual(first.graph, origin="copy"),
                Individual(second.graph, origin="copy"), Individual(fresh, origin="edit"),
                Individual(fresh, origin="edit-twin")]
    assert fresh.content_hash() not in search.known
    before = search.trained
    stats = search.run_generation(3, children, gated=False)
    assert stats.duplicates == 4 and stats.trained == 1 and search.trained == before + 1
    with RunStore.open(search.run_dir) as store:
        rows = store.candidates(generation=3)
    original = [search.known[first.key].id] * 2 + [search.known[second.key].id]
    assert [r.metrics.get("duplicate_of") for r in rows[:3]] == original
    assert "duplicate_of" not in rows[3].metrics and rows[4].metrics["duplicate_of"] == rows[3].id
    assert rows[4].metrics["val_accuracy"] == rows[3].metrics["val_accuracy"]


def test_a_repeat_of_a_sibling_the_gate_drops_is_dropped_too(tmp_path):
    from structsearch.graphs.operators import add_edge, remove_edge
    from structsearch.search.genome import Individual

    search = run_search(tmp_path, evolution__generations=0)
    base = search.population[0].graph
    weak, strong = remove_edge(base, np.random.default_rng(1)), add_edge(base, np.random.default_rng(2))
    children = [Individual(weak), Individual(strong), Individual(weak)]
    search.gate.decide = lambda features, *context: ([0.1, 0.9], [False, True], None)  # fixed
    stats = search.run_generation(1, children, gated=True)
    assert (stats.kept, stats.dropped, stats.trained) == (1, 2, 1)
    with RunStore.open(search.run_dir) as store:
        rows = store.candidates(generation=1)
    assert [r.status for r in rows] == ["dropped-by-predictor", "ok", "dropped-by-predictor"]
    assert rows[2].prediction == pytest.approx(0.1) and "sibling" in rows[2].reason


@pytest.mark.parametrize("selection", ["aging", "nsga2"])
def test_aging_and_nsga2_selection(tmp_path, selection):
    search = run_search(tmp_path, evolution__selection=selection)
    assert len(search.population) == 4
    if selection == "aging":  # the youngest four evaluated candidates survive
        with RunStore.open(search.run_dir) as store:
            evaluated = [c.id for c in store.candidates() if c.status != "dropped-by-predictor"]
        assert sorted(ind.id for ind in search.population) == evaluated[-4:]
    else:
        from structsearch.search.display import write_outputs

        write_outputs(search)
        front = (search.run_dir / "pareto.csv").read_text().splitlines()
        assert front[0].startswith("id,val_accuracy,test_accuracy,connections")
        rows = [line.split(",") for line in front[1:]]
        accuracies, connections = [float(r[1]) for r in rows], [int(r[3]) for r in rows]
        assert accuracies == sorted(accuracies, reverse=True)
        assert connections == sorted(connections, reverse=True) and len(set(connections)) == len(connections)


def test_median_rule_stops_a_candidate_below_the_median_curve():
    medians = median_curve([[0.5, 0.6, 0.7], [0.5, 0.8, 0.9], [0.4, 0.2, 0.3]])
    assert medians == [0.5, 0.6, 0.7]

    class Trainer:
        history = {"val_accuracy": [0.3, 0.4]}

    rule = MedianStopping(medians, warmup=1)
    rule.on_epoch_end(Trainer, 0)  # within the warm-up: never stops
    from structsearch.train_callbacks import StopTraining

    with pytest.raises(StopTraining, match="median rule"):
        rule.on_epoch_end(Trainer, 1)
    Trainer.history = {"val_accuracy": [0.3, 0.65]}
    rule.on_epoch_end(Trainer, 1)


def test_median_stopping_in_a_search_stores_stopped_early_candidates(tmp_path):
    space = tiny_space(gate__predictor="none")
    space.training.epochs = 4
    space.stopping.median, space.stopping.warmup_epochs, space.stopping.startup = True, 0, 2
    search = Search.start(space, tmp_path / "median", InProcessExecutor())
    search.run()
    with RunStore.open(search.run_dir) as store:
        statuses = [c.status for c in store.candidates() if c.generation > 0]
        stopped = [c for c in store.candidates() if c.status == "stopped-early"]
    assert "stopped-early" in statuses
    assert all(len(c.curves["val_accuracy"]) < 4 and "median rule" in c.reason for c in stopped)


def test_a_failing_candidate_is_recorded_and_the_search_goes_on(tmp_path):
    space = tiny_space(gate__predictor="none")
    space.training.lr = 1e12  # diverges (1e6 gave huge but finite losses under some seeds)
    search = Search.start(space, tmp_path / "diverge", InProcessExecutor())
    outcome = search.run()
    with RunStore.open(search.run_dir) as store:
        statuses = {c.status for c in store.candidates()}
    assert "diverged" in statuses and outcome.generations == 2


def test_recurrent_space_with_mixed_cells(tmp_path):
    space = load_space("reber-mixed-cells")
    space.task.options = {"n_strings": 300, "seed": 0}
    space.evolution.population, space.evolution.generations = 4, 1
    space.training.epochs, space.stopping.median = 1, False
    space.gate.warmup = 4
    search = Search.start(space.validate(), tmp_path / "rnn", InProcessExecutor())
    search.run()
    with RunStore.open(search.run_dir) as store:
        candidates = store.candidates()
    assert {c.attributes["cell"] for c in candidates} <= set(space.cells)
    assert all(c.status in ("ok", "dropped-by-predictor") for c in candidates)
    assert any(name.startswith("cell_") for name in candidates[0].features)


# ------------------------------------------------------------------------------ executors and resume


@pytest.mark.slow
def test_one_generation_on_a_dask_local_cluster_with_two_workers(tmp_path, capsys):
    before = dict(os.environ)
    code = main(["evolve", "--runs", str(tmp_path), "--name", "dask", "--dask-local", "2", "--quiet",
                 *TINY, "--generations", "1"])
    assert code == 0, capsys.readouterr().err
    with RunStore.open(tmp_path / "dask") as store:
        candidates = store.candidates()
    assert len(candidates) == 8 and all(c.status for c in candidates)
    workers = {c.metrics["worker"]["pid"] for c in candidates if c.metrics.get("worker")}
    assert len(workers) == 2 and os.getpid() not in workers
    # the nanny's variables for its workers (OMP_NUM_THREADS=1, PYTHONHASHSEED…) stay theirs
    assert dict(os.environ) == before


def test_the_nanny_variables_are_undone_when_the_cluster_starts_and_again_when_it_closes(monkeypatch):
    from structsearch.search.executors import _environment_kept, _restore

    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    kept = {}
    with _environment_kept(kept):  # what a nanny does as it spawns its workers
        os.environ.update({"OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "6640"})
    assert os.environ["OMP_NUM_THREADS"] == "4" and "PYTHONHASHSEED" not in os.environ
    assert kept == {"OMP_NUM_THREADS": "4", "PYTHONHASHSEED": None}
    os.environ.update({"OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "6640"})  # a worker restarted mid-run
    _restore(kept)
    assert os.environ["OMP_NUM_THREADS"] == "4" and "PYTHONHASHSEED" not in os.environ


def _evolve_process(tmp_path, *extra):
    command = [sys.executable, "-m", "structsearch", "evolve", "--runs", str(tmp_path), "--workers", "1",
               "--quiet", *TINY, "--generations", "3", *extra]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def _finished(run_dir: Path) -> int:
    try:
        connection = sqlite3.connect(run_dir / "run.db", timeout=1)
        try:
            return connection.execute(
                "SELECT COUNT(*) FROM results r JOIN candidates c ON c.id = r.candidate_id "
                "WHERE c.generation >= 2").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error:
        return 0


INHERITING = ["--set", "evolution.inheritance=lamarckian", "--set", "evolution.inherited_epochs=1"]


def _weights(run_dir: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (run_dir / "weights").glob("*")}


@pytest.mark.slow
def test_resume_after_kill_9_gives_the_uninterrupted_result(tmp_path):
    """Killed while generation 2 trains (its children inherit their parents' weights, Lamarckian),
    then resumed: the run ends as an uninterrupted one, weights files included, and retention keeps
    exactly the population's files and the last generation's."""
    assert main(["evolve", "--runs", str(tmp_path), "--workers", "1", "--quiet", *TINY, "--generations", "3",
                 "--name", "whole", *INHERITING]) == 0  # what _evolve_process runs, here
    victim = _evolve_process(tmp_path, "--name", "killed", *INHERITING)
    run = tmp_path / "killed"
    deadline = time.monotonic() + 240
    while _finished(run) < 1 and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert victim.poll() is None, "the run ended before it could be killed"
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    with RunStore.open(run) as store:
        before = {c.id: (c.hash, c.status, c.metrics.get("val_accuracy")) for c in store.candidates() if c.status}
        assert store.meta("search_finished") is None
    assert main(["evolve", "--resume", str(run), "--workers", "1", "--quiet"]) == 0
    with RunStore.open(run) as store:
        after = {c.id: (c.hash, c.status, c.metrics.get("val_accuracy")) for c in store.candidates() if c.status}
        kinds = [e["kind"] for e in store.events()]
    assert all(after[i] == before[i] for i in before)  # no finished candidate lost or retrained
    assert final_population(run) == final_population(tmp_path / "whole")
    with RunStore.open(run) as a, RunStore.open(tmp_path / "whole") as b:
        assert [c.hash for c in a.candidates()] == [c.hash for c in b.candidates()]
        rows, state = {c.id: c for c in b.candidates()}, b.meta("search_state")
    assert kinds.count("finished") == 1
    assert _weights(run) == _weights(tmp_path / "whole")
    inherited = [c for c in rows.values() if c.generation > 0 and "inheritance" in c.metrics]
    assert inherited and all(c.metrics["cost_epochs"] == 1 for c in inherited)
    assert any(c.metrics.get("birth_hash", c.hash) != c.hash for c in rows.values())  # a learned genotype
    owners = {rows[i].metrics.get("duplicate_of") or i for i in state["population"]}
    last = {c.id for c in rows.values() if c.generation == state["generation"]
            and c.status in ("ok", "stopped-early") and not c.metrics.get("duplicate_of")}
    assert set(_weights(run)) == {f"{i}.safetensors" for i in owners | last}


# ------------------------------------------------------------------------------ bad input on the command line


def test_bad_command_lines_give_one_line_errors(tmp_path, capsys):
    def error_of(*argv) -> str:
        code = main(["evolve", "--runs", str(tmp_path), "--quiet", *argv])
        err = capsys.readouterr().err.strip()
        assert code in (1, 2) and len(err.splitlines()) == 1, err
        return err

    bad = tmp_path / "bad.toml"
    bad.write_text('[task]\nname = "digits"\n[evolution]\npopulation = 4\nmutation_rate = 0.5\n')
    assert "unknown key evolution.mutation_rate; allowed: population" in error_of(str(bad))
    bad.write_text('[task]\nname = "digits"\n[training]\nepochs = "ten"\n')
    assert "training.epochs must be int, got 'ten'" in error_of(str(bad))
    assert "evolution.population must be an integer ≥ 1, got 0" in error_of("--set", "evolution.population=0")
    assert "--population: expected a positive integer, got '0'" in error_of("--population", "0")
    assert "gate.estimation_fraction must be a number in [0, 1), got 1.5" in error_of("--estimation-fraction", "1.5")
    assert "genotype.nodes must be a range [low, high]" in error_of("--set", "genotype.nodes=[30, 10]")
    assert "no run store (run.db) here" in error_of("--resume", str(tmp_path))
    assert "cannot reach the Dask scheduler" in error_of("--scheduler", "tcp://127.0.0.1:9", *TINY)
    assert "no search space 'nowhere'" in error_of("nowhere")


def test_a_predictor_file_must_match_the_search_features(tmp_path, capsys):
    from structsearch.predictors.model import PerformancePredictor

    rng = np.random.default_rng(0)
    x = rng.random((12, 3))
    PerformancePredictor("bayesian-ridge", features=["a", "b", "c"]).fit(x, x.sum(1)).save(tmp_path / "other.skops")
    assert (
        main(["evolve", "--runs", str(tmp_path), "--quiet", *TINY, "--predictor", str(tmp_path / "other.skops")]) == 2
    )
    err = capsys.readouterr().err
    assert "its feature 'a'" in err and "is not one this search computes" in err


def test_a_saved_predictor_gates_from_the_first_offspring(tmp_path):
    first = run_search(tmp_path, "source", gate__predictor="none")
    from structsearch.meta import export
    from structsearch.predictors.workflow import train_predictor

    export([first.run_dir], tmp_path / "meta.csv")
    _, _, path = train_predictor(str(tmp_path / "meta.csv"), "bayesian-ridge", "val_accuracy",
                                 str(tmp_path), "gate", 2, 1, 0)
    search = run_search(tmp_path, "gated", gate__predictor=str(path), evolution__generations=1)
    events = {e["generation"]: e for e in search.store.events("generation")}
    assert events[1]["scored"] > 0 and events[1]["dropped"] == events[1]["scored"] - events[1]["trained"]


def test_resume_can_extend_a_finished_search_but_not_change_its_path(tmp_path, capsys):
    assert main(["evolve", "--runs", str(tmp_path), "--name", "short", "--dry-run", "--quiet", *TINY,
                 "--generations", "1", "--predictor", "none"]) == 0
    run = tmp_path / "short"
    assert main(["evolve", "--resume", str(run), "--population", "8"]) == 2
    assert "drop --population" in capsys.readouterr().err
    assert main(["evolve", "--resume", str(run), "--dry-run", "--quiet"]) == 0
    assert "had finished" in capsys.readouterr().err
    assert main(["evolve", "--resume", str(run), "--dry-run", "--quiet", "--generations", "2"]) == 0
    with RunStore.open(run) as store:
        assert store.meta("search_state")["generation"] == 2
        assert store.config["evolution"]["generations"] == 2
        assert [e["generation"] for e in store.events("finished")] == [1, 2]
