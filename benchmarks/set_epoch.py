"""One training epoch of the SET-motif study's setup (Su 2022), phase by phase.

784-3000-3000-3000-10, ε = 20, ζ = 0.3, batch 40, SGD lr 0.05, momentum 0.9, weight decay 2e-4,
5,000 Fashion-MNIST training images (random data of the same shape if the files are absent).
Runs SET, SET-motif and no evolution on SparseLinear, and SET on MaskedLinear (dense weights ×
mask, with SET done on the dense arrays as in the reference implementations).
Each kind runs --repeats epochs, in turn (set, set-motif, none, masked, set, …), and each figure is
the median, so that a change of load moves every side of a ratio.
Targets: the sparse SET epoch ≥ 20× faster than the masked one; evolution ≤ 10 % of the epoch.
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import emit, parser, setup_threads  # noqa: E402
from torch import nn  # noqa: E402

from structsearch.errors import DataError  # noqa: E402
from structsearch.nn.mlp import SparseMLP  # noqa: E402
from structsearch.nn.sparse_linear import MaskedLinear  # noqa: E402
from structsearch.sparsity.rewiring import SET, SETMotif  # noqa: E402
from structsearch.tasks import Split, Task, load_task  # noqa: E402
from structsearch.train import TrainConfig, Trainer  # noqa: E402
from structsearch.train_callbacks import Callback  # noqa: E402


def fashion_or_random(data_dir, train_size):
    try:
        return load_task("fashion-mnist", data_dir=data_dir, train_size=train_size, test_size=1000,
                         download=False), "fashion-mnist"
    except DataError:
        g = torch.Generator().manual_seed(0)

        def split(n):
            return Split(torch.rand(n, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g))

        n_val = train_size // 10
        return Task("random", split(train_size - n_val), split(n_val), split(1000), (28, 28), 10), "random"


class MaskedMLP(nn.Module):
    """Reference: the same connectivity as dense weights × masks."""

    def __init__(self, sparse: SparseMLP):
        super().__init__()
        self.layers = nn.ModuleList(MaskedLinear.from_sparse(layer) for layer in sparse.layers)

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = torch.relu(x)
        return x


class MaskedSET(Callback):
    """SET on dense arrays: the O(n·m) way it is done without sparse storage."""

    def __init__(self, drop_fraction, seed=0):
        self.drop_fraction = drop_fraction
        self.rng = np.random.default_rng(seed)

    @torch.no_grad()
    def on_epoch_end(self, trainer, epoch):
        with trainer.timer("evolution"):
            for layer in trainer.model.layers:
                w, mask = layer.weight, layer.mask
                live = mask.bool()
                values = w[live]
                pos, neg = values[values >= 0], values[values < 0]
                small_pos = torch.quantile(pos, self.drop_fraction) if pos.numel() else 0
                large_neg = torch.quantile(neg, 1 - self.drop_fraction) if neg.numel() else 0
                drop = live & (((w >= 0) & (w <= small_pos)) | ((w < 0) & (w >= large_neg)))
                n_drop = int(drop.sum())
                mask[drop] = 0
                w[drop] = 0
                empty = torch.nonzero(mask.reshape(-1) == 0).squeeze(1)
                grow = empty[torch.as_tensor(self.rng.choice(empty.numel(), n_drop, replace=False))]
                mask.view(-1)[grow] = 1
                state = trainer.optimizer.state.get(w)
                if state and "momentum_buffer" in state:
                    state["momentum_buffer"].mul_(mask)


def run(model, task, callback, config):
    trainer = Trainer(model, task, config, [callback])
    # one epoch of training, then the topology update that ends it (the trainer skips the update
    # after a run's final epoch, so ask for two epochs and time the first one's phases)
    trainer.config.epochs = 2

    class StopAfterFirst(Callback):
        def on_epoch_end(self, trainer, epoch):
            from structsearch.train_callbacks import StopTraining

            raise StopTraining("benchmark: one epoch")

    trainer.callbacks.append(StopAfterFirst())
    trainer.fit()
    return {phase: round(seconds, 3) for phase, seconds in trainer.phase_seconds.items()}


def one_epoch(name, sizes, task, config):
    """The phases of one epoch of ``name`` (set, set-motif, none, masked-set) on a fresh model."""
    motif = 2 if name == "set-motif" else 1
    model = SparseMLP.from_layer_sizes(sizes, seed=0, epsilon=20, motif_size=motif)
    callback = {
        "set": SET(0.3, seed=0),
        "set-motif": SETMotif(0.3, motif_size=2, evolve_output_layer=False, seed=0),
        "none": None,
        "masked-set": MaskedSET(0.3),
    }[name]
    if name == "masked-set":
        model = MaskedMLP(model)
    start = time.perf_counter()
    phases = run(model, task, callback, config)
    phases["epoch"] = phases.get("train", 0) + phases.get("evolution", 0)
    phases["wall"] = time.perf_counter() - start
    return phases


def main():
    p = parser(__doc__)
    p.add_argument("--hidden", default="3000-3000-3000")
    p.add_argument("--train-size", type=int, default=5000)
    p.add_argument("--repeats", type=int, default=3, help="epochs of each kind, timed in turn (default 3)")
    p.add_argument("--skip-masked", action="store_true")
    args = p.parse_args()
    setup_threads(args.threads)
    task, data = fashion_or_random(args.data_dir, args.train_size)
    sizes = [784, *map(int, args.hidden.split("-")), 10]
    config = TrainConfig(epochs=2, batch_size=40, lr=0.05, momentum=0.9, weight_decay=2e-4, seed=0)
    names = ["set", "set-motif", "none"] + ([] if args.skip_masked else ["masked-set"])
    connections = sum(SparseMLP.from_layer_sizes(sizes, seed=0, epsilon=20).connections_per_layer())
    figures = {"data": data, "architecture": "-".join(map(str, sizes)), "threads": torch.get_num_threads(),
               "connections": connections, "repeats": args.repeats}
    # interleaved: set, set-motif, none, masked, set, …; every figure is the median of its epochs
    epochs = {name: [] for name in names}
    for _ in range(args.repeats):
        for name in names:
            epochs[name].append(one_epoch(name, sizes, task, config))
            print(name, {k: round(v, 3) for k, v in epochs[name][-1].items()}, flush=True)
    for name, runs in epochs.items():
        figures[name] = {phase: round(statistics.median(r.get(phase, 0) for r in runs), 3) for phase in runs[0]}
    figures["evolution_share"] = round(statistics.median(r.get("evolution", 0) / r["epoch"] for r in epochs["set"]), 4)
    if "masked-set" in figures:
        figures["masked_over_sparse_epoch"] = round(figures["masked-set"]["epoch"] / figures["set"]["epoch"], 2)
    emit({**figures, "headline": headline(figures)})


def headline(figures: dict) -> list[dict]:
    """The README's line: the SET epoch and how many times the masked (dense × mask) one it is."""
    if "masked_over_sparse_epoch" not in figures:
        return []
    return [{"what": f"one SET epoch of Su 2022's {figures['architecture']} ({figures['connections']:,} "
                     "connections, 5,000 images): truly sparse vs dense × mask",
             "value": f"{figures['set']['epoch']} s vs {figures['masked-set']['epoch']} s "
                      f"({figures['masked_over_sparse_epoch']}× faster)"}]


if __name__ == "__main__":
    main()
