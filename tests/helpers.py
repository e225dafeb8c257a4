"""Helpers several test modules share (fixtures go in conftest.py; no test imports another test module)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np

from structsearch.graphs.features import feature_names
from structsearch.search.space import load_space


def tiny_space(**changes):
    space = load_space("digits-small")
    space.evolution.population, space.evolution.generations, space.evolution.offspring = 4, 2, None
    space.training.epochs = 2
    space.genotype.nodes = [10, 24]
    space.genotype.parameters["erdos-renyi"]["width"] = [8, 24]
    space.gate.warmup = 4
    # the 2 : 1 gate, the epoch budget and the tournaments the engine tests were written against (the
    # default space pools its children, counts compute and ages its population; tests of those set them)
    space.gate.pool, space.gate.estimation_fraction = 1, 0.5
    space.budget.max_epochs, space.budget.max_macs = 720, None
    space.evolution.selection = "tournament"
    for dotted, value in changes.items():
        table, key = dotted.split("__")
        setattr(getattr(space, table), key, value)
    return space.validate()


def synthetic_table(rows=300, seed=0, noise=0.01):
    """A meta-dataset where accuracy = f(edges, layers) + noise."""
    rng = np.random.default_rng(seed)
    names = feature_names()
    table = {name: rng.normal(size=rows) for name in names}
    table["edges"] = rng.uniform(50, 500, rows)
    table["layers"] = rng.integers(3, 9, rows).astype(float)
    table["test_accuracy"] = 0.5 + 0.3 * np.log(table["edges"]) / np.log(500) - 0.02 * table["layers"] \
        + rng.normal(0, noise, rows)
    table["run"] = np.array(["r"] * rows, dtype=object)
    return table


def search_table(signal: str, rows: int = 120, runs: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """A structsearch-like meta-dataset: every graph feature, ``connections``, ``run`` and
    ``generation``; validation accuracy depends on ``connections`` alone (``signal="size"``) or on
    ``density`` alone, with noise."""
    rng = np.random.default_rng(seed)
    table = {name: rng.random(rows) for name in feature_names()}
    table["connections"] = rng.uniform(100, 5000, rows)
    table["edges"] = table["connections"]
    driver = np.log(table["connections"]) / np.log(5000) if signal == "size" else table["density"]
    table["val_accuracy"] = 0.5 + 0.4 * driver + rng.normal(0, 0.02, rows)
    table["test_accuracy"] = table["val_accuracy"] + rng.normal(0, 0.02, rows)
    table["run"] = np.array([f"run{i % runs}" for i in range(rows)], dtype=object)
    table["generation"] = np.arange(rows, dtype=float) // (rows // 6)
    return table


KILLER = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    from helpers import tiny_space
    from structsearch.search.engine import Search
    from structsearch.search.fake import StructureScoreExecutor

    class Killed(StructureScoreExecutor):
        seen = 0
        def run(self, jobs):
            for result in super().run(jobs):
                Killed.seen += 1
                if Killed.seen == {after}:
                    os.kill(os.getpid(), signal.SIGKILL)  # kill -9, in the middle of a generation
                yield result

    Search.start(tiny_space(**{changes!r}), {run!r}, Killed({init_noise!r})).run()
""")


def kill_9_search(run_dir, after: int, changes: dict, init_noise: float = 0.0) -> None:
    """Run a search of ``tiny_space(**changes)`` on the fake evaluator in a subprocess that kills itself
    with SIGKILL once ``after`` results have come in."""
    script = KILLER.format(tests=os.path.dirname(__file__), after=after, changes=changes, run=str(run_dir),
                           init_noise=init_noise)
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()
