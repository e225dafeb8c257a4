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
    """A finished tiny search with its random baseline, made once."""
    runs = tmp_path_factory.mktemp("baseline")
    assert main(["evolve", "--runs", str(runs), "--name", "x", "--baseline", "random", *TINY]) == 0
    return runs


# ------------------------------------------------------------------ a search's baseline is part of the run


def test_the_store_records_the_baseline_and_resume_reports_a_finished_one_again(searched, capsys):
    with RunStore.open(searched / "x") as store:
        assert store.meta("baseline")["dir"] == "x-random"
    before = results(searched / "x-random")
    assert before
    code, _, err = run_cli(capsys, "evolve", "--resume", searched / "x", "--baseline", "random", "--quiet",
                           "--no-report")
    assert code == 0, err
    assert results(searched / "x-random") == before  # kept, not deleted and trained again
    code, _, err = run_cli(capsys, "evolve", "--resume", searched / "x", "--quiet", "--no-report")
    assert code == 0 and results(searched / "x-random") == before


def test_a_foreign_folder_in_the_baselines_place_is_refused_and_kept(tmp_path, capsys):
    assert main(["evolve", "--runs", str(tmp_path), "--name", "y", *TINY]) == 0
    (tmp_path / "y-random").mkdir()
    (tmp_path / "y-random" / "notes.txt").write_text("notes")
    code, _, err = run_cli(capsys, "evolve", "--resume", tmp_path / "y", "--baseline", "random", "--quiet")
    assert code == 2 and "y-random already exists and is not this search's random baseline" in err
    assert (tmp_path / "y-random" / "notes.txt").read_text() == "notes"
    code, _, err = run_cli(capsys, "evolve", "--resume", tmp_path / "y", "--baseline", "random", "--quiet",
                           "--overwrite")
    assert code == 2 and "not a run of structsearch" in err  # --overwrite replaces only a run
    assert (tmp_path / "y-random" / "notes.txt").read_text() == "notes"


def test_an_interrupted_baseline_is_finished_by_resume(searched, tmp_path, capsys):
    process = subprocess.Popen([sys.executable, "-m", "structsearch", "evolve", "--runs", str(tmp_path), "--name",
                                "x", "--baseline", "random", *TINY], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while stored_results(tmp_path / "x-random") < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    interrupted = stored_results(tmp_path / "x-random")
    complete = results(searched / "x-random")
    assert 2 <= interrupted < len(complete), "the baseline was not interrupted part-way"
    code, _, err = run_cli(capsys, "evolve", "--resume", tmp_path / "x", "--quiet", "--no-report")
    assert code == 0, err
    assert "the random baseline: continuing" in err
    assert results(tmp_path / "x-random") == complete  # exactly the uninterrupted baseline
