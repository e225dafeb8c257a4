import os

import numpy as np
import pytest
import torch

from structsearch.errors import ConfigError
from structsearch.graphs.density import (
    erdos_renyi_density,
    erk_densities,
    sample_motif_positions,
    sample_positions,
)
from structsearch.nn import kernels
from structsearch.nn.mlp import SparseMLP, parse_architecture
from structsearch.nn.sparse_linear import MaskedLinear, SparseLinear, _layout, sparse_matmul


@pytest.fixture(params=["avx512", "avx2", "generic", "torch"])
def backend(request, monkeypatch):
    """Run a test with each instruction set of the compiled CPU kernels this processor runs, and again
    with torch.sparse."""
    if request.param == "torch":
        monkeypatch.setattr(kernels, "usable", lambda *tensors: False)
        yield request.param
        return
    assert kernels.compiled() is not None, "the compiled kernels did not build on this machine"
    if request.param not in kernels.isas():
        pytest.skip(f"this processor does not run the {request.param} kernels")
    with kernels.using_isa(request.param):
        yield request.param


def random_layer(n_in=9, n_out=7, k=20, seed=0, dtype=torch.float64):
    rows, cols = sample_positions(n_out, n_in, k, np.random.default_rng(seed))
    return SparseLinear(n_in, n_out, rows, cols, generator=torch.Generator().manual_seed(seed)).to(dtype)


def test_gradcheck_float64(backend):
    layer = random_layer()
    values = layer.values.detach().clone().requires_grad_()
    bias = torch.randn(layer.out_features, dtype=torch.float64, requires_grad=True)
    xt = torch.randn(layer.in_features, 4, dtype=torch.float64, requires_grad=True)

    def fn(v, b, x):
        return sparse_matmul(v, b, x, layer.structure(), layer.out_features, layer.in_features)

    assert torch.autograd.gradcheck(fn, (values, bias, xt))
    assert torch.autograd.gradcheck(lambda v, x: fn(v, None, x), (values, xt))


@pytest.mark.parametrize("dtype,batch", [(torch.float64, 5), (torch.float32, 1), (torch.float32, 7),
                                         (torch.float32, 40), (torch.float32, 67), (torch.float32, 128),
                                         (torch.float32, 300)])
def test_matches_masked_reference_forward_and_backward(backend, dtype, batch):
    torch.manual_seed(batch)  # inputs independent of the tests that ran before (float32 sums of 300 terms)
    layer = random_layer(n_in=30, n_out=20, k=90, dtype=dtype)
    masked = MaskedLinear.from_sparse(layer)
    x = torch.randn(batch, 30, dtype=dtype)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y1, y2 = layer(x1), masked(x2)
    torch.testing.assert_close(y1, y2)
    grad = torch.randn_like(y1)
    y1.backward(grad)
    y2.backward(grad)
    torch.testing.assert_close(x1.grad, x2.grad)
    rows, cols = layer.connections()
    torch.testing.assert_close(layer.values.grad, masked.weight.grad[rows, cols])
    torch.testing.assert_close(layer.bias.grad, masked.bias.grad)


@pytest.mark.parametrize("needs", ["values", "input", "both"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_each_backward_path_matches_the_reference(backend, needs, dtype):
    """Both gradients come from one fused pass; either alone from its own kernel."""
    layer = random_layer(n_in=40, n_out=25, k=200, dtype=dtype)
    masked = MaskedLinear.from_sparse(layer)
    layer.values.requires_grad_(needs != "input")
    masked.weight.requires_grad_(needs != "input")
    x1 = torch.randn(150, 40, dtype=dtype, requires_grad=needs != "values")
    x2 = x1.detach().clone().requires_grad_(needs != "values")
    grad = torch.randn(150, 25, dtype=dtype)
    layer(x1).backward(grad)
    masked(x2).backward(grad)
    if needs != "values":
        torch.testing.assert_close(x1.grad, x2.grad)
    if needs != "input":
        rows, cols = layer.connections()
        torch.testing.assert_close(layer.values.grad, masked.weight.grad[rows, cols])
    else:
        assert layer.values.grad is None


def test_compiled_and_torch_kernels_agree(monkeypatch):
    layer = random_layer(n_in=300, n_out=200, k=3000, dtype=torch.float32)
    x = torch.randn(128, 300)

    def run():
        layer.zero_grad(set_to_none=True)
        xr = x.clone().requires_grad_()
        y = layer(xr)
        y.pow(2).sum().backward()
        return y.detach(), xr.grad, layer.values.grad.clone(), layer.bias.grad.clone()

    assert kernels.usable(x)
    compiled = run()
    monkeypatch.setattr(kernels, "usable", lambda *tensors: False)
    for a, b in zip(compiled, run(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_the_instruction_set_can_be_chosen_and_an_unknown_one_is_refused():
    assert kernels.compiled() is not None
    available = kernels.isas()
    assert "generic" in available and kernels.isa() == available[-1]  # the best is the default
    with kernels.using_isa("generic"):
        assert kernels.isa() == "generic"
    assert kernels.isa() == available[-1]
    with pytest.raises(ValueError, match="cannot run 'sse9'"):
        with kernels.using_isa("sse9"):
            pass


def test_float32_and_batched_shapes():
    layer = random_layer(dtype=torch.float32)
    y = layer(torch.randn(2, 3, 9))
    assert y.shape == (2, 3, 7) and y.dtype == torch.float32


def test_state_dict_round_trip_with_a_different_connection_count():
    a = random_layer(k=20, seed=1)
    b = random_layer(k=35, seed=2)
    b.load_state_dict(a.state_dict())
    assert b.nnz == 20
    x = torch.randn(3, 9, dtype=torch.float64)
    torch.testing.assert_close(a(x), b(x))


def test_values_follow_the_transposed_structure_and_the_csr_reads_them_through_perm():
    layer = random_layer(n_in=30, n_out=20, k=150)
    rows, cols = layer.connections()
    linear = cols * layer.out_features + rows
    assert bool((linear[1:] > linear[:-1]).all())  # column-major: sorted by (col, row)
    csr_rows = torch.repeat_interleave(torch.arange(20), layer.fan_in())
    perm = layer.perm.long()
    assert torch.equal(rows[perm], csr_rows) and torch.equal(cols[perm], layer.col_indices.long())
    assert torch.equal(layer.to_dense()[csr_rows, layer.col_indices.long()], layer.values.detach()[perm])


def test_compiled_and_numpy_structure_building_agree(monkeypatch):
    rng = np.random.default_rng(3)
    rows, cols = (torch.as_tensor(a) for a in sample_positions(70, 90, 900, rng))
    shuffle = torch.as_tensor(rng.permutation(900))
    rows, cols = rows[shuffle], cols[shuffle]
    assert kernels.compiled() is not None
    compiled_order, compiled = _layout(rows, cols, 70, 90)
    monkeypatch.setattr(kernels, "compiled", lambda: None)
    order, expected = _layout(rows, cols, 70, 90)
    assert torch.equal(compiled_order, order)
    for name, tensor in expected.items():
        assert compiled[name].dtype == tensor.dtype and torch.equal(compiled[name], tensor), name
    with pytest.raises(ValueError, match="duplicate"):
        _layout(torch.tensor([0, 1, 1]), torch.tensor([2, 3, 3]), 4, 4)


def test_a_layer_saved_in_the_row_major_layout_still_loads():
    layer = random_layer(n_in=12, n_out=10, k=40)
    rows, cols = layer.connections()
    row_major = torch.argsort(rows * 12 + cols)
    t_perm = torch.argsort(cols[row_major] * 10 + rows[row_major])  # transposed position → CSR index
    legacy = {
        "values": layer.values.detach()[row_major].clone(), "bias": torch.randn(10, dtype=torch.float64),
        "crow_indices": layer.crow_indices.clone(), "col_indices": layer.col_indices.clone(),
        "t_crow_indices": layer.t_crow_indices.clone(),
        "t_col_indices": rows[row_major][t_perm].to(torch.int32), "t_perm": t_perm,
    }
    fresh = random_layer(n_in=12, n_out=10, k=25, seed=5)
    fresh.load_state_dict(legacy)
    assert fresh.nnz == 40
    torch.testing.assert_close(fresh.to_dense(), layer.to_dense())
    x = torch.randn(3, 12, dtype=torch.float64)
    torch.testing.assert_close(fresh(x), x @ layer.to_dense().t() + legacy["bias"])


def test_duplicate_connections_are_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        SparseLinear(4, 4, [0, 1, 1], [2, 3, 3])


def test_initialisation_uses_the_real_fan_in():
    rows = np.repeat(np.arange(100), 400)
    cols = np.tile(np.arange(400), 100)
    layer = SparseLinear(1000, 100, rows, cols, generator=torch.Generator().manual_seed(0))
    # He on a fan-in of 400, not on the dense 1000
    assert abs(float(layer.values.detach().std()) - (2 / 400) ** 0.5) < 0.003


def test_huge_sparse_layer_never_allocates_the_dense_matrix():
    n = 200_000  # a dense float32 200k × 200k weight would need 160 GB
    density = erdos_renyi_density(n, n, epsilon=1)
    k = int(round(density * n * n))
    rows, cols = sample_positions(n, n, k, np.random.default_rng(0))
    layer = SparseLinear(n, n, rows, cols)
    assert layer.nnz == k == 2 * n
    assert layer(torch.randn(2, n)).shape == (2, n)


def test_sample_positions_are_distinct_and_in_range():
    rows, cols = sample_positions(50, 40, 1500, np.random.default_rng(3))
    linear = rows * 40 + cols
    assert len(np.unique(linear)) == 1500 and rows.max() < 50 and cols.max() < 40


def test_erdos_renyi_density_formula_and_cap():
    assert erdos_renyi_density(1000, 500, 20) == pytest.approx(20 * 1500 / 500_000)
    assert erdos_renyi_density(10, 10, 20) == 1.0


def test_erk_reaches_the_overall_density():
    shapes = [(784, 300), (300, 100), (100, 10)]
    densities = erk_densities(shapes, 0.1)
    total = sum(d * a * b for d, (a, b) in zip(densities, shapes, strict=True))
    assert total == pytest.approx(0.1 * sum(a * b for a, b in shapes))
    assert max(densities) <= 1.0


def test_motif_initialisation_places_whole_motifs():
    rows, cols = sample_motif_positions(30, 40, 200, 2, np.random.default_rng(0))
    pairs = set(zip(rows.tolist(), cols.tolist(), strict=True))
    assert all((r, c ^ 1) in pairs for r, c in pairs)
    assert len(pairs) == 200


@pytest.mark.parametrize("text", ["784--10", "784-0-10", "10", "a-b", "784-(-3)-10"])
def test_bad_architectures(text):
    with pytest.raises(ConfigError, match="architecture"):
        parse_architecture(text)


def test_epsilon_must_be_positive():
    with pytest.raises(ConfigError, match="epsilon"):
        SparseMLP.from_layer_sizes([8, 8, 2], epsilon=0)


def test_mlp_with_skip_blocks_reads_concatenated_sources():
    from structsearch.nn.mlp import Block, BlockDescription

    description = BlockDescription(
        [3, 2, 2],
        [Block((0,), np.array([0, 1]), np.array([0, 2])),
         Block((0, 1), np.array([0, 1, 1]), np.array([1, 3, 4]))],  # cols 3, 4 are layer 1
    )
    model = SparseMLP(description, activation="relu").double()
    x = torch.randn(4, 3, dtype=torch.float64)
    w1, w2 = model.layers[0].to_dense(), model.layers[1].to_dense()
    hidden = torch.relu(x @ w1.T + model.layers[0].bias)
    expected = torch.cat([x, hidden], dim=1) @ w2.T + model.layers[1].bias
    torch.testing.assert_close(model(x), expected)


@pytest.mark.parametrize("activation", ["relu", "tanh", "srelu", "all-relu"])
def test_activations_train(activation):
    model = SparseMLP.from_layer_sizes([10, 16, 16, 3], seed=0, epsilon=2, activation=activation, dropout=0.1)
    model(torch.randn(5, 10)).sum().backward()
    assert all(p.grad is not None for p in model.layers.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    layer = random_layer(n_in=64, n_out=32, k=300, dtype=torch.float32)
    x = torch.randn(8, 64)
    expected = layer(x)
    torch.testing.assert_close(layer.cuda()(x.cuda()).cpu(), expected, rtol=1e-4, atol=1e-5)


# a Python extension module named as torch's builder names it, and nothing else
TINY_EXTENSION = """
#include <Python.h>
#define STRUCTSEARCH_CAT(a, b) a##b
#define STRUCTSEARCH_INIT(name) STRUCTSEARCH_CAT(PyInit_, name)
#define STRUCTSEARCH_TEXT(name) #name
#define STRUCTSEARCH_NAME(name) STRUCTSEARCH_TEXT(name)
static struct PyModuleDef definition = {PyModuleDef_HEAD_INIT, STRUCTSEARCH_NAME(TORCH_EXTENSION_NAME), NULL, -1, NULL};
PyMODINIT_FUNC STRUCTSEARCH_INIT(TORCH_EXTENSION_NAME)(void) { return PyModule_Create(&definition); }
"""


def test_two_processes_building_at_once_get_one_build_and_a_stale_lock_does_not_hang(tmp_path):
    """A killed build leaves torch's lock file behind; two new processes must still get the kernels,
    built once, without waiting on it forever."""
    import subprocess
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("the build lock is an flock")
    # the lock and the build are the kernels' own (kernels.build); the source is a minimal extension, so
    # that the test costs a second, not the kernels' 20 s compile
    source = tmp_path / "tiny.cpp"
    source.write_text(TINY_EXTENSION)
    name = "structsearch_lock_probe"
    probe = (f"from pathlib import Path; from structsearch.nn import kernels; "
             f"module = kernels.build({name!r}, Path({str(source)!r}), []); print(module.__file__)")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    stale = tmp_path / "structsearch" / "kernels" / name
    stale.mkdir(parents=True)
    (stale / "lock").write_text("")  # what a build killed mid-way leaves
    processes = [subprocess.Popen([sys.executable, "-c", probe], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    paths = {out.strip() for out, _ in outputs}
    assert len(paths) == 1 and paths.pop().startswith(str(stale))
    assert sum("compiling the sparse CPU kernels" in err for _, err in outputs) == 1
