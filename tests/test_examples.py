"""Every script of examples/ runs, as a user runs it (a new process), on tiny settings, and prints
what it promises."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# what each example must print: a regular expression per line that it promises
PROMISES = {
    "search_from_python": [r"candidates trained in \d+ generations", r"best: hidden layers .* connections",
                           r"report: .*report\.html", r"retrained from seed 1: validation 0\.\d+, test 0\.\d+"],
    "foreign_predictor": [r"3 features: n_layers, width, n_params", r"grouped by family", r"n_params alone",
                          r"exit code 0"],
    "set_vs_motif": [r"^set      : test accuracy 0\.\d+", r"^set-motif: test accuracy 0\.\d+"],
    "search_a_table": [r"5-fold CV accuracy: 0\.\d+", r"structure search: \d+ candidates trained",
                       r"largest difference to structsearch \d\.\d+e-0[6-9]"],
}


def test_every_example_is_tested():
    assert sorted(p.stem for p in EXAMPLES.glob("*.py")) == sorted(PROMISES)


@pytest.mark.parametrize("name", sorted(PROMISES))
def test_the_example_runs_and_prints_what_it_promises(name, tmp_path):
    done = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), "--tiny"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=300, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    for promise in PROMISES[name]:
        assert re.search(promise, done.stdout, re.M), (promise, done.stdout[-2000:])
