"""Nothing lost, nothing followed outside, nothing read unbounded: a search's baseline is part of
its run, run folders never lead outside themselves, files are bounded before they are read, what we
wrote is checked when read back, and the last raw messages are one line."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from structsearch.commands import main
from structsearch.store import RunStore

TINY = ["--population", "4", "--generations", "1", "--epochs", "1", "--workers", "1", "--quiet", "--no-report",
        "--set", "genotype.nodes=[10, 16]", "--set", "genotype.erdos-renyi.width=[8, 16]",
        "--set", "evolution.offspring=4"]
# the same, scored by the fake evaluator: for what needs a run but no training
DRY = TINY[:TINY.index("--workers")] + TINY[TINY.index("--workers") + 2:] + ["--dry-run"]


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def results(run: Path) -> list[tuple[int, str, float]]:
    with RunStore.open(run) as store:
        return [(c.id, c.hash, c.metrics.get("val_accuracy")) for c in store.candidates() if c.status]


def stored_results(run: Path) -> int:
    try:
        with sqlite3.connect(f"file:{run / 'run.db'}?mode=ro", uri=True, timeout=1) as connection:
            return connection.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A finished tiny dry-run search with its random baseline, made once."""
    runs = tmp_path_factory.mktemp("baseline")
    assert main(["evolve", "--runs", str(runs), "--name", "x", "--baseline", "random", *DRY]) == 0
    return runs


@pytest.fixture
def trained_search(tmp_path):
    """A finished tiny search with its random baseline, trained."""
    runs = tmp_path / "uninterrupted"
    assert main(["evolve", "--runs", str(runs), "--name", "x", "--baseline", "random", *TINY]) == 0
    return runs


# ------------------------------------------------------------------ a search's baseline is part of the run


def test_the_store_records_the_baseline_and_resume_reports_a_finished_one_again(searched, capsys):
    with RunStore.open(searched / "x") as store:
        assert store.meta("baseline")["dir"] == "x-random"
    before = results(searched / "x-random")
    assert before
    code, _, err = run_cli(capsys, "evolve", "--resume", searched / "x", "--baseline", "random", "--quiet",
                           "--no-report", "--dry-run")
    assert code == 0, err
    assert results(searched / "x-random") == before  # kept, not deleted and trained again
    code, _, err = run_cli(capsys, "evolve", "--resume", searched / "x", "--quiet", "--no-report", "--dry-run")
    assert code == 0 and results(searched / "x-random") == before


def test_a_foreign_folder_in_the_baselines_place_is_refused_and_kept(tmp_path, capsys):
    assert main(["evolve", "--runs", str(tmp_path), "--name", "y", *DRY]) == 0
    (tmp_path / "y-random").mkdir()
    (tmp_path / "y-random" / "notes.txt").write_text("notes")
    code, _, err = run_cli(capsys, "evolve", "--resume", tmp_path / "y", "--baseline", "random", "--quiet", "--dry-run")
    assert code == 2 and "y-random already exists and is not this search's random baseline" in err
    assert (tmp_path / "y-random" / "notes.txt").read_text() == "notes"
    code, _, err = run_cli(capsys, "evolve", "--resume", tmp_path / "y", "--baseline", "random", "--quiet",
                           "--overwrite", "--dry-run")
    assert code == 2 and "not a run of structsearch" in err  # --overwrite replaces only a run
    assert (tmp_path / "y-random" / "notes.txt").read_text() == "notes"


@pytest.mark.slow
def test_an_interrupted_baseline_is_finished_by_resume(trained_search, tmp_path, capsys):
    process = subprocess.Popen([sys.executable, "-m", "structsearch", "evolve", "--runs", str(tmp_path), "--name",
                                "x", "--baseline", "random", *TINY], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while stored_results(tmp_path / "x-random") < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    interrupted = stored_results(tmp_path / "x-random")
    complete = results(trained_search / "x-random")
    assert 2 <= interrupted < len(complete), "the baseline was not interrupted part-way"
    code, _, err = run_cli(capsys, "evolve", "--resume", tmp_path / "x", "--quiet", "--no-report")
    assert code == 0, err
    assert "the random baseline: continuing" in err
    assert results(tmp_path / "x-random") == complete  # exactly the uninterrupted baseline


# ------------------------------------------------------------------ a run folder never leads outside


@pytest.fixture()
def inheriting(tmp_path):
    """A finished one-generation search whose children inherit weights (weights/ holds files)."""
    from helpers import tiny_space

    from structsearch.search.engine import Search
    from structsearch.search.executors import InProcessExecutor

    space = tiny_space(evolution__generations=1, evolution__inheritance="weights", gate__predictor="none")
    search = Search.start(space, tmp_path / "run", InProcessExecutor())
    search.run()
    search.store.close()
    assert list((tmp_path / "run" / "weights").glob("*.safetensors"))
    return tmp_path / "run"


def resume_inheriting(run: Path, generations: int = 2):
    from structsearch.search.engine import Search
    from structsearch.search.executors import InProcessExecutor

    search = Search.resume(run, InProcessExecutor(), extend={"evolution.generations": generations})
    try:
        search.run()
    finally:
        search.store.close()


def test_a_symlinked_weights_folder_is_refused_and_nothing_outside_is_touched(inheriting, tmp_path):
    from structsearch.errors import DataError

    outside = tmp_path / "elsewhere"
    (inheriting / "weights").rename(outside)
    (outside / "9999.safetensors").write_bytes(b"someone else's")
    (inheriting / "weights").symlink_to(outside)
    before = {p.name: p.read_bytes() for p in outside.iterdir()}
    with pytest.raises(DataError, match=r"weights: a symbolic link inside the run folder"):
        resume_inheriting(inheriting)
    assert {p.name: p.read_bytes() for p in outside.iterdir()} == before


def test_retention_deletes_only_the_files_the_run_wrote(inheriting):
    stranger = inheriting / "weights" / "100000.safetensors"
    stranger.write_bytes(b"not the run's")
    ours = {p.name for p in (inheriting / "weights").glob("*.safetensors")} - {stranger.name}
    resume_inheriting(inheriting, generations=3)
    assert stranger.read_bytes() == b"not the run's"
    assert ours - {p.name for p in (inheriting / "weights").glob("*.safetensors")}  # some of its own were deleted


def test_overwrite_replaces_only_a_run_and_never_through_a_link(tmp_path, capsys):
    (tmp_path / "mydocs").mkdir()
    (tmp_path / "mydocs" / "thesis.tex").write_text("x")
    code, _, err = run_cli(capsys, "train", "--name", "mydocs", "--overwrite", "--runs", tmp_path, "--epochs", "1",
                           "--architecture", "64-8-10", "--no-progress")
    assert code == 2 and "mydocs is not a run of structsearch" in err
    assert (tmp_path / "mydocs" / "thesis.tex").read_text() == "x"
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "linked").symlink_to(outside)
    code, _, err = run_cli(capsys, "train", "--name", "linked", "--overwrite", "--runs", tmp_path / "runs",
                           "--epochs", "1", "--architecture", "64-8-10", "--no-progress")
    assert code == 2 and f"{tmp_path / 'runs' / 'linked'} is a symbolic link" in err
    assert list(outside.iterdir()) == []  # no .lock written outside
    # a real run is replaced
    args = ["train", "--name", "real", "--runs", tmp_path, "--epochs", "1", "--architecture", "64-8-10",
            "--no-progress"]
    assert main([str(a) for a in args]) == 0
    assert main([str(a) for a in args + ["--overwrite"]]) == 0


def test_a_symlinked_run_folder_is_refused_on_resume(tmp_path, capsys):
    assert main(["evolve", "--runs", str(tmp_path), "--name", "x", *DRY]) == 0
    (tmp_path / "x").rename(tmp_path / "real")
    (tmp_path / "x").symlink_to(tmp_path / "real")
    code, _, err = run_cli(capsys, "evolve", "--resume", tmp_path / "x", "--quiet", "--no-report", "--dry-run")
    assert code == 1 and "the run folder is a symbolic link" in err


# ------------------------------------------------------------------ every file is bounded before it is read


def test_devices_fifos_and_folders_are_refused_at_once(tmp_path, capsys):
    os.mkfifo(tmp_path / "pipe.json")
    for path, what in (("/dev/zero", "a device"), ("/dev/urandom", "a device"), (tmp_path / "pipe.json", "a FIFO"),
                       (tmp_path, "a folder")):
        start = time.monotonic()
        code, _, err = run_cli(capsys, "genotype", "show", path)
        assert code == 1 and f"{path}: {what}, not a regular file" in err
        assert time.monotonic() - start < 10


def test_a_file_over_its_kinds_limit_is_refused_before_it_is_read(tmp_path, capsys):
    big = tmp_path / "big.json"
    big.write_text('{"a": "' + "x" * 3_000_000 + '"}')
    os.environ["STRUCTSEARCH_MAX_MEMORY"] = "4M"  # a genotype file may then have 1 MB
    try:
        code, _, err = run_cli(capsys, "genotype", "show", big)
    finally:
        del os.environ["STRUCTSEARCH_MAX_MEMORY"]
    assert code == 1 and "big.json: 2.86 MB, more than the 1 MB a genotype file may have (--max-memory" in err


@pytest.mark.parametrize("name, text", [
    ("deep.json", "[" * 100_000 + "]" * 100_000),
    ("deep70.json", '{"a": ' * 70 + "1" + "}" * 70),
    ("deep.toml", "a = " + "[" * 100_000 + "]" * 100_000),
    ("deep70.toml", "a = " + "[" * 70 + "]" * 70),
])
def test_deep_nesting_is_one_line(tmp_path, capsys, name, text):
    (tmp_path / name).write_text(text)
    argv = ["genotype", "show", tmp_path / name] if name.endswith(".json") else ["evolve", tmp_path / name]
    code, _, err = run_cli(capsys, *argv)
    assert code in (1, 2) and "nested too deeply (more than 64 levels)" in err and err.count("\n") == 1, err


@pytest.mark.parametrize("change, what", [
    ("evolution.population=1000000000000", "evolution.population = 1,000,000,000,000"),
    ("evolution.offspring=1000000000", "evolution.offspring = 1,000,000,000"),
    ("gate.audit=1000000000000", "gate.audit = 1,000,000,000,000"),
    ("evolution.generations=1000000000000000", "evolution.generations = 1,000,000,000,000,000"),
])
def test_counts_are_checked_against_memory_before_anything_is_allocated(tmp_path, capsys, change, what):
    start = time.monotonic()
    code, _, err = run_cli(capsys, "evolve", "--set", change, "--runs", tmp_path, "--quiet")
    assert code == 2 and what in err and "more than the limit" in err
    assert time.monotonic() - start < 20 and not any(tmp_path.iterdir())


# ------------------------------------------------------------------ integrity of what we wrote


def test_a_flipped_byte_in_a_weights_file_trains_the_child_from_scratch_and_says_why(inheriting):
    with RunStore.open(inheriting) as store:
        population = store.meta("search_state")["population"]
    for candidate in population:
        path = inheriting / "weights" / f"{candidate}.safetensors"
        if path.exists():
            data = bytearray(path.read_bytes())
            data[-3] ^= 0xFF  # in the tensor data, past the header
            path.write_bytes(bytes(data))
    resume_inheriting(inheriting)
    with RunStore.open(inheriting) as store:
        children = [c for c in store.candidates(generation=2) if c.parents and not c.metrics.get("duplicate_of")]
    reasons = [c.metrics.get("inheritance", {}).get("from_scratch", "") for c in children]
    assert children and all("checksum does not match its tensors" in reason for reason in reasons), reasons


def test_an_edited_stored_configuration_is_refused_naming_the_key(searched, tmp_path, capsys):
    import shutil

    shutil.copytree(searched / "x", tmp_path / "x")
    with sqlite3.connect(tmp_path / "x" / "run.db") as connection:
        config = json.loads(connection.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
        config["training"]["lr"] = 0.5
        connection.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps(config),))
    code, _, err = run_cli(capsys, "evolve", "--resume", tmp_path / "x", "--quiet", "--no-report",
                           "--dry-run")
    assert code == 1 and "stored configuration was changed after structsearch wrote it (training.lr)" in err
    # where --resume may change a setting on purpose, the digest follows it
    shutil.rmtree(tmp_path / "x")
    shutil.copytree(searched / "x", tmp_path / "x")
    code, _, err = run_cli(capsys, "evolve", "--resume", tmp_path / "x", "--generations", "2", "--quiet",
                           "--no-report", "--dry-run")
    assert code == 0, err
    code, _, err = run_cli(capsys, "evolve", "--resume", tmp_path / "x", "--quiet", "--no-report",
                           "--dry-run")
    assert code == 0, err


# ------------------------------------------------------------------ the last raw messages


def test_damaged_stores_and_weights_are_one_line_naming_what(searched, tmp_path, capsys):
    import shutil

    from structsearch.errors import DataError
    from structsearch.nn.weights import NodeWeights

    shutil.copytree(searched / "x", tmp_path / "a")
    with sqlite3.connect(tmp_path / "a" / "run.db") as connection:
        state = json.loads(connection.execute("SELECT value FROM meta WHERE key = 'search_state'").fetchone()[0])
        state["population"][0] = 1_000_000_000
        connection.execute("UPDATE meta SET value = ? WHERE key = 'search_state'", (json.dumps(state),))
    code, _, err = run_cli(capsys, "evolve", "--resume", tmp_path / "a", "--quiet", "--no-report",
                           "--dry-run")
    assert code == 1 and "population names candidate 1000000000, which has no stored result" in err
    shutil.copytree(searched / "x", tmp_path / "b")
    with sqlite3.connect(tmp_path / "b" / "run.db") as connection:
        connection.execute("UPDATE results SET metrics = '{not json' WHERE candidate_id = 1")
    code, _, err = run_cli(capsys, "report", tmp_path / "b", "--out", tmp_path / "r")
    assert code == 1 and "candidate 1's metrics are not JSON" in err and err.count("\n") == 1
    with pytest.raises(DataError) as raised:
        NodeWeights.from_bytes(b"\x40\x00\x00\x00\x00\x00\x00\x00{\"__metadata__\": {", "w.safetensors")
    assert "truncated or damaged" in str(raised.value) and "JSONDecodeError" not in str(raised.value)


def test_non_finite_operator_weights_and_overflowing_tables_are_one_line(tmp_path, capsys):
    code, _, err = run_cli(capsys, "evolve", "--set", "evolution.mutations.add-edge=inf", "--runs", tmp_path)
    assert code == 2 and "evolution.mutations.add-edge must be a finite weight ≥ 0, got inf" in err
    assert "note:" not in err
    from helpers import search_table

    from structsearch.meta import write_table

    table = search_table("size")
    table["density"][3] = 1e308
    write_table({k: list(v) for k, v in table.items()}, tmp_path / "big.csv")
    code, _, err = run_cli(capsys, "predictor", "train", tmp_path / "big.csv", "--out-dir", tmp_path / "p")
    assert code == 1 and "column 'density' has 1 value(s) beyond" in err and err.count("\n") == 1, err
    table = search_table("size")
    table["density"][:] = float("nan")
    write_table({k: list(v) for k, v in table.items()}, tmp_path / "empty.csv")
    code, _, err = run_cli(capsys, "predictor", "train", tmp_path / "empty.csv", "--out-dir", tmp_path / "p",
                           "--repeats", "1", "--folds", "2")
    assert code == 0, err
    assert [line for line in err.splitlines() if "no values" in line] == [
        f"note: {tmp_path / 'empty.csv'}: 1 feature column(s) have no values (density); the model leaves them out"]
    assert "Skipping features" not in err


def test_a_full_disk_says_so_with_the_folder_and_how_to_resume(tmp_path, capsys):
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(disk)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.decode().strip() or done.returncode})")
    try:
        code, _, err = run_cli(capsys, "evolve", "--runs", disk, "--name", "full", *TINY, "--population", "8",
                               "--generations", "4")
        assert code == 1, err
        line = [line for line in err.splitlines() if line.startswith("error:")][0]
        assert "the disk is full" in line and "free" in line and "--resume" in line, line
        assert "OperationalError" not in err
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)  # lazily: a store may still be open


def test_out_files_are_refused_if_they_exist_unless_overwrite(searched, tmp_path, capsys):
    out = tmp_path / "g.json"
    sample = ["genotype", "sample", "erdos-renyi", "--param", "layer_sizes=[4,3,2]", "--param", "epsilon=1",
              "--out", out]
    assert main([str(a) for a in sample]) == 0
    first = out.read_bytes()
    code, _, err = run_cli(capsys, *sample, "--seed", "5")
    assert code == 2 and "already exists" in err and out.read_bytes() == first
    assert main([str(a) for a in sample + ["--seed", "5", "--overwrite"]]) == 0 and out.read_bytes() != first
    meta = tmp_path / "m.csv"
    meta.write_text("mine")
    code, _, err = run_cli(capsys, "meta", "export", searched / "x", "--out", meta)
    assert code == 2 and "already exists" in err and meta.read_text() == "mine"
    assert main(["meta", "export", str(searched / "x"), "--out", str(meta), "--overwrite"]) == 0


@pytest.mark.slow
def test_sigterm_says_how_to_resume_and_no_leak_warning_reaches_the_terminal(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "structsearch", "evolve", "--runs", str(tmp_path), "--name",
                                "t", *TINY, "--generations", "20", "--workers", "2"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while stored_results(tmp_path / "t") < 1 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    assert f"structsearch evolve --resume {tmp_path / 't'}" in " ".join(err.split()) and "terminated (SIGTERM)" in err
    # kill -9: the orphaned resource tracker cleans up without a word
    process = subprocess.Popen([sys.executable, "-m", "structsearch", "evolve", "--runs", str(tmp_path), "--name",
                                "k", *TINY, "--generations", "20", "--workers", "2"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while stored_results(tmp_path / "k") < 1 and time.monotonic() < deadline + 240 and process.poll() is None:
        time.sleep(0.05)
    process.kill()
    _, err = process.communicate(timeout=120)  # returns once every holder of the pipe (the tracker) is gone
    assert "leaked" not in err and "resource_tracker" not in err, err


def test_smaller_points(tmp_path, capsys):
    # a store copied without its write-ahead log
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "run.db").write_bytes(b"")
    code, _, err = run_cli(capsys, "report", tmp_path / "copy", "--out", tmp_path / "r")
    assert code == 1 and "write-ahead log run.db-wal is missing" in err
    # STRUCTSEARCH_DATA naming a file
    (tmp_path / "afile").write_text("")
    os.environ["STRUCTSEARCH_DATA"] = str(tmp_path / "afile")
    try:
        code, _, err = run_cli(capsys, "train", "--task", "mnist", "--epochs", "1", "--runs", tmp_path)
    finally:
        del os.environ["STRUCTSEARCH_DATA"]
    assert code == 1 and "is a file, not a folder" in err
    # a 300-character name: one whole line, not the OS's "file name too long"
    code, _, err = run_cli(capsys, "train", "--name", "a" * 300, "--epochs", "1", "--runs", tmp_path)
    assert code == 2 and "300 characters; a name has at most 200" in err and len(err) < 300
