"""Property tests of the command line: random option values and damaged input files.

Oracle, for every example: exit code 0, 1 or 2; at most two lines on stderr (besides ``note:``
lines), none of them a traceback or a raw exception name; and no file changed outside the working
folder the command was given.  The examples are kept cheap (≈ 60 s in all on 2 cores): options
whose large values only mean a long run (epochs, generations, trials …) draw small values, and the
Dask options, which start clusters, are left out.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from structsearch.commands import build_parser, main

RAW = re.compile(r"Traceback|\b[A-Z][A-Za-z]*(Error|Exception)\b|BadZipFile")
FUZZ = settings(deadline=None, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
NASTY = ["-1", "0", "1", "2", "1.5", "-2.5", "1e400", "nan", "inf", "abc", "", "99999999999999999999999",
         "../escape", "a b", "runs", "x.csv", "x.toml", "🙂", "=", "k=v", "train_size=-3", "x=[1,2", "0x10",
         "genotype.nodes=[2,1]", "training.lr=-1", "evolution.population=0"]
PATHS = ["x", "x.csv", "x.json", "x.toml", "missing/x.csv", "runs", "a b", "", "."]
# options whose valid values mean only a longer run: drawn small
COSTLY = {"--epochs", "--generations", "--trials", "--population", "--per-prior", "--repeats", "--samples",
          "--final-samples", "--seeds", "--retrain-epochs", "--steps", "--max-candidates", "--workers", "--jobs",
          "--heartbeat", "--folds", "--n-strings", "--train-size", "--test-size", "--max-nodes", "--min-nodes",
          "--evolve-every", "--batch-size", "--count", "--max-hours", "--timeout", "--hidden", "--architecture",
          "--epsilons", "--epsilon", "--cells", "--priors"}
LEFT_OUT = {"--scheduler", "--dask-local", "--help", "--version", "--debug", "--data-dir"}
PATH_OPTIONS = {"--out", "--out-dir", "--runs", "--storage", "--genotype", "--params", "--model", "--resume"}
# a cheap base per command: tiny data and runs, so that the random options decide what happens
BASES = {
    ("train",): ["--epochs", "1", "--architecture", "64-8-10", "--no-progress"],
    ("evolve",): ["--generations", "0", "--population", "2", "--epochs", "1", "--workers", "1", "--quiet"],
    ("prune",): ["--epochs", "1", "--architecture", "64-8-10", "--retrain-epochs", "0", "--amount", "0.2"],
    ("study", ): ["digits-small", "--trials", "1", "--set", "training.epochs=1"],
    ("genotype", "sample"): ["erdos-renyi", "--param", "layer_sizes=[4,3,2]", "--param", "epsilon=1",
                             "--out", "g.json"],
    ("genotype", "show"): ["g0.json"],
    ("meta", "export"): ["nothing", "--out", "m.csv"],
    ("predictor", "train"): ["meta.csv", "--folds", "2", "--repeats", "1"],
    ("predictor", "evaluate"): ["p.skops", "meta.csv"],
    ("predictor", "show"): ["p.skops"],
    ("motifs",): ["g0.json", "--samples", "2"],
    ("spaces",): [],
    ("tasks",): [],
    ("experiment", "random-structures"): ["--per-prior", "1", "--epochs", "1", "--max-nodes", "12"],
}


def subparser(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def options_of(path: tuple[str, ...]) -> list[argparse.Action]:
    return [a for a in subparser(path)._actions if a.option_strings and not set(a.option_strings) & LEFT_OUT
            and not isinstance(a, argparse._HelpAction)]


def value_for(flag: str) -> st.SearchStrategy[str]:
    if flag in COSTLY:
        return st.sampled_from(["-1", "0", "1", "2", "abc", "", "1e400", "nan", "0.5", "3-3-3", "digits,x"])
    if flag in PATH_OPTIONS:
        return st.sampled_from(PATHS)
    return st.one_of(st.sampled_from(NASTY), st.text(max_size=6))


@st.composite
def command_lines(draw, path: tuple[str, ...]):
    actions = options_of(path)
    chosen = draw(st.lists(st.sampled_from(actions), min_size=1, max_size=3, unique_by=id)) if actions else []
    argv = [*path, *BASES[path]]
    for action in chosen:
        flag = action.option_strings[-1]
        argv.append(flag)
        if action.nargs != 0:
            argv.append(draw(value_for(flag)))
    return argv


def check_oracle(argv, code: int, err: str, outside_before: dict, outside: Path) -> None:
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("note:")]
    assert code in (0, 1, 2), (argv, code, err)
    if code != 0:
        assert len(lines) <= 2, (argv, err)
    assert not RAW.search(err), (argv, err)
    assert snapshot(outside) == outside_before, (argv, "a file outside the working folder changed")


def snapshot(folder: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in folder.rglob("*") if p.is_file() and "work" not in p.parts}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A folder with one valid file of each kind the commands read (a genotype, a meta-dataset, a
    predictor, a trained model run and a run store) beside an ``outside`` sentinel folder."""
    from helpers import synthetic_table

    from structsearch.meta import write_table

    root = tmp_path_factory.mktemp("fuzz")
    files = root / "files"
    files.mkdir()
    (root / "outside").mkdir()
    (root / "outside" / "keep.txt").write_text("keep")
    cwd = os.getcwd()
    os.chdir(files)
    try:
        assert main(["genotype", "sample", "erdos-renyi", "--param", "layer_sizes=[8,6,3]", "--param", "epsilon=2",
                     "--out", "g0.json"]) == 0
        assert main(["genotype", "sample", "erdos-renyi", "--param", "layer_sizes=[8,6,3]", "--param", "epsilon=2",
                     "--out", "g0.npz"]) == 0
        table = synthetic_table(rows=24)
        write_table({k: list(v) for k, v in table.items()}, files / "meta.csv")
        write_table({k: list(v) for k, v in table.items()}, files / "meta.parquet")
        assert main(["predictor", "train", "meta.csv", "--out-dir", ".", "--name", "p", "--folds", "2",
                     "--repeats", "1"]) == 0
        assert main(["train", "--architecture", "64-8-10", "--epochs", "1", "--no-progress", "--save-model",
                     "--runs", ".", "--name", "model"]) == 0
        assert main(["experiment", "random-structures", "--per-prior", "1", "--epochs", "1", "--max-nodes", "12",
                     "--runs", ".", "--name", "store"]) == 0
        Path("space.toml").write_text('[task]\nname = "digits"\n[evolution]\npopulation = 2\n'
                                      'generations = 0\n[training]\nepochs = 1\n')
    finally:
        os.chdir(cwd)
    return root


def run_in_work(capsys, workspace: Path, work: Path, argv: list[str]) -> None:
    """Run ``argv`` in ``work`` and check the oracle."""
    before = snapshot(workspace)
    cwd = os.getcwd()
    os.chdir(work)
    try:
        code = main(argv)
    finally:
        os.chdir(cwd)
    _, err = capsys.readouterr()
    check_oracle(argv, code, err, before, workspace)


def fresh_work(workspace: Path) -> Path:
    work = workspace / "work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(workspace / "files", work)
    return work


@pytest.mark.parametrize("path", list(BASES), ids=" ".join)
def test_random_option_values(capsys, workspace, path):
    examples = 3 if path in {("evolve",), ("study",), ("experiment", "random-structures")} else 8

    @settings(FUZZ, max_examples=examples)
    @given(argv=command_lines(path))
    def run(argv):
        run_in_work(capsys, workspace, fresh_work(workspace), argv)

    run()


# file kind → the command that reads it ({} is the damaged file's path)
READERS = {
    "g0.json": ["genotype", "show", "{}"],
    "g0.npz": ["genotype", "show", "{}"],
    "space.toml": ["evolve", "{}", "--workers", "1", "--quiet"],
    "store/run.db": ["meta", "export", "{}", "--out", "out.csv"],
    "p.skops": ["predictor", "show", "{}"],
    "p.json": ["predictor", "show", "p.skops"],
    "model/model.pt": ["motifs", "model", "--samples", "2"],
    "model/config.json": ["motifs", "model", "--samples", "2"],
    "meta.csv": ["predictor", "train", "{}", "--folds", "2", "--repeats", "1", "--out-dir", "out"],
    "meta.parquet": ["predictor", "evaluate", "p.skops", "{}"],
}


@st.composite
def damage(draw, original: bytes) -> bytes:
    how = draw(st.sampled_from(["truncate", "flip", "random", "empty", "splice"]))
    if how == "empty":
        return b""
    if how == "random":
        return draw(st.binary(min_size=1, max_size=200))
    if how == "truncate":
        return original[: draw(st.integers(0, max(len(original) - 1, 0)))]
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        data[at] = draw(st.integers(0, 255)) if how == "flip" else data[at] ^ 0xFF
    return bytes(data)


@pytest.mark.parametrize("kind", list(READERS))
def test_damaged_files(capsys, workspace, kind):
    original = (workspace / "files" / kind).read_bytes()

    @settings(FUZZ, max_examples=6)
    @given(content=damage(original))
    def run(content):
        work = fresh_work(workspace)
        (work / kind).write_bytes(content)
        run_in_work(capsys, workspace, work, [a.replace("{}", kind) for a in READERS[kind]])

    run()


def test_the_oracle_can_fail(tmp_path):
    """The oracle rejects a traceback, a raw exception name and a write outside."""
    (tmp_path / "outside.txt").write_text("a")
    before = snapshot(tmp_path)
    with pytest.raises(AssertionError):
        check_oracle([], 1, "error: ValueError: x\n", before, tmp_path)
    with pytest.raises(AssertionError):
        check_oracle([], 3, "", before, tmp_path)
    os.utime(tmp_path / "outside.txt", (0, 0))
    with pytest.raises(AssertionError):
        check_oracle([], 0, "", before, tmp_path)
    assert json.dumps(READERS)  # every reader is a plain command line


def replaced(work: Path, kind: str, how: str, original: bytes, outside: Path) -> None:
    """Put something hostile where a file of ``kind`` was: a device, a FIFO, a link to a file
    outside the working folder, deep nesting, or numbers that overflow float32 (and float64)."""
    import re as regex

    path = work / kind
    path.unlink()
    if how == "device":
        os.symlink("/dev/zero", path)
    elif how == "fifo":
        os.mkfifo(path)
    elif how == "symlink":
        os.symlink(outside / "keep.txt", path)
    elif how == "deep":
        depth = 5000
        body = b"[" * depth + b"]" * depth
        path.write_bytes(b"a = " + body if kind.endswith(".toml") else body)
    else:  # overflow
        path.write_bytes(regex.sub(rb"\d+\.\d+", b"1e308", original, count=4).replace(b"= 2", b"= 1e400"))


@pytest.mark.parametrize("how", ["device", "fifo", "symlink", "deep", "overflow"])
@pytest.mark.parametrize("kind", list(READERS))
def test_hostile_files(capsys, workspace, kind, how):
    original = (workspace / "files" / kind).read_bytes()
    work = fresh_work(workspace)
    replaced(work, kind, how, original, workspace / "outside")
    run_in_work(capsys, workspace, work, [a.replace("{}", kind) for a in READERS[kind]])
    assert (workspace / "outside" / "keep.txt").read_text() == "keep"
