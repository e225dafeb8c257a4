"""Randomly wired CNNs on full Fashion-MNIST: decoding overhead, a 5-epoch training, a search's best.

1. **Overhead.** One training epoch (timed over ``--steps`` batches, the rest extrapolated, A and B
   interleaved) of a Watts–Strogatz-wired CNN (``--nodes`` vertices per stage, k = 4, p = 0.75,
   ``--widths`` channels) decoded from its genotype, against a plain ``torch.nn`` CNN with the same
   parameter count and the same convolutions (stem, the same number of ReLU–conv3×3–BN blocks per
   stage in a chain, the same reductions and head): seconds, images/s, the wired one's overhead.
   Also against the same wired network as straight-line code (a ``torch.fx`` trace of the decoded
   module: what one would write by hand for this one graph), which separates what decoding costs
   (walking the genotype's graph in Python) from what the wiring costs (the weighted sums).
2. **Training.** The wired CNN trained ``--epochs`` epochs on the 60,000 training images (10 % held
   out for validation) with Adam and the shared trainer; test accuracy of the selected epoch, wall
   time.
3. **Search** (``--search-epochs N``, optional): ``structsearch evolve fashion-mnist-randwire`` for a
   budget of N training epochs; its best candidate's validation and test accuracy.

Also: the predictor's features of five 40-odd-vertex random DAGs (the slowest, best of 5 runs each).

Targets (issue 21): overhead ≤ 10 %; ≥ 91 % test after 5 epochs in ≤ 15 minutes on 2 cores;
features ≤ 50 ms for a 40-vertex genotype.
Needs the Fashion-MNIST files (``--data-dir`` / ``$STRUCTSEARCH_DATA``).
"""

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import emit, interleaved, parser, setup_threads  # noqa: E402
from torch import nn  # noqa: E402

from structsearch.graphs.cnn import parameter_count  # noqa: E402
from structsearch.graphs.cnn_features import cnn_features  # noqa: E402
from structsearch.graphs.cnn_priors import random_dag, randwire  # noqa: E402
from structsearch.nn.conv import WiredCNN, _conv_bn  # noqa: E402
from structsearch.tasks import load_task  # noqa: E402
from structsearch.train import TrainConfig, train  # noqa: E402


def plain_cnn(genotype) -> nn.Module:
    """The same convolutions as the wired CNN, chained: no aggregation, no graph."""
    widths = [stage.width for stage in genotype.stages]
    layers = [_conv_bn(genotype.in_channels, widths[0], 3, relu=False)]
    for i, stage in enumerate(genotype.stages):
        if i:
            layers.append(_conv_bn(widths[i - 1], widths[i], 3, stride=2))
        layers += [_conv_bn(widths[i], widths[i], 3) for _ in range(stage.n_nodes - 1)]

    class Plain(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(*layers)
            self.head = nn.Linear(widths[-1], genotype.n_classes)

        def forward(self, x):
            x = self.body(x.reshape(x.shape[0], genotype.in_channels, 28, 28))
            return self.head(torch.relu(x).mean(dim=(2, 3)))

    return Plain()


def epoch_seconds(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, steps: int) -> float:
    """Seconds of ``steps`` training batches (forward, backward, Adam step)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    started = time.perf_counter()
    for i in range(steps):
        xb, yb = x[i * batch : (i + 1) * batch], y[i * batch : (i + 1) * batch]
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()
    return time.perf_counter() - started


def _seconds(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def search_best(budget: int, data_dir: str, seed: int) -> dict:
    from structsearch.search.engine import Search
    from structsearch.search.executors import InProcessExecutor
    from structsearch.search.space import load_space_with_changes

    space = load_space_with_changes("fashion-mnist-randwire", [("budget.max_epochs", budget), ("seed", seed),
                                                               ("evolution.generations", 10_000)])
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        search = Search.start(space, Path(folder) / "run", InProcessExecutor(), data_dir)
        search.run()
        trained = [c for c in search.store.candidates() if c.status in ("ok", "stopped-early")]
        search.store.close()
    best = max(trained, key=lambda c: c.metrics["val_accuracy"])
    return {"budget_epochs": budget, "trained": len(trained), "minutes": round((time.perf_counter() - started) / 60, 1),
            "best_val": round(best.metrics["val_accuracy"], 4), "best_test": round(best.metrics["test_accuracy"], 4),
            "best_structure": best.genotype.summary()}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=8, help="vertices per stage")
    p.add_argument("--widths", default="16,32,64", help="channels per stage")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--lr-schedule", default="cosine", help="constant | cosine")
    p.add_argument("--steps", type=int, default=40, help="batches timed per repeat for the overhead")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--search-epochs", type=int, default=0, help="also run the randwire search for this budget")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-training", action="store_true", help="only the overhead")
    args = p.parse_args()
    setup_threads(args.threads)
    widths = [int(w) for w in args.widths.split(",")]
    genotype = randwire([args.nodes] * len(widths), widths, np.random.default_rng(args.seed), "watts-strogatz",
                        k=4, p=0.75)
    task = load_task("fashion-mnist", data_dir=args.data_dir, download=False, validation_fraction=0.1,
                     seed=args.seed)
    torch.manual_seed(args.seed)
    wired, plain = WiredCNN(genotype, (28, 28)), plain_cnn(genotype)
    traced = torch.fx.symbolic_trace(WiredCNN(genotype, (28, 28)))
    x, y = task.train.x, task.train.y
    steps = min(args.steps, len(task.train) // args.batch_size)
    times = interleaved({"wired": lambda: epoch_seconds(wired, x, y, args.batch_size, steps),
                         "plain": lambda: epoch_seconds(plain, x, y, args.batch_size, steps),
                         "traced": lambda: epoch_seconds(traced, x, y, args.batch_size, steps)}, args.repeats, 1)
    scale = len(task.train) / (steps * args.batch_size)
    figures = {
        "genotype": genotype.summary(), "parameters_wired": parameter_count(genotype),
        "parameters_plain": sum(q.numel() for q in plain.parameters()),
        "epoch_seconds_wired": round(times["wired"] * scale, 1),
        "epoch_seconds_plain": round(times["plain"] * scale, 1),
        "images_per_second_wired": round(steps * args.batch_size / times["wired"], 1),
        "images_per_second_plain": round(steps * args.batch_size / times["plain"], 1),
        "epoch_seconds_traced": round(times["traced"] * scale, 1),
        "decoding_overhead": round(times["wired"] / times["plain"] - 1, 4),
        # the same network as straight-line code: the Python walk over the genotype's graph alone
        "overhead_over_straight_line_code": round(times["wired"] / times["traced"] - 1, 4),
    }
    # the predictor's features of 40-vertex genotypes (Stier's random DAGs), best of 5 each
    dags = [random_dag((12, 12), np.random.default_rng(seed), width=(3, 4)) for seed in range(5)]
    figures["features_vertices"] = [d.n_nodes for d in dags]
    figures["features_ms"] = round(1000 * max(min(_seconds(lambda d=d: cnn_features(d)) for _ in range(5))
                                              for d in dags), 2)
    print({k: v for k, v in figures.items()}, file=sys.stderr, flush=True)
    if not args.skip_training:
        model = WiredCNN(genotype, (28, 28))
        started = time.perf_counter()
        result = train(model, task, TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer="adam",
                                                lr=args.lr, lr_schedule=args.lr_schedule, seed=args.seed))
        figures.update({"train_epochs": args.epochs, "lr": args.lr, "lr_schedule": args.lr_schedule,
                        "train_minutes": round((time.perf_counter() - started) / 60, 2),
                        "test_accuracy": round(result.test_accuracy, 4), "val_accuracy": round(result.val_accuracy, 4),
                        "selected_epoch": result.selected_epoch,
                        "val_curve": [round(v, 4) for v in result.curves["val_accuracy"]]})
        print(f"trained: test {result.test_accuracy:.4f} in {figures['train_minutes']} min", file=sys.stderr)
    if args.search_epochs:
        figures["search"] = search_best(args.search_epochs, args.data_dir, args.seed)
    figures["targets_met"] = (figures["decoding_overhead"] <= 0.10 and figures["features_ms"] <= 50
                              and (args.skip_training or (figures["test_accuracy"] >= 0.91
                                                          and figures["train_minutes"] <= 15)))
    figures["overhead_repeats"] = args.repeats
    figures["statistic"] = f"median of {args.repeats} interleaved repeats of {steps} batches"
    emit(figures)


if __name__ == "__main__":
    main()
