"""Optuna studies: pruning, storages (journal file, SQLite, a real PostgreSQL server), resume,
crash recovery, the params file, bad input."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from structsearch.commands import main
from structsearch.errors import ConfigError
from structsearch.search.space import load_space, space_from_dict
from structsearch.studies import StudyConfig, recover_crashed_trials, run_study

FAST = ["--set", "training.epochs=4", "--set", "genotype.nodes=[10, 24]",
        "--set", "genotype.erdos-renyi.width=[8, 32]"]


def load(storage: str, name: str = "digits-small"):
    if "://" not in storage:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        storage = JournalStorage(JournalFileBackend(storage))
    return optuna.load_study(study_name=name, storage=storage)


def study_process(storage: str, trials: int, *extra) -> subprocess.Popen:
    command = [sys.executable, "-m", "structsearch", "study", "digits-small", "--trials", str(trials),
               "--storage", storage, *FAST, *extra]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def test_six_trials_with_the_median_pruner_prune_at_least_one(tmp_path, capsys):
    started = time.perf_counter()
    assert main(["study", "digits-small", "--trials", "6", "--runs", str(tmp_path), "--pruner", "median", *FAST]) == 0
    assert time.perf_counter() - started < 60
    study = load(str(tmp_path / "studies" / "digits-small.journal"))
    states = [t.state for t in study.trials]
    assert len(states) == 6 and TrialState.PRUNED in states and TrialState.COMPLETE in states
    for trial in study.get_trials(states=(TrialState.PRUNED,)):
        assert len(trial.intermediate_values) < 4  # stopped before the last epoch
    best = (tmp_path / "studies" / "digits-small-best.toml").read_text()
    assert f"trial {study.best_trial.number}" in best and "[params]" in best
    captured = capsys.readouterr()
    assert "best parameters" in captured.out and "lr" in captured.out
    assert f"best: trial {study.best_trial.number}" in captured.err


def test_the_params_file_feeds_train_and_evolve(tmp_path, capsys):
    params = tmp_path / "best.toml"
    params.write_text("[params]\nlr = 0.02\nbatch_size = 48\nrule = \"rigl\"\nzeta = 0.25\nepsilon = 6.0\n")
    assert main(["train", "--params", str(params), "--epochs", "1", "--runs", str(tmp_path), "--name", "t",
                 "--no-progress"]) == 0
    import json

    config = json.loads((tmp_path / "t" / "config.json").read_text())
    assert config["training"]["lr"] == 0.02 and config["training"]["batch_size"] == 48
    assert config["rewiring"]["rule"] == "rigl" and config["rewiring"]["drop_fraction"] == 0.25
    assert config["model"]["epsilon"] == 6.0 and config["training"]["epochs"] == 1
    assert main(["evolve", "--params", str(params), "--population", "2", "--generations", "0", "--epochs", "1",
                 "--runs", str(tmp_path), "--name", "e", "--workers", "1", "--quiet"]) == 0
    from structsearch.store import RunStore

    with RunStore.open(tmp_path / "e") as store:
        stored = store.config
    assert stored["training"]["lr"] == 0.02 and stored["rewiring"]["rule"] == "rigl"
    assert stored["genotype"]["erdos-renyi"]["epsilon"] == [6.0, 6.0]
    params.write_text("[params]\nlearning_rate = 0.1\n")
    assert main(["train", "--params", str(params)]) == 2
    assert "unknown parameter 'learning_rate'" in capsys.readouterr().err


def test_two_processes_on_one_journal_file_share_the_study(tmp_path):
    journal = str(tmp_path / "shared.journal")
    workers = [study_process(journal, 2, "--runs", str(tmp_path)) for _ in range(2)]
    for worker in workers:
        assert worker.wait(timeout=180) == 0, worker.stderr.read().decode()
    study = load(journal)
    assert len(study.trials) == 4
    assert len({t.user_attrs["pid"] for t in study.trials}) == 2
    assert len({t.number for t in study.trials}) == 4


def test_a_resumed_study_adds_trials_and_jobs_split_them(tmp_path):
    space = space_from_dict({**load_space("digits-small").to_dict(),
                             "training": {**load_space("digits-small").to_dict()["training"], "epochs": 2}})
    journal = str(tmp_path / "s.journal")
    run_study(space, StudyConfig(2, journal, "again", pruner="none"))
    first = [t.params for t in load(journal, "again").trials]
    run_study(space, StudyConfig(3, journal, "again", pruner="none", jobs=2))
    study = load(journal, "again")
    assert len(study.trials) == 5 and [t.params for t in study.trials[:2]] == first
    assert len({t.user_attrs["pid"] for t in study.trials[2:]}) == 2


def test_a_trial_left_running_by_a_dead_process_is_failed_and_retried(tmp_path):
    journal = str(tmp_path / "crash.journal")
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = optuna.create_study(storage=JournalStorage(JournalFileBackend(journal)), study_name="c",
                                direction="maximize")
    dead = subprocess.Popen(["true"])
    dead.wait()
    trial = study.ask()
    trial.suggest_float("lr", 1e-3, 1e-1, log=True)
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", dead.pid)
    alive = study.ask()
    alive.set_user_attr("host", socket.gethostname())
    alive.set_user_attr("pid", os.getpid())
    assert recover_crashed_trials(study) == [trial.number]
    trials = study.get_trials()
    assert trials[trial.number].state == TrialState.FAIL and trials[alive.number].state == TrialState.RUNNING
    assert trials[-1].state == TrialState.WAITING and trials[-1].params == {} and \
        study.get_trials(states=(TrialState.WAITING,))[0].user_attrs["retry_of"] == trial.number


def test_a_database_heartbeat_fails_and_retries_a_killed_trial(tmp_path):
    url = f"sqlite:///{tmp_path / 'beat.db'}"
    victim = study_process(url, 1, "--runs", str(tmp_path), "--heartbeat", "1", "--set", "training.epochs=400")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if load(url).get_trials(states=(TrialState.RUNNING,)):
                break
        except (KeyError, Exception):
            pass
        time.sleep(0.2)
    time.sleep(1.5)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    time.sleep(3.5)  # longer than 3 heartbeats: the trial is stale
    assert main(["study", "digits-small", "--trials", "1", "--storage", url, "--heartbeat", "1", *FAST,
                 "--runs", str(tmp_path)]) == 0
    study = load(url)
    killed = study.trials[0]
    assert killed.state == TrialState.FAIL
    retried = [t for t in study.trials if t.system_attrs.get("failed_trial") == killed.number]
    assert retried and retried[0].params == killed.params


# ------------------------------------------------------------------------------ PostgreSQL


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A throwaway PostgreSQL server on loopback (Debian's `postgresql` package), or a skip saying why."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        pytest.skip("PostgreSQL server not installed (Debian package postgresql; .ci/run installs it)")
    pytest.importorskip("psycopg", reason="psycopg (the PostgreSQL driver) is not installed")
    bindir = Path(binaries[-1]).parent
    base = Path(tempfile.mkdtemp(prefix="structsearch-pg-", dir="/tmp"))
    as_postgres = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(base, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = _free_port()

    def run(*command):
        return subprocess.run([*as_postgres, *command], capture_output=True, text=True, timeout=120)

    made = run(bindir / "initdb", "-D", base / "data", "-A", "trust", "-U", "postgres")
    if made.returncode:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(
            f"initdb failed: {made.stderr.strip().splitlines()[-1] if made.stderr.strip() else made.returncode}"
        )
    started = run(bindir / "pg_ctl", "-D", base / "data", "-l", base / "log", "-w", "-o",
                  f"-p {port} -k {base} -c listen_addresses=127.0.0.1", "start")
    if started.returncode:
        log = (base / "log").read_text() if (base / "log").exists() else started.stderr
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {log.strip().splitlines()[-1] if log.strip() else '?'}")
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                         autocommit=True) as connection:
        connection.execute("CREATE DATABASE structsearch")
    yield f"postgresql://postgres@127.0.0.1:{port}/structsearch"
    run(bindir / "pg_ctl", "-D", base / "data", "-m", "immediate", "stop")
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_two_processes_share_a_study_on_postgresql(postgres_url, tmp_path):
    workers = [study_process(postgres_url, 2, "--runs", str(tmp_path), "--study-name", "pg") for _ in range(2)]
    for worker in workers:
        assert worker.wait(timeout=180) == 0, worker.stderr.read().decode()
    study = load(postgres_url, "pg")
    assert len(study.trials) == 4 and len({t.number for t in study.trials}) == 4
    assert len({t.user_attrs["pid"] for t in study.trials}) == 2  # the union of both processes' trials


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"learning_rate": {"type": "float", "low": 0.1, "high": 0.2}},
            "unknown parameter 'learning_rate'; the trainer knows lr",
        ),
        ({"lr": {"type": "float", "low": 0.2, "high": 0.1}}, "study.params.lr: low = 0.2 exceeds high = 0.1"),
        ({"lr": {"type": "log-float", "low": 0.0, "high": 0.1}}, "study.params.lr: a log distribution needs low > 0"),
        ({"lr": {"type": "gaussian", "low": 0.0, "high": 0.1}}, "study.params.lr.type must be one of float"),
        ({"rule": {"type": "categorical", "choices": []}}, "study.params.rule.choices must be a non-empty list"),
        ({"batch_size": {"type": "float", "low": 16, "high": 64}}, "batch_size takes integers"),
    ],
)
def test_bad_study_tables_are_one_line_errors(params, message):
    with pytest.raises(ConfigError) as error:
        space_from_dict({"task": {"name": "digits"}, "study": {"params": params}}, "s.toml")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_bad_study_command_lines(tmp_path, capsys):
    def error_of(*argv) -> str:
        code = main(["study", "digits-small", "--runs", str(tmp_path), *argv])
        err = capsys.readouterr().err.strip()
        assert code in (1, 2) and len(err.splitlines()) == 1, err
        return err

    assert "--trials: expected a positive integer, got '0'" in error_of("--trials", "0")
    assert "not a database URL" in error_of("--trials", "1", "--storage", "nosuchdb://x/y")
    assert "cannot reach the database" in error_of("--trials", "1", "--storage",
                                                    "postgresql://nobody@127.0.0.1:9/none")
    assert "--pruner must be one of median, hyperband, none" in error_of("--trials", "1", "--pruner", "sometimes")
