"""Helpers shared by the benchmarks: data directory option, timing, JSON output."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

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
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def emit(figures: dict) -> None:
    """Print the figures as JSON on the last line."""
    print(json.dumps(figures))
