"""Why a wide random sparse layer costs more per connection than a narrow one.

The kernels of one SparseLinear layer (ε = 20, batch 40 as in scale.py), timed per connection:
3000 × 3000 with random (Erdős–Rényi) connections, --hidden × --hidden with random connections,
and --hidden × --hidden with as many connections per neuron drawn inside a window of 2,000
neighbouring source neurons (banded: the rows each connection reads are close together).
At 3000 wide everything the kernels touch fits in the caches.  At 350,000 wide a random
connection reads a random row of a 56 MB matrix, and the banded layer shows what is left when
that access is local: the structure and values streamed from memory.  It also prints the machine's
copy bandwidth.  (scale.py's cost_per_connection_ratio is the same comparison for a whole SET epoch.)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import best_of, emit, parser, setup_threads  # noqa: E402

from structsearch.graphs.density import erdos_renyi_density, sample_positions  # noqa: E402
from structsearch.nn import kernels  # noqa: E402
from structsearch.nn.sparse_linear import SparseLinear  # noqa: E402

WINDOW = 2000


def layer(n: int, banded: bool, rng: np.random.Generator) -> SparseLinear:
    k = int(round(erdos_renyi_density(n, n, 20) * n * n))
    if not banded:
        return SparseLinear(n, n, *sample_positions(n, n, k, rng))
    per = k // n
    rows = np.repeat(np.arange(n), per)
    offsets = np.concatenate([rng.choice(WINDOW, per, replace=False) for _ in range(n)])
    return SparseLinear(n, n, rows, (rows + offsets) % n)


def per_connection(sparse: SparseLinear, batch: int, repeats: int) -> dict:
    module = kernels.compiled()
    x = torch.randn(sparse.in_features, batch)
    g = torch.randn(sparse.out_features, batch)
    values, bias = sparse.values.detach(), sparse.bias.detach()
    crow, col, perm, t_crow, t_col = sparse.structure()
    forward = best_of(lambda: module.spmm(crow, col, values, perm, bias, x), repeats)
    backward = best_of(lambda: module.backward(t_crow, t_col, values, g, x, True, True), repeats)
    return {"connections": sparse.nnz, "forward_ns": round(forward / sparse.nnz * 1e9, 2),
            "backward_ns": round(backward / sparse.nnz * 1e9, 2)}


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
        figures[name] = per_connection(layer(n, banded, np.random.default_rng(0)), args.batch, repeats)
        print(name, figures[name], flush=True)
    small = figures["random_3000"]
    for name in ("random_wide", "banded_wide"):
        figures[f"{name}_over_3000"] = {
            pass_: round(figures[name][f"{pass_}_ns"] / small[f"{pass_}_ns"], 2) for pass_ in ("forward", "backward")
        }
    figures["copy_gb_per_s"] = round(copy_bandwidth(), 1)
    emit(figures)


if __name__ == "__main__":
    main()
