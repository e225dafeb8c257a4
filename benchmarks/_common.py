"""Helpers shared by the benchmarks: data directory option, timing, JSON output, records.

Every benchmark's JSON carries its ``conditions``: the load average when it started (this module is
imported first) and when it ended, the CPU, the cores, the thread settings in force and the
instruction set of the compiled kernels.  Ratios of two
timings are measured interleaved (A, B, A, B, …; :func:`interleaved`), so that a change of load
moves both sides.

Every benchmark takes ``--record PATH``: its figures are then also written as a provenance record
(:mod:`structsearch.provenance`: the command, commit, date, machine and conditions beside the
figures), which is how a figure reaches the documentation (``docs/results/data/``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from structsearch.nn import kernels
from structsearch.provenance import describe_machine, machine, make_record, write_record
from structsearch.threads import ThreadGovernor, settings

LOAD_AT_START = os.getloadavg()
DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


class _Parser(argparse.ArgumentParser):
    """Remembers ``--record`` for :func:`emit`."""

    def parse_args(self, *args, **kwargs):
        namespace = super().parse_args(*args, **kwargs)
        _RECORD["path"] = namespace.record
        return namespace


_RECORD: dict = {"path": None}


def parser(description: str) -> argparse.ArgumentParser:
    p = _Parser(description=description)
    p.add_argument("--record", metavar="PATH", default=None,
                   help="also write the figures as a provenance record (docs/results/data/NAME.json)")
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
    """Load averages (1, 5, 15 min) at the start and now, the CPU, the thread settings and, where the
    compiled kernels were loaded, the instruction set they ran."""
    loaded = kernels.compiled.cache_info().currsize > 0  # never build them just to say so
    return {"load_start": [round(x, 2) for x in LOAD_AT_START],
            "load_end": [round(x, 2) for x in os.getloadavg()], "cpu": describe_machine(machine()),
            **({"kernels": kernels.isa() or "torch"} if loaded else {}), **settings()}


def emit(figures: dict) -> None:
    """Print the figures, with the conditions they were measured in, as JSON on the last line (and
    write them as a record where ``--record`` asked for one)."""
    measured = {**conditions(), **figures.get("conditions", {})}
    if _RECORD["path"]:
        lines = (sys.modules["__main__"].__doc__ or "").strip().splitlines()
        body = {key: value for key, value in figures.items() if key not in ("conditions", "headline")}
        extra = {"headline": figures["headline"]} if "headline" in figures else {}
        write_record(_RECORD["path"], make_record(lines[0] if lines else Path(sys.argv[0]).stem, body, measured,
                                                  **extra))
    print(json.dumps({**{k: v for k, v in figures.items() if k != "headline"}, "conditions": measured}))
