import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from structsearch.errors import ConfigError
from structsearch.graphs.density import sample_motif_positions, sample_positions
from structsearch.nn.mlp import SparseMLP
from structsearch.nn.sparse_linear import SparseLinear
from structsearch.sparsity.rewiring import (
    SET,
    RigL,
    SETMotif,
    make_rewiring,
    sample_free_positions,
)


def assert_unique(layer: SparseLinear):
    linear = layer.linear_indices()
    assert torch.unique(linear).numel() == linear.numel()


def perturb(layer, rng):
    with torch.no_grad():
        layer.values.copy_(torch.as_tensor(rng.standard_normal(layer.nnz), dtype=layer.values.dtype))


@settings(max_examples=25, deadline=None)
@given(n_in=st.integers(2, 40), n_out=st.integers(1, 40), density=st.floats(0.02, 0.9),
       fraction=st.floats(0.05, 0.95), seed=st.integers(0, 2**16))
def test_set_keeps_the_number_of_connections(n_in, n_out, density, fraction, seed):
    rng = np.random.default_rng(seed)
    k = max(1, int(density * n_in * n_out))
    layer = SparseLinear(n_in, n_out, *sample_positions(n_out, n_in, k, rng))
    rule = SET(fraction, seed=seed)
    for _ in range(20):
        perturb(layer, rng)
        rule.evolve(layer, None, fraction)
        assert layer.nnz == k
        assert_unique(layer)


def test_a_rule_seeded_like_the_model_does_not_regrow_what_it_dropped():
    """The model and the rule both seeded 0: the rule's draws must not replay the initial ones."""
    model = SparseMLP.from_layer_sizes([200, 300, 10], seed=0, epsilon=5)
    layer = model.sparse_layers()[0]
    perturb(layer, np.random.default_rng(1))
    before = set(layer.linear_indices().tolist())
    SET(0.3, seed=0).evolve(layer, None, 0.3)
    after = set(layer.linear_indices().tolist())
    dropped, grown = before - after, after - before
    assert len(grown) > 0.25 * layer.nnz  # regrown at random free places, not where they were
    assert len(dropped) == len(grown)


@settings(max_examples=25, deadline=None)
@given(groups=st.integers(1, 20), motif_size=st.integers(2, 4), n_out=st.integers(1, 30),
       density=st.floats(0.05, 0.9), fraction=st.floats(0.05, 0.95), seed=st.integers(0, 2**16))
def test_set_motif_keeps_count_and_whole_motifs(groups, motif_size, n_out, density, fraction, seed):
    rng = np.random.default_rng(seed)
    n_in = groups * motif_size
    k = max(motif_size, int(density * n_in * n_out))
    layer = SparseLinear(n_in, n_out, *sample_motif_positions(n_out, n_in, k, motif_size, rng))
    count = layer.nnz
    rule = SETMotif(fraction, motif_size=motif_size, seed=seed)
    for _ in range(20):
        perturb(layer, rng)
        rule.evolve(layer, None, fraction)
        assert layer.nnz == count
        assert_unique(layer)
        keys, _ = rule.motif_keys(layer)
        _, sizes = np.unique(keys, return_counts=True)
        assert (sizes == motif_size).all()  # every motif is whole


def test_set_drops_the_weights_closest_to_zero_on_each_side():
    layer = SparseLinear(10, 1, np.zeros(10, dtype=int), np.arange(10))
    with torch.no_grad():
        layer.values.copy_(torch.tensor([5.0, 0.1, 3.0, 0.2, 4.0, -0.1, -5.0, -0.2, -3.0, -4.0]))
    keep, grow = SET(0.4).select(layer, 0.4)
    kept_values = sorted(layer.values[keep].tolist())
    assert kept_values == [-5.0, -4.0, -3.0, 3.0, 4.0, 5.0]
    assert grow.size == 4 and not np.isin(grow, layer.linear_indices().numpy()[keep]).any()


def test_regrowth_never_lands_on_a_live_connection():
    rng = np.random.default_rng(0)
    occupied = np.sort(rng.choice(1000, 700, replace=False))
    grown = sample_free_positions(1000, occupied, 300, rng)
    assert len(np.unique(grown)) == 300 and not np.isin(grown, occupied).any()
    with pytest.raises(ValueError):
        sample_free_positions(1000, occupied, 301, rng)


@pytest.mark.parametrize("optimizer_name", ["sgd", "adam"])
def test_optimizer_state_is_carried_and_zeroed(optimizer_name):
    torch.manual_seed(0)
    model = SparseMLP.from_layer_sizes([20, 30, 5], seed=0, epsilon=3)
    layer = model.layers[0]
    optimizer = (torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if optimizer_name == "sgd"
                 else torch.optim.Adam(model.parameters(), lr=0.01))
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(8, 20)).pow(2).sum().backward()
        optimizer.step()
    key = "momentum_buffer" if optimizer_name == "sgd" else "exp_avg"
    positions = layer.linear_indices().tolist()
    rule = SET(0.3, seed=1)
    keep, grow = rule.select(layer, 0.3)
    before = {positions[i]: optimizer.state[layer.values][key][i].item() for i in keep}
    rule.apply(layer, optimizer, keep, grow)
    after = optimizer.state[layer.values][key]
    assert after.numel() == layer.nnz
    survivors = new = 0
    for position, value in zip(layer.linear_indices().tolist(), after.tolist(), strict=True):
        if position in before:
            assert value == pytest.approx(before[position])
            survivors += 1
        else:
            assert value == 0.0
            new += 1
    assert survivors > 0 and new > 0
    optimizer.step()  # shapes agree after the change


def test_rigl_grows_where_the_gradient_is_largest():
    from structsearch.tasks import load_task
    from structsearch.train import TrainConfig, Trainer

    task = load_task("digits")
    model = SparseMLP.from_layer_sizes([64, 40, 10], seed=0, epsilon=2)
    trainer = Trainer(model, task, TrainConfig(epochs=2))
    rule = RigL(0.3, seed=0, block_elements=100)  # tiny blocks: exercise the block-by-block path
    layer = model.layers[0]
    count = layer.nnz
    rule.prepare(trainer)
    xt, grad_yt = layer.captured
    dense_score = (grad_yt @ xt.t()).abs()
    keep, grow = rule.select(layer, 0.3)
    occupied = layer.linear_indices().numpy()[keep]
    free_scores = dense_score.reshape(-1).clone()
    free_scores[occupied] = -1
    expected = torch.topk(free_scores, grow.size).values.min()
    assert float(dense_score.reshape(-1)[grow].min()) >= float(expected) - 1e-6
    rule.prepare(trainer)
    rule.evolve(layer, trainer.optimizer, 0.3)
    assert layer.nnz == count
    assert_unique(layer)


def test_rigl_cosine_decay():
    rule = RigL(0.4)
    assert rule.current_fraction(0, 10) == pytest.approx(0.4)
    assert rule.current_fraction(5, 10) == pytest.approx(0.2)


def test_bad_evolution_settings():
    with pytest.raises(ConfigError, match="known: none, set, set-motif, rigl"):
        make_rewiring("magic")
    with pytest.raises(ConfigError, match=r"drop_fraction .* \(0, 1\)"):
        make_rewiring("set", drop_fraction=1.0)
    with pytest.raises(ConfigError, match="drop_fraction"):
        make_rewiring("rigl", drop_fraction=0.0)
