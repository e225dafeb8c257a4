"""The original SET setting end to end: `structsearch experiment set-mnist` (Mocanu et al. 2018).

MNIST, 784-1000-1000-1000-10, ε = 20, ζ = 0.3, SReLU, SGD with momentum 0.9, lr 0.01, weight decay
2e-4, batch 100, dropout 0.3, for as many epochs as fit --hours (default 2) or --epochs (default the
paper's 1,000), whichever ends first.  Prints the epochs run, the mean seconds per epoch of training,
evaluation (validation and test) and rewiring, the peak memory and the test-accuracy curve beside
the paper's 98.74 %.  Needs MNIST under --data-dir.
"""

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, parser, setup_threads  # noqa: E402

from structsearch.experiments import SetMnistConfig, run_set_mnist  # noqa: E402


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, default=2.0)
    p.add_argument("--epochs", type=int, default=1000)
    args = p.parse_args()
    setup_threads(args.threads)
    with tempfile.TemporaryDirectory() as runs:
        summary = run_set_mnist(SetMnistConfig(hours=args.hours, epochs=args.epochs, data_dir=args.data_dir,
                                               runs=runs, name="set-mnist"))
    figures = {key: value for key, value in summary.items() if key != "config"}
    curve = figures["test_accuracy_curve"]
    figures["test_accuracy_curve"] = [round(x, 4) for x in curve]
    figures["last_test_accuracy"] = round(curve[-1], 4)
    figures["best_test_accuracy"] = round(max(curve), 4)
    emit({**figures, "headline": [{
        "what": "Mocanu et al.'s SET-MLP on MNIST as `structsearch experiment set-mnist` runs it on 2 cores",
        "value": f"{figures['epochs']} epochs: test accuracy {figures['last_test_accuracy']} (the paper: "
                 f"{figures['paper_test_accuracy']}), {figures['train_seconds_per_epoch']} s training per epoch"}]})


if __name__ == "__main__":
    main()
