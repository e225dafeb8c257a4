"""One Optimal Brain Damage pruning step on MNIST 784-300-100-10 (fully connected, 266,200 weights).

The step estimates the Hessian diagonal from 10,000 training images (Monte-Carlo Fisher: one
backward pass per batch of 32 with labels drawn from the model), scores every weight by
½·h·w² and removes the lowest 10 %.  The model is first trained one epoch so the scores are those
of a trained network.  MNIST comes from --data-dir / $STRUCTSEARCH_DATA (random data of the same
shape if the files are absent).  Target: ≤ 5 s per step.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import emit, parser, setup_threads  # noqa: E402

from structsearch.errors import DataError  # noqa: E402
from structsearch.nn.mlp import SparseMLP  # noqa: E402
from structsearch.prune_run import context_for  # noqa: E402
from structsearch.sparsity.pruning import live_count, make_method, prune  # noqa: E402
from structsearch.tasks import Split, Task, load_task  # noqa: E402
from structsearch.train import TrainConfig, train  # noqa: E402


def mnist_or_random(data_dir):
    try:
        return load_task("mnist", data_dir=data_dir, download=False), "mnist"
    except DataError:
        g = torch.Generator().manual_seed(0)

        def split(n):
            return Split(torch.rand(n, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g))

        return Task("random", split(54_000), split(6_000), split(10_000), (28, 28), 10), "random"


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=10_000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    setup_threads(args.threads)
    task, source = mnist_or_random(args.data_dir)
    model = SparseMLP.from_layer_sizes([784, 300, 100, 10], np.random.default_rng(0), "uniform", 0.0, 1.0)
    train(model, task, TrainConfig(epochs=1, lr=0.05, batch_size=64))
    total = live_count(model)
    times = []
    for repeat in range(args.repeats):
        method = make_method("obd", seed=repeat)
        context = context_for(model, task, args.samples, args.batch_size)
        started = time.perf_counter()
        removed = prune(model, method, int(0.1 * live_count(model)), context)
        times.append(time.perf_counter() - started)
        print(f"step {repeat + 1}: removed {removed:,} of {live_count(model) + removed:,} in {times[-1]:.2f} s",
              file=sys.stderr)
    emit({"data": source, "weights": total, "samples": args.samples, "batch_size": args.batch_size,
          "threads": torch.get_num_threads(), "obd_step_seconds": round(float(np.median(times)), 3),
          "obd_step_seconds_all": [round(t, 3) for t in times]})


if __name__ == "__main__":
    main()
