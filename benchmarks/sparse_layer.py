"""Forward + backward of SparseLinear against MaskedLinear and dense nn.Linear.

3000 × 3000, ε = 20 (density ≈ 1.33 %, 120,000 connections), batch 128, threads = cores.  The
five cases are timed in turn (sparse, masked, dense, …, again) and each figure is a median.
Sparse GFLOP/s counts only existing connections: 3 products (forward, input gradient, weight
gradient) × 2 flops × connections × batch.  Dense GEMM GFLOP/s is a plain 128×3000×3000 matmul in
the same run.  ``sparse_ms`` is the feature-major path the sparse MLP runs (activations stay
``features × batch``); ``sparse_row_major_ms`` adds the two transposes a lone layer on ``batch ×
features`` input needs.  Targets: ``masked_over_sparse ≥ 15`` and sparse ≥ 30 % of dense GEMM.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import emit, interleaved, parser, setup_threads  # noqa: E402

from structsearch.graphs.density import erdos_renyi_density, sample_positions  # noqa: E402
from structsearch.nn.sparse_linear import MaskedLinear, SparseLinear  # noqa: E402


def main():
    p = parser(__doc__)
    p.add_argument("--size", type=int, default=3000)
    p.add_argument("--epsilon", type=float, default=20)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    setup_threads(args.threads)
    device = torch.device(args.device)
    n = args.size
    k = int(round(erdos_renyi_density(n, n, args.epsilon) * n * n))
    rows, cols = sample_positions(n, n, k, np.random.default_rng(0))
    sparse = SparseLinear(n, n, rows, cols).to(device)
    masked = MaskedLinear.from_sparse(sparse).to(device)
    dense = torch.nn.Linear(n, n).to(device)
    x = torch.randn(args.batch, n, device=device, requires_grad=True)
    grad = torch.randn(args.batch, n, device=device)

    def step(module):
        def run():
            module.zero_grad(set_to_none=True)
            x.grad = None
            module(x).backward(grad)
            if device.type == "cuda":
                torch.cuda.synchronize()
        return run

    xt = x.detach().t().contiguous().requires_grad_()
    grad_t = grad.t().contiguous()

    def feature_major():  # the layout SparseMLP runs in: no transposes per layer
        sparse.zero_grad(set_to_none=True)
        xt.grad = None
        sparse.forward_t(xt).backward(grad_t)
        if device.type == "cuda":
            torch.cuda.synchronize()

    a, b = torch.randn(args.batch, n, device=device), torch.randn(n, n, device=device)

    def gemm():
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()

    # interleaved (sparse, masked, dense, … in turn), medians: a change of load moves every side
    times = interleaved({"sparse": feature_major, "sparse_row_major": step(sparse), "masked": step(masked),
                         "dense": step(dense), "gemm": gemm}, args.repeats)
    sparse_s, sparse_row_major_s, masked_s, dense_s, gemm_s = times.values()
    sparse_gflops = 3 * 2 * k * args.batch / sparse_s / 1e9
    gemm_gflops = 2 * args.batch * n * n / gemm_s / 1e9
    emit({
        "device": str(device), "threads": torch.get_num_threads(), "size": n, "connections": k,
        "batch": args.batch, "sparse_ms": round(sparse_s * 1e3, 3),
        "sparse_row_major_ms": round(sparse_row_major_s * 1e3, 3), "masked_ms": round(masked_s * 1e3, 3),
        "dense_ms": round(dense_s * 1e3, 3), "masked_over_sparse": round(masked_s / sparse_s, 2),
        "dense_over_sparse": round(dense_s / sparse_s, 2),
        "masked_over_sparse_row_major": round(masked_s / sparse_row_major_s, 2),
        "sparse_gflops": round(sparse_gflops, 2), "dense_gemm_gflops": round(gemm_gflops, 2),
        "sparse_share_of_gemm": round(sparse_gflops / gemm_gflops, 4),
    })


if __name__ == "__main__":
    main()
