"""Why a wide random sparse layer costs more per connection than a narrow one.

The kernels of one SparseLinear layer (ε = 20, batch 40 as in scale.py), timed per connection:
3000 × 3000 with random (Erdős–Rényi) connections, --hidden × --hidden with random connections,
and --hidden × --hidden with as many connections per neuron drawn inside a window of 2,000
neighbouring source neurons (banded: the rows each connection reads are close together).
At 3000 wide everything the kernels touch fits in the caches.  At 350,000 wide a random
connection reads a random row of a 56 MB matrix (160 bytes at batch 40), and the banded layer shows
what is left when that access is local: the structure and values streamed from memory.
Each connection reads one such row in the forward pass (activations) and one in the backward pass
(gradients).  The bound is a plain gather of as many random rows of the same matrix, summed, with
prefetch distances 0 to 48 (the best counts), timed in turn with the kernels.
``random_read_bandwidth_share`` = the kernels' random-row bytes per second (forward and backward
together) ÷ that bound, at --hidden wide.  Target: ≥ 0.6.  (The copy bandwidth is printed for
reference; it is not the bound: streaming is far faster than random reads.)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import best_of, emit, interleaved, parser, setup_threads  # noqa: E402

from structsearch.graphs.density import erdos_renyi_density, sample_positions  # noqa: E402
from structsearch.nn import kernels  # noqa: E402
from structsearch.nn.sparse_linear import SparseLinear  # noqa: E402

WINDOW = 2000
READ_AHEAD = (0, 8, 16, 24, 32, 48)  # prefetch distances of the gather bound; the best counts


def layer(n: int, banded: bool, rng: np.random.Generator) -> SparseLinear:
    k = int(round(erdos_renyi_density(n, n, 20) * n * n))
    if not banded:
        return SparseLinear(n, n, *sample_positions(n, n, k, rng))
    per = k // n
    rows = np.repeat(np.arange(n), per)
    offsets = np.concatenate([rng.choice(WINDOW, per, replace=False) for _ in range(n)])
    return SparseLinear(n, n, rows, (rows + offsets) % n)


def per_connection(sparse: SparseLinear, batch: int, repeats: int, bound: bool = True) -> dict:
    """Kernel time per connection, the bytes per second of its random row reads, and the same for
    a plain gather of as many random rows of the same matrix (the machine's bound), interleaved."""
    module = kernels.compiled()
    x = torch.randn(sparse.in_features, batch)
    g = torch.randn(sparse.out_features, batch)
    values, bias = sparse.values.detach(), sparse.bias.detach()
    crow, col, perm, t_crow, t_col = sparse.structure()
    rows = torch.as_tensor(np.random.default_rng(1).integers(0, sparse.in_features, sparse.nnz), dtype=torch.int32)
    gathers = {f"gather_{ahead}": (lambda ahead=ahead: module.random_read(x, rows, ahead))
               for ahead in (READ_AHEAD if bound else ())}
    times = interleaved({"forward": lambda: module.spmm(crow, col, values, perm, bias, x),
                         "backward": lambda: module.backward(t_crow, t_col, values, g, x, True, True),
                         **gathers}, repeats)
    row_bytes = batch * 4  # each connection reads one row of the activations (forward) or gradients
    figures = {"connections": sparse.nnz}
    for pass_ in ("forward", "backward"):
        figures[f"{pass_}_ns"] = round(times[pass_] / sparse.nnz * 1e9, 2)
        figures[f"{pass_}_read_gb_per_s"] = round(sparse.nnz * row_bytes / times[pass_] / 1e9, 2)
    if not bound:  # banded reads are not random: no random-read bound applies
        return figures
    bound = max(sparse.nnz * row_bytes / times[name] for name in gathers)
    figures["random_read_bound_gb_per_s"] = round(bound / 1e9, 2)
    achieved = 2 * sparse.nnz * row_bytes / (times["forward"] + times["backward"])
    figures["random_read_bandwidth_share"] = round(achieved / bound, 3)
    return figures


def copy_bandwidth() -> float:
    a = torch.randn(1 << 27)  # 512 MB
    b = torch.empty_like(a)
    return 2 * a.numel() * 4 / best_of(lambda: b.copy_(a), 5) / 1e9


def main():
    p = parser(__doc__)
    p.add_argument("--hidden", type=int, default=350_000)
    p.add_argument("--batch", type=int, default=40)
    args = p.parse_args()
    setup_threads(args.threads)
    if kernels.compiled() is None:
        sys.exit("layer_locality.py: needs the compiled kernels")
    figures = {"threads": torch.get_num_threads(), "batch": args.batch}
    for name, n, banded, repeats in (("random_3000", 3000, False, 50), ("random_wide", args.hidden, False, 5),
                                     ("banded_wide", args.hidden, True, 5)):
        figures[name] = per_connection(layer(n, banded, np.random.default_rng(0)), args.batch, repeats, not banded)
        print(name, figures[name], flush=True)
    small = figures["random_3000"]
    for name in ("random_wide", "banded_wide"):
        figures[f"{name}_over_3000"] = {
            pass_: round(figures[name][f"{pass_}_ns"] / small[f"{pass_}_ns"], 2) for pass_ in ("forward", "backward")
        }
    figures["copy_gb_per_s"] = round(copy_bandwidth(), 1)
    figures["random_read_bandwidth_share"] = figures["random_wide"]["random_read_bandwidth_share"]
    figures["target_met"] = figures["random_read_bandwidth_share"] >= 0.6
    emit(figures)


if __name__ == "__main__":
    main()
