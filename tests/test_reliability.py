"""Hardening: damaged files, huge sizes, concurrent runs, escaping names, overwrites, foreign
stores, orphaned workers, and one-line errors everywhere (see the README's "Reliability")."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from structsearch.commands import main
from structsearch.errors import DataError
from structsearch.runs import RunLock

RAW_EXCEPTION = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception|Exit|Warning)\b|Traceback|BadZipFile")


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    """The error line of a failed command, checked to be alone and free of exception names."""
    lines = [line for line in err.splitlines() if not line.startswith("note:")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert not RAW_EXCEPTION.search(lines[0]), lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny trained model run (``train --save-model``), made once."""
    runs = tmp_path_factory.mktemp("trained")
    assert main(["train", "--architecture", "64-12-10", "--epochs", "1", "--no-progress", "--save-model",
                 "--runs", str(runs), "--name", "m"]) == 0
    return runs / "m"


def damaged_copy(trained: Path, tmp_path: Path, change) -> Path:
    import shutil

    run = tmp_path / "damaged"
    shutil.copytree(trained, run)
    state = torch.load(run / "model.pt", weights_only=True)
    change(state)
    torch.save(state, run / "model.pt")
    return run


# ------------------------------------------------------------------ 1. damaged model files


def test_out_of_range_index_is_refused_not_a_segfault(trained, tmp_path):
    def far_column(state):
        state["layers.0.col_indices"] = state["layers.0.col_indices"].clone()
        state["layers.0.col_indices"][0] = 10**6

    run = damaged_copy(trained, tmp_path, far_column)
    for command in (["prune", "--model", run, "--amount", "0.2", "--retrain-epochs", "0", "--runs", tmp_path],
                    ["motifs", run]):
        done = subprocess.run([sys.executable, "-m", "structsearch", *map(str, command)], capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 1, (done.returncode, done.stderr)  # not -11 (SIGSEGV)
        line = one_line_error(done.stderr)
        assert "model.pt" in line and "layers.0.col_indices" in line and "1000000" in line


@pytest.mark.parametrize("tensor, change, message", [
    ("crow_indices", lambda t: t.__setitem__(3, int(t[5]) + 3), "never decrease"),
    ("crow_indices", lambda t: t.__setitem__(0, 1), "start at 0"),
    ("perm", lambda t: t.__setitem__(slice(0, 2), t[[1, 0]].clone()), "the two CSRs"),
    ("perm", lambda t: t.__setitem__(0, t[1]), "not a permutation"),
    ("t_col_indices", lambda t: t.__setitem__(0, -1), "outside"),
])
def test_inconsistent_structures_are_refused_naming_the_tensor(capsys, trained, tmp_path, tensor, change, message):
    def damage(state):
        state[f"layers.0.{tensor}"] = state[f"layers.0.{tensor}"].clone()
        change(state[f"layers.0.{tensor}"])

    run = damaged_copy(trained, tmp_path, damage)
    code, _, err = run_cli(capsys, "prune", "--model", run, "--amount", "0.2", "--retrain-epochs", "0",
                           "--runs", tmp_path / "runs")
    line = one_line_error(err)
    assert code == 1 and "model.pt" in line and f"layers.0.{tensor}" in line and message in line, line
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # no half-made folder


def test_a_valid_layer_passes_its_structure_check():
    from structsearch.nn.sparse_linear import SparseLinear

    layer = SparseLinear(30, 20, *np.nonzero(np.random.default_rng(0).random((20, 30)) < 0.2))
    layer.check_structure()  # raises when anything is off
    layer.perm[0] = layer.perm[1]
    with pytest.raises(ValueError, match="perm"):
        layer.check_structure()


@pytest.mark.parametrize("content", [b"", b"garbage" * 50, b"PK\x03\x04" + bytes(60)])
def test_garbage_model_file_is_one_line(capsys, trained, tmp_path, content):
    run = damaged_copy(trained, tmp_path, lambda state: None)
    (run / "model.pt").write_bytes(content)
    code, _, err = run_cli(capsys, "motifs", run)
    assert code == 1 and "model.pt: not a readable model file" in one_line_error(err)


# ------------------------------------------------------------------ 2. huge sizes


@pytest.mark.parametrize("argv", [
    ["genotype", "sample", "barabasi-albert", "--param", "n=1000000000000", "--param", "m=2", "--out", "g.json"],
    ["genotype", "sample", "erdos-renyi", "--param", "layer_sizes=[64,100000000,10]", "--param", "epsilon=20",
     "--out", "g.json"],
    ["train", "--architecture", "64-100000000-10", "--epochs", "1"],
    ["evolve", "--set", "genotype.nodes=[32,1000000000000]", "--quiet"],
])
def test_huge_sizes_are_refused_before_anything_is_built(capsys, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    started = time.perf_counter()
    code, _, err = run_cli(capsys, *argv)
    line = one_line_error(err)
    assert code == 2 and "needs about" in line and "limit" in line, line
    assert time.perf_counter() - started < 60
    assert not list(tmp_path.rglob("*.json")) and not list(tmp_path.glob("runs/*"))


def test_max_memory_sets_the_limit_and_is_restored(capsys, tmp_path, monkeypatch):
    from structsearch.limits import MEMORY_ENV

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    argv = ["genotype", "sample", "erdos-renyi", "--param", "layer_sizes=[64,256,10]", "--param", "epsilon=5",
            "--out", "g.json"]
    code, _, err = run_cli(capsys, *argv, "--max-memory", "1M")
    assert code == 2 and "limit of 1 MB (--max-memory)" in one_line_error(err)
    assert MEMORY_ENV not in os.environ
    assert run_cli(capsys, *argv)[0] == 0 and Path("g.json").is_file()
    assert run_cli(capsys, *argv, "--max-memory", "lots")[0] == 2


# ------------------------------------------------------------------ 3. one process per run

HOLD = """
import sys, time
from structsearch.runs import RunLock
RunLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(120)
"""


def hold_lock(run_dir: Path) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_run_is_owned_by_one_process_and_a_killed_owner_is_taken_over(capsys, tmp_path):
    from structsearch.search.engine import Search
    from structsearch.search.executors import InProcessExecutor
    from structsearch.search.space import load_space_with_changes

    space = load_space_with_changes("digits-small", [("evolution.population", 2), ("evolution.generations", 1),
                                                     ("training.epochs", 1)])
    search = Search.start(space, tmp_path / "run", InProcessExecutor())
    with pytest.raises(DataError, match=f"in use by pid {os.getpid()}"):
        RunLock(tmp_path / "run").acquire()
    search.store.close()
    holder = hold_lock(tmp_path / "run")
    try:
        before = snapshot(tmp_path / "run")
        code, _, err = run_cli(capsys, "evolve", "--resume", tmp_path / "run", "--quiet")
        assert code == 1 and f"in use by pid {holder.pid} on " in one_line_error(err)
        assert snapshot(tmp_path / "run") == before
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with RunLock(tmp_path / "run"):  # the kernel dropped the killed holder's lock
        pass
    code, _, err = run_cli(capsys, "evolve", "--resume", tmp_path / "run", "--quiet")
    assert code == 0, err


# ------------------------------------------------------------------ 4. names stay inside their folder


@pytest.mark.parametrize("argv", [
    ["train", "--name", "{escape}", "--epochs", "1"],
    ["train", "--name", "{absolute}", "--epochs", "1"],
    ["evolve", "--name", "{escape}", "--quiet"],
    ["prune", "--name", "{escape}", "--epochs", "1", "--amount", "0.2"],
    ["experiment", "set-vs-motif", "--name", "{escape}", "--task", "digits"],
    ["study", "digits-small", "--trials", "1", "--study-name", "{escape}"],
    ["predictor", "train", "meta.csv", "--name", "{escape}"],
    ["train", "--name", "..", "--epochs", "1"],
    ["train", "--name", "a b", "--epochs", "1"],
])
def test_names_are_single_path_components(capsys, tmp_path, monkeypatch, argv):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    values = {"escape": "../../x", "absolute": str(tmp_path / "abs")}
    code, _, err = run_cli(capsys, *(a.format(**values) for a in argv))
    assert code == 2 and "one path component" in one_line_error(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"] and not any(work.iterdir())


# ------------------------------------------------------------------ 5. no silent overwrite


def test_an_existing_run_is_kept_unless_overwrite(capsys, tmp_path):
    train = ["train", "--architecture", "64-8-10", "--epochs", "1", "--no-progress", "--runs", tmp_path,
             "--name", "reuse"]
    assert run_cli(capsys, *train, "--save-model")[0] == 0
    before = snapshot(tmp_path / "reuse")
    code, _, err = run_cli(capsys, *train, "--seed", "3", "--save-model")
    assert code == 2 and "reuse already exists" in one_line_error(err) and "--overwrite" in err
    code, _, err = run_cli(capsys, "evolve", "--runs", tmp_path, "--name", "reuse", "--quiet")
    assert code == 2 and "already exists" in one_line_error(err)
    assert snapshot(tmp_path / "reuse") == before
    assert run_cli(capsys, *train, "--seed", "3", "--overwrite")[0] == 0
    after = snapshot(tmp_path / "reuse")
    assert "model.pt" not in after and json.loads(after["config.json"])["training"]["seed"] == 3


def test_an_existing_predictor_is_kept_and_impossible_folds_are_refused(capsys, tmp_path):
    from helpers import synthetic_table

    from structsearch.meta import write_table

    table = synthetic_table(rows=45)
    write_table({k: list(v) for k, v in table.items()}, tmp_path / "meta.csv")
    out = ["--out-dir", tmp_path / "p", "--name", "mine", "--repeats", "1", "--folds", "3"]
    assert run_cli(capsys, "predictor", "train", tmp_path / "meta.csv", *out)[0] == 0
    before = snapshot(tmp_path / "p")
    code, _, err = run_cli(capsys, "predictor", "train", tmp_path / "meta.csv", *out, "--folds", "1000")
    assert code == 2 and "mine.skops already exists" in one_line_error(err)
    code, _, err = run_cli(capsys, "predictor", "train", tmp_path / "meta.csv", *out, "--folds", "1000", "--overwrite")
    assert code == 2 and "45 rows, enough for at most 22 folds" in one_line_error(err)
    assert snapshot(tmp_path / "p") == before


# ------------------------------------------------------------------ 6. foreign files stay untouched


def test_foreign_and_other_kinds_of_store_are_left_as_they_are(capsys, tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    with sqlite3.connect(foreign / "run.db") as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
        connection.execute("INSERT INTO notes VALUES ('mine')")
    connection.close()
    before = snapshot(foreign)
    code, _, err = run_cli(capsys, "meta", "export", foreign, "--out", tmp_path / "x.csv")
    assert code == 1 and "not a structsearch run store" in one_line_error(err)
    code, _, err = run_cli(capsys, "evolve", "--resume", foreign, "--quiet")
    assert code == 1 and "not a structsearch run store" in one_line_error(err)
    assert snapshot(foreign) == before and not (tmp_path / "x.csv").exists()

    from structsearch.store import RunStore

    RunStore.create(tmp_path / "evolved", {"command": "evolve"}, kind="evolve").close()
    before = snapshot(tmp_path / "evolved")
    code, _, err = run_cli(capsys, "experiment", "random-structures", "--resume", tmp_path / "evolved",
                           "--per-prior", "1", "--epochs", "1")
    assert code == 1 and "of `structsearch evolve`, not of `structsearch experiment random-structures`" in err
    assert snapshot(tmp_path / "evolved") == before


def test_reading_a_store_never_writes_it(tmp_path):
    from structsearch.store import RunStore

    with RunStore.create(tmp_path / "run", {"task": {"name": "digits"}}, kind="evolve") as store:
        store.log_event("x")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [".lock", "run.db"]  # closed: one file
    before = snapshot(tmp_path / "run")
    with RunStore.open(tmp_path / "run") as store:
        assert store.events()[0]["kind"] == "x" and not store.write
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.connection.execute("INSERT INTO events (time, kind, data) VALUES (0, 'y', '{}')")
    assert snapshot(tmp_path / "run") == before


# ------------------------------------------------------------------ 7. workers die with their parent


def descendants_of(ancestor: int) -> dict[int, int]:
    """Every process below ``ancestor``: pid → parent pid."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
    found, level = {}, {ancestor}
    while level:
        level = {pid for pid, parent in parents.items() if parent in level and pid not in found}
        found.update({pid: parents[pid] for pid in level})
    return found


def test_workers_exit_when_evolve_is_killed(tmp_path):
    """The workers are forked from a fork server (grandchildren of evolve); after ``kill -9`` of
    evolve every process it started is gone: workers, fork server and resource tracker."""
    process = subprocess.Popen(
        [sys.executable, "-m", "structsearch", "evolve", "--runs", str(tmp_path), "--name", "orphans",
         "--workers", "2", "--generations", "50", "--population", "4", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: dict[int, int] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and sum(parent != process.pid for parent in children.values()) < 2:
        children = descendants_of(process.pid)
        time.sleep(0.2)
    assert sum(parent != process.pid for parent in children.values()) >= 2, "the workers never started"
    process.kill()
    process.wait()

    def alive() -> list[int]:
        running = []
        for pid in children:
            try:
                if Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z":
                    running.append(pid)
            except OSError:
                pass
        return running

    # on a quiet machine they are gone within a second; a busy one (a worker still importing torch
    # when its parent dies) may take longer, so wait up to a minute before calling them orphans
    deadline = time.monotonic() + 60
    while alive() and time.monotonic() < deadline:
        time.sleep(0.5)
    survivors = alive()
    assert not survivors, f"orphaned worker processes: {survivors}"


# ------------------------------------------------------------------ 8–9. one-line errors, exit codes


@pytest.mark.parametrize("argv, code, message", [
    (["train", "--seed", "-1"], 2, "--seed"),
    (["train", "--device", "nosuch"], 2, "device"),
    (["train", "--task-option", "validation_fraction=abc"], 2, "validation_fraction must be a number"),
    (["train", "--epochs", "0"], 2, "--epochs"),
    (["evolve", "--workers", "0"], 2, "--workers"),
    (["evolve", "--population", "0"], 2, "--population"),
    (["prune", "--steps", "0"], 2, "--steps"),
    (["predictor", "train", "meta.csv", "--folds", "0"], 2, "--folds"),
    (["study", "digits-small", "--trials", "1", "--timeout", "-5"], 2, "--timeout"),
    (["train", "--runs", "afile", "--epochs", "1"], 2, "--runs afile: not a folder"),
    (["train", "empty.toml"], 2, "empty.toml: an empty file"),
    (["evolve", "empty.toml"], 2, "empty.toml: an empty file"),
    (["evolve", "notask.toml"], 2, "no [task] table"),
    (["genotype", "show", "fractional.json"], 1, "src must be a list of whole numbers"),
    (["meta", "export", "damaged", "--out", "x.csv"], 1, "damaged"),
    (["meta", "export", "damaged", "--out", "/nonexistent/x.csv"], 2, "/nonexistent does not exist"),
    (["predictor", "show", "p.pkl"], 1, "not a predictor file"),
    (["predictor", "show", "p.skops"], 1, "p.skops: not a readable predictor file"),
])
def test_bad_input_is_one_line_with_a_consistent_exit_code(capsys, tmp_path, monkeypatch, argv, code, message):
    monkeypatch.chdir(tmp_path)
    Path("afile").write_text("")
    Path("empty.toml").write_text("")
    Path("notask.toml").write_text("[evolution]\npopulation = 4\n")
    Path("fractional.json").write_text(json.dumps({"format": "structsearch.LayeredGraph/1", "n_inputs": 1,
                                                   "n_outputs": 1, "layers": [0, 1], "src": [0.5], "dst": [1]}))
    Path("damaged").mkdir()
    Path("damaged/run.db").write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)
    Path("p.skops").write_bytes(b"PK\x03\x04 not a zip")
    Path("p.json").write_text(json.dumps({"model": "rf", "target": "test_accuracy", "features": ["a"]}))
    got, _, err = run_cli(capsys, *argv)
    line = one_line_error(err)
    assert got == code and message in line, (got, line)
    assert not Path("/nonexistent").exists()
    assert not Path("runs").exists() or not any(Path("runs").iterdir())  # no half-made run folder


def test_a_failed_command_leaves_no_run_folder_but_keeps_results(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("bad.json").write_text("{}")
    code, _, err = run_cli(capsys, "train", "--genotype", "bad.json", "--name", "half", "--epochs", "1")
    assert code == 1 and "bad.json" in one_line_error(err) and not Path("runs/half").exists()


def test_prune_of_a_saved_model_refuses_settings_it_would_ignore(capsys, trained, tmp_path):
    code, _, err = run_cli(capsys, "prune", "--model", trained, "--architecture", "64-30-10", "--lr", "0.1",
                           "--amount", "0.2", "--runs", tmp_path)
    line = one_line_error(err)
    assert code == 2 and "--architecture" in line and "--lr" in line and not any(tmp_path.iterdir())


def test_a_predictor_whose_card_does_not_match_is_refused_at_load(tmp_path):
    from helpers import synthetic_table

    from structsearch.predictors import load_predictor
    from structsearch.predictors.model import PerformancePredictor

    table = synthetic_table(rows=30)
    predictor = PerformancePredictor("bayesian-ridge").fit(table, table["test_accuracy"])
    path, card = predictor.save(tmp_path / "p")
    load_predictor(path)
    data = json.loads(card.read_text())
    card.write_text(json.dumps({**data, "model": "rf"}))
    with pytest.raises(DataError, match="does not match its card"):
        load_predictor(path)
    card.write_text(json.dumps({**data, "features": data["features"][:-1]}))
    with pytest.raises(DataError, match="does not match its card"):
        load_predictor(path)
