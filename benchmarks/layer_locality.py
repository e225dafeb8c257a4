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

``--isa`` times another instruction set of the kernels (default: the best this CPU runs).
``--tune`` instead times the kernels' prefetch distances, interleaved, at 3000 and --hidden wide,
batch --batch and 128: the bytes of rows prefetched ahead (the vector kernels' ``prefetch_bytes``)
and the values prefetched ahead in the forward pass's gather (``gather_ahead``).  The defaults in
``csrc/sparse_kernels.cpp`` come from it: 4096 bytes (24 rows at batch 40, 8 at batch 128) and 64
values, on an Intel Xeon with AVX-512 (2 cores; see the comment there) and, for rows at batch 40,
the 24 an AMD EPYC with AVX2 gave earlier.
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


PREFETCH_BYTES = (1024, 2048, 4096, 8192, 16384)
GATHER_AHEAD = (0, 16, 64, 256)


def tune(hidden: int, batches: tuple[int, ...]) -> dict:
    """Nanoseconds per connection of the forward pass (values in order, so rows only), the backward
    pass and the forward pass with its gather, for each prefetch distance, interleaved."""
    default = kernels.compiled().tuning()
    figures = {}
    for n, repeats in ((3000, 30), (hidden, 3)):
        sparse = layer(n, False, np.random.default_rng(0))
        for batch in batches:
            row = tune_layer(sparse, batch, repeats, default)
            figures[f"{n}x{n}_batch_{batch}"] = row
            print(n, batch, row, flush=True)
    return {"tuning": figures, "defaults": default}


def tune_layer(sparse: SparseLinear, batch: int, repeats: int, default: dict) -> dict:
    module = kernels.compiled()
    crow, col, perm, t_crow, t_col = sparse.structure()
    values, bias = sparse.values.detach(), sparse.bias.detach()
    x, g = torch.randn(sparse.in_features, batch), torch.randn(sparse.out_features, batch)
    passes = {"rows_forward": lambda: module.spmm(crow, col, values, None, bias, x),
              "rows_backward": lambda: module.backward(t_crow, t_col, values, g, x, True, True),
              "gather_forward": lambda: module.spmm(crow, col, values, perm, bias, x)}

    def timed(name, prefetch_bytes, gather_ahead):
        def run():
            module.set_tuning(prefetch_bytes, gather_ahead)
            passes[name]()
        return run

    cases = {f"{name}_{size}": timed(name, size, default["gather_ahead"])
             for size in PREFETCH_BYTES for name in ("rows_forward", "rows_backward")}
    cases.update({f"gather_forward_{ahead}": timed("gather_forward", default["prefetch_bytes"], ahead)
                  for ahead in GATHER_AHEAD})
    try:
        times = interleaved(cases, repeats)
    finally:
        module.set_tuning(default["prefetch_bytes"], default["gather_ahead"])
    return {name: round(seconds / sparse.nnz * 1e9, 2) for name, seconds in times.items()}


def copy_bandwidth() -> float:
    a = torch.randn(1 << 27)  # 512 MB
    b = torch.empty_like(a)
    return 2 * a.numel() * 4 / best_of(lambda: b.copy_(a), 5) / 1e9


def main():
    p = parser(__doc__)
    p.add_argument("--hidden", type=int, default=350_000)
    p.add_argument("--batch", type=int, default=40)
    p.add_argument("--isa", choices=("avx512", "avx2", "generic"), help="the kernels' instruction set")
    p.add_argument("--tune", action="store_true", help="time the prefetch distances instead")
    args = p.parse_args()
    setup_threads(args.threads)
    if kernels.compiled() is None:
        sys.exit("layer_locality.py: needs the compiled kernels")
    if args.isa:
        if args.isa not in kernels.isas():
            sys.exit(f"layer_locality.py: this CPU does not run the {args.isa} kernels ({kernels.isas()})")
        kernels.compiled().set_isa(args.isa)
    if args.tune:
        emit(tune(args.hidden, (args.batch, 128)))
        return
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
