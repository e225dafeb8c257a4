"""Training speed when another process shares the cores.

In one run of this script, the SET epoch of set_epoch.py (784-3000³-10, ε 20, batch 40, 5,000
Fashion-MNIST images or random data of that shape) is timed
- quiet, with the default threads (the cores);
- busy: while this script keeps one core busy with a competing process (``python -c "while True:
  pass"``, started before and stopped after each busy epoch), default threads;
- quiet with 1 thread;
- busy and quiet with the thread governor off (``STRUCTSEARCH_THREADS=fixed``): what the trainer
  did before it followed the free cores, and what following them costs on a quiet machine
  (``quiet_over_quiet_fixed``).
The five are timed in turn (quiet, busy, one thread, busy fixed, quiet fixed, quiet, …, --repeats
rounds) and each figure is a median.  The masked reference (dense weights × masks, SET on dense
arrays) runs the same five on --masked-train-size images.  Last, the default ``structsearch evolve`` (one
worker per core, 1 thread each) runs --evolve-candidates candidates quiet and busy.

Targets: for the sparse SET epoch, ``busy_over_one_thread`` ≤ 1.3, ``busy_over_quiet`` ≤ 2.5 and
``quiet_over_quiet_fixed`` ≤ 1.05.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import torch  # noqa: E402
from _common import emit, parser, setup_threads  # noqa: E402
from set_epoch import fashion_or_random, one_epoch  # noqa: E402

from structsearch.threads import ENV  # noqa: E402
from structsearch.train import TrainConfig  # noqa: E402

SIZES = [784, 3000, 3000, 3000, 10]
CONDITIONS = ("quiet", "busy", "one_thread", "busy_fixed", "quiet_fixed")


@contextmanager
def competitor(active: bool = True):
    """A CPU-bound process on one core while the block runs."""
    if not active:
        yield
        return
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # running, and seen by the governor's first look
        yield
    finally:
        process.kill()
        process.wait()


@contextmanager
def condition(name: str, threads: int):
    """Threads, governor and competitor of one condition."""
    torch.set_num_threads(1 if name == "one_thread" else threads)
    os.environ[ENV] = "fixed" if name.endswith("_fixed") else "adaptive"
    try:
        with competitor(name.startswith("busy")):
            yield
    finally:
        torch.set_num_threads(threads)
        os.environ.pop(ENV, None)


def ratios(epochs: dict) -> dict:
    quiet, busy, one = epochs["quiet"], epochs["busy"], epochs["one_thread"]
    return {"busy_over_quiet": round(busy / quiet, 2), "busy_over_one_thread": round(busy / one, 2),
            "busy_fixed_over_quiet": round(epochs["busy_fixed"] / quiet, 2),
            "quiet_over_quiet_fixed": round(quiet / epochs["quiet_fixed"], 3)}


def evolve_seconds(candidates: int, busy: bool, data_dir: str) -> float:
    with tempfile.TemporaryDirectory() as runs, competitor(busy):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "structsearch", "evolve", "--quiet", "--runs", runs,
                               "--name", "contention", "--max-candidates", str(candidates), "--data-dir", data_dir],
                              capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"contention.py: structsearch evolve failed: {done.stderr.strip().splitlines()[-1:]}")
        return time.perf_counter() - start


def main():
    p = parser(__doc__)
    p.add_argument("--train-size", type=int, default=5000)
    p.add_argument("--masked-train-size", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--evolve-candidates", type=int, default=12, help="0 skips the evolve measurement")
    args = p.parse_args()
    setup_threads(args.threads)
    threads = torch.get_num_threads()
    if threads < 2:
        sys.exit("contention.py: needs at least 2 threads (--threads) to compare with one")
    task, data = fashion_or_random(args.data_dir, args.train_size)
    masked_task, _ = fashion_or_random(args.data_dir, args.masked_train_size)
    config = TrainConfig(epochs=2, batch_size=40, lr=0.05, momentum=0.9, weight_decay=2e-4, seed=0)
    one_epoch("set", SIZES, task, config)  # warm-up: kernels loaded, caches filled
    times = {kind: {name: [] for name in CONDITIONS} for kind in ("set", "masked-set")}
    for _ in range(args.repeats):
        for name in CONDITIONS:
            for kind, on in (("set", task), ("masked-set", masked_task)):
                with condition(name, threads):
                    times[kind][name].append(one_epoch(kind, SIZES, on, config)["epoch"])
                print(kind, name, round(times[kind][name][-1], 3), flush=True)
    figures = {"data": data, "architecture": "-".join(map(str, SIZES)), "threads": threads,
               "repeats": args.repeats, "competitor": "one process: python -c 'while True: pass'"}
    for kind, label in (("set", "sparse"), ("masked-set", "masked")):
        epochs = {name: statistics.median(values) for name, values in times[kind].items()}
        figures[f"{label}_epoch_seconds"] = {name: round(value, 3) for name, value in epochs.items()}
        for key, value in ratios(epochs).items():
            figures[key if label == "sparse" else f"masked_{key}"] = value
    if args.evolve_candidates:
        quiet = evolve_seconds(args.evolve_candidates, False, args.data_dir)
        busy = evolve_seconds(args.evolve_candidates, True, args.data_dir)
        figures["evolve_default"] = {"candidates": args.evolve_candidates, "quiet_seconds": round(quiet, 1),
                                     "busy_seconds": round(busy, 1), "busy_over_quiet": round(busy / quiet, 2)}
    figures["targets_met"] = (figures["busy_over_one_thread"] <= 1.3 and figures["busy_over_quiet"] <= 2.5
                              and figures["quiet_over_quiet_fixed"] <= 1.05)
    emit({**figures, "headline": headline(figures)})


def headline(figures: dict) -> list[dict]:
    """The README's line: the SET epoch beside one busy process, against one thread on a quiet machine."""
    return [{"what": "SET epoch with one competing busy process ÷ quiet with one thread (thread governor; "
                     "target ≤ 1.3), and ÷ quiet",
             "value": f"{figures['busy_over_one_thread']} and {figures['busy_over_quiet']} "
                      f"(threads fixed: {figures['busy_fixed_over_quiet']})"}]


if __name__ == "__main__":
    main()
