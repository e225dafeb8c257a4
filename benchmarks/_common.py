"""Helpers shared by the benchmarks: data directory option, timing, JSON output.

Every benchmark's JSON carries its ``conditions``: the load average when it started (this module is
imported first) and when it ended, the cores, and the thread settings in force.  Ratios of two
timings are measured interleaved (A, B, A, B, …; :func:`interleaved`), so that a change of load
moves both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from structsearch.threads import ThreadGovernor, settings

LOAD_AT_START = os.getloadavg()
DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data-dir", default=os.environ.get("STRUCTSEARCH_DATA") or str(DEFAULT_SHARED),
                   help="datasets folder (default $STRUCTSEARCH_DATA or ../shared/datasets)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: cores)")
    return p


def setup_threads(threads: int) -> None:
    torch.set_num_threads(threads)


def best_of(fn, repeats: int = 5, warmup: int = 1) -> float:
    """Minimum wall time of ``fn()`` over ``repeats`` runs, in seconds."""
    return min(interleaved({"fn": fn}, repeats, warmup, reduce=min).values())


def interleaved(functions: dict, repeats: int = 5, warmup: int = 1, reduce=statistics.median) -> dict:
    """Median (or ``reduce``) wall time of each of ``functions`` (name → callable), timed in turn A,
    B, A, B, …  Threads follow the free cores between calls, as in training (ThreadGovernor)."""
    with ThreadGovernor() as governor:
        for _ in range(warmup):
            for fn in functions.values():
                fn()
        times = {name: [] for name in functions}
        for _ in range(repeats):
            for name, fn in functions.items():
                governor.poll()
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    return {name: reduce(values) for name, values in times.items()}


def conditions() -> dict:
    """Load averages (1, 5, 15 min) at the start and now, and the thread settings."""
    return {"load_start": [round(x, 2) for x in LOAD_AT_START],
            "load_end": [round(x, 2) for x in os.getloadavg()], **settings()}


def emit(figures: dict) -> None:
    """Print the figures, with the conditions they were measured in, as JSON on the last line."""
    print(json.dumps({**figures, "conditions": {**conditions(), **figures.get("conditions", {})}}))
