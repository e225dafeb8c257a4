"""How long `structsearch report` takes, and how large its HTML is, for runs of a given size.

Makes (or reuses) real evolve runs on digits-small with one training epoch per candidate and
a budget of N trained candidates, then runs ``structsearch report`` on each ``--repeats`` times,
as a user does (a new process each time: interpreter start and imports included), and takes the
median.  Targets (issue 23): ≤ 10 s for a 400-candidate run on 2 cores, ≤ 5 MB of HTML for a
2,000-candidate run.

    python benchmarks/report_speed.py --candidates 400 2000
    python benchmarks/report_speed.py --run runs/my-search          # an existing run
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, parser  # noqa: E402


def make_run(folder: Path, candidates: int) -> Path:
    from structsearch.commands import main

    name = f"digits-{candidates}"
    if not (folder / name / "run.db").exists():
        code = main(["evolve", "--runs", str(folder), "--name", name, "--quiet", "--no-report", "--epochs", "1",
                     "--max-candidates", str(candidates), "--generations", "100000", "--set", "budget.max_epochs=0",
                     "--set", "genotype.nodes=[8, 24]", "--set", "genotype.erdos-renyi.width=[8, 24]"])
        if code != 0:
            raise SystemExit(f"the {candidates}-candidate search failed")
    return folder / name


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--candidates", type=int, nargs="+", default=[400], help="sizes of the runs to make")
    p.add_argument("--run", nargs="*", default=[], help="existing run directories to report instead")
    p.add_argument("--keep", help="make the runs in this folder (kept) instead of a temporary one")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    import subprocess

    from structsearch.store import RunStore

    figures = {"runs": []}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.keep or scratch)
        runs = [Path(r) for r in args.run] or [make_run(folder, n) for n in args.candidates]
        for run in runs:
            with RunStore.open(run) as store:
                count = store.count()
            seconds = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "structsearch", "report", str(run), "--out",
                                str(Path(scratch) / "out")], check=True, stdout=subprocess.DEVNULL)
                seconds.append(time.perf_counter() - started)
            path = Path(scratch) / "out" / "report.html"
            entry = {"run": str(run), "candidates": count, "seconds": [round(s, 2) for s in seconds],
                     "median_seconds": round(statistics.median(seconds), 2),
                     "html_mb": round(path.stat().st_size / 1e6, 3)}
            print(entry, file=sys.stderr)
            figures["runs"].append(entry)
    emit(figures)


if __name__ == "__main__":
    main()
