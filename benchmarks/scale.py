"""A SET-MLP with over a million hidden neurons trains one epoch on a 2-core, 24 GB machine.

Default 784-350000-350000-350000-10, ε = 20 (≈ 38.5 million connections), 10,000 Fashion-MNIST
training images (random data of the same shape if the files are absent), batch 40, SGD with
momentum, SET with ζ = 0.3 at the end of the epoch.  The same epoch of 784-3000-3000-3000-10 on
the same images gives the reference cost per connection.  After the wide epoch, the kernels of its
second layer (--hidden × --hidden) are timed against the machine's random-read bound as in
layer_locality.py: at that width the cost per connection is set by random row reads from a 56 MB
activation matrix, so the figure that says whether the kernels are as fast as the machine allows is
``random_read_bandwidth_share`` (achieved ÷ bound), not the cost per connection against a
3000-wide run, whose data fit in the caches (printed, no longer a target).
Targets: peak memory < 8 GB; ``random_read_bandwidth_share`` ≥ 0.6.
"""

import gc
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import torch  # noqa: E402
from _common import emit, parser, setup_threads  # noqa: E402
from layer_locality import per_connection  # noqa: E402
from set_epoch import fashion_or_random, run  # noqa: E402

from structsearch.nn.mlp import SparseMLP  # noqa: E402
from structsearch.sparsity.rewiring import SET  # noqa: E402
from structsearch.train import TrainConfig  # noqa: E402


def one_epoch(sizes, task, batch_size, probe=False):
    start = time.perf_counter()
    model = SparseMLP.from_layer_sizes(sizes, seed=0, epsilon=20)
    build = time.perf_counter() - start
    connections = sum(model.connections_per_layer())
    config = TrainConfig(epochs=2, batch_size=batch_size, lr=0.05, momentum=0.9, weight_decay=2e-4,
                         eval_batch_size=256)
    phases = run(model, task, SET(0.3, seed=0), config)
    epoch = phases.get("train", 0) + phases.get("evolution", 0)
    reads = per_connection(model.layers[1], batch_size, repeats=3) if probe else {}
    del model
    gc.collect()
    return {"connections": connections, "build_seconds": round(build, 2), "epoch_seconds": round(epoch, 2),
            **{f"{k}_seconds": v for k, v in phases.items()}, **({"reads": reads} if probe else {})}


def main():
    p = parser(__doc__)
    p.add_argument("--hidden", type=int, default=350_000, help="width of each of the 3 hidden layers")
    p.add_argument("--train-size", type=int, default=10_000)
    p.add_argument("--batch-size", type=int, default=40)
    args = p.parse_args()
    setup_threads(args.threads)
    task, data = fashion_or_random(args.data_dir, args.train_size)
    samples = len(task.train)
    big = one_epoch([784, args.hidden, args.hidden, args.hidden, 10], task, args.batch_size, probe=True)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print("big", big, flush=True)
    small = one_epoch([784, 3000, 3000, 3000, 10], task, args.batch_size)
    print("small", small, flush=True)
    per_connection_big = big["epoch_seconds"] / big["connections"]
    per_connection_small = small["epoch_seconds"] / small["connections"]
    emit({
        "data": data, "threads": torch.get_num_threads(), "train_samples": samples,
        "hidden_neurons": 3 * args.hidden, "connections": big["connections"],
        "epoch_seconds": big["epoch_seconds"], "train_seconds": big.get("train_seconds"),
        "evolution_seconds": big.get("evolution_seconds"), "build_seconds": big["build_seconds"],
        "peak_memory_gb": round(peak_gb, 2),
        "seconds_per_connection": per_connection_big,
        "small_seconds_per_connection": per_connection_small,
        "small_epoch_seconds": small["epoch_seconds"],
        "cost_per_connection_ratio": round(per_connection_big / per_connection_small, 3),
        "layer_reads": big["reads"],
        "random_read_bandwidth_share": big["reads"]["random_read_bandwidth_share"],
        "targets_met": peak_gb < 8 and big["reads"]["random_read_bandwidth_share"] >= 0.6,
    })


if __name__ == "__main__":
    main()
