"""Time to compute every graph feature of a small and of a large layered graph.

Small: a 50-node Barabási–Albert network (m = 5) between 3 inputs and 2 outputs.
Large: an Erdős–Rényi layered graph of about 100,000 edges (784-1000-1000-1000-10, ε chosen).
Targets: large ≤ 2 s, small ≤ 20 ms.  JSON on the last line.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
from _common import emit, parser  # noqa: E402

from structsearch.graphs import barabasi_albert, erdos_renyi  # noqa: E402
from structsearch.graphs.features import compute_features  # noqa: E402


def timed(graph, repeats):
    compute_features(graph)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _, meta = compute_features(graph)
        times.append(time.perf_counter() - start)
    return min(times), meta


def main():
    p = parser(__doc__)
    p.add_argument("--epsilon", type=float, default=17.0)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    small = barabasi_albert(50, 5, rng, n_inputs=3, n_outputs=2)
    large = erdos_renyi([784, 1000, 1000, 1000, 10], args.epsilon, rng)
    small_s, small_meta = timed(small, 20)
    large_s, large_meta = timed(large, 3)
    emit({
        "small_graph_nodes": small.n_nodes, "small_graph_edges": small.n_edges,
        "small_graph_seconds": round(small_s, 5), "small_exact": small_meta["exact"],
        "large_graph_nodes": large.n_nodes, "large_graph_edges": large.n_edges,
        "large_graph_seconds": round(large_s, 3), "large_bfs_sources": large_meta["bfs_sources"],
    })


if __name__ == "__main__":
    main()
