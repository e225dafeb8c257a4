"""The README's first command as a user meets it: `structsearch evolve --baseline random` on digits-small.

Runs the command in a fresh temporary runs folder (a new process, as a user starts it), times it,
and reads both runs back with `structsearch report --json`: trained candidates, the training
compute spent, the best validation accuracy and its pick's test accuracy, for the search (the
pooled gate) and for random search at the same compute. One seed: an illustration of the command,
not a comparison (``benchmarks/search_efficiency.py`` compares searches).
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, parser  # noqa: E402


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        command = ["structsearch", "evolve", "--baseline", "random", "--runs", folder, "--name", "default",
                   "--seed", str(args.seed), "--quiet"]
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        report = subprocess.run(["structsearch", "report", f"{folder}/default", f"{folder}/default-random",
                                 "--out", f"{folder}/report", "--json"], check=True, capture_output=True, text=True)
        rows = json.loads(report.stdout.strip().splitlines()[-1])
    runs = {row["method"]: {"trained": row["trained"], "compute_macs": row["compute_macs"],
                            "compute_gmacs": round(row["compute_macs"] / 1e9, 2),
                            "best_val": round(row["best_val"], 4), "best_test": round(row["best_test"], 4)}
            for row in rows}
    search, random = (runs[name] for name in sorted(runs, key=lambda name: name == "random"))
    emit({"command": " ".join(command[:4]) + f" --seed {args.seed}", "seconds": round(seconds, 1), "runs": runs,
          "headline": [{"what": "default search (`structsearch evolve --baseline random`, the pooled gate), pick's "
                                "test accuracy: search vs random search at the same training compute, one seed",
                        "value": f"{search['best_test']:.4f} vs {random['best_test']:.4f} at "
                                 f"{search['compute_gmacs']:.2f} GMAC in {seconds:.0f} s"}]})


if __name__ == "__main__":
    main()
