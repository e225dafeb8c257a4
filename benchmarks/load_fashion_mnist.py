"""Time to load full Fashion-MNIST (60,000 + 10,000 images) with checksum verification.

Target: under 3 s.  Prints JSON on the last line with ``load_seconds``.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, parser  # noqa: E402

from structsearch.tasks import load_task  # noqa: E402


def main():
    args = parser(__doc__).parse_args()
    load_task("digits")  # import scikit-learn and torch paths outside the timing
    times = []
    for _ in range(3):
        start = time.perf_counter()
        task = load_task("fashion-mnist", data_dir=args.data_dir, download=False)
        times.append(time.perf_counter() - start)
    print(task.describe())
    emit({"load_seconds": round(min(times), 3), "load_seconds_all": [round(t, 3) for t in times],
          "rows": len(task.train) + len(task.validation) + len(task.test)})


if __name__ == "__main__":
    main()
