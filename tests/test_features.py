"""Input importance of trained sparse MLPs (QuickSelection's neuron strength and the connection
count), its stability over SET updates, `structsearch features`, and the CSV task."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from structsearch.commands import main


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_importance_matches_a_hand_computation_with_skip_edges():
    from structsearch.graphs import LayeredGraph
    from structsearch.nn.importance import input_importance
    from structsearch.pipeline import ModelSpec, build_candidate
    from structsearch.tasks.base import Split, Task

    # inputs 0–3, hidden 4–6, outputs 7–8; inputs 0 and 3 also skip straight to the outputs
    src = np.array([0, 1, 1, 2, 3, 0, 3, 4, 5, 6, 6])
    dst = np.array([4, 4, 5, 6, 6, 7, 8, 7, 8, 7, 8])
    graph = LayeredGraph.from_layer_widths(4, [3], 2, src, dst)
    empty = Split(torch.zeros((0, 4)), torch.zeros(0, dtype=torch.long))
    model, _ = build_candidate(graph, ModelSpec(), Task("t", empty, empty, empty, (4,), 2), seed=0)
    with torch.no_grad():
        for layer in model.layers:
            layer.values.normal_()
    strength = np.zeros(4)
    degree = np.zeros(4)
    reads_inputs = 0
    for layer, sources in zip(model.layers, model.sources, strict=True):
        if 0 in sources:
            reads_inputs += 1
            offset = sum(model.layer_sizes[s] for s in sources[: sources.index(0)])
            dense = layer.to_dense()[:, offset : offset + 4].numpy()
            strength += np.abs(dense).sum(axis=0)
            degree += (dense != 0).sum(axis=0)
    assert reads_inputs >= 2  # the inputs feed more than the first hidden layer: skip edges
    np.testing.assert_allclose(input_importance(model), strength, rtol=1e-6)
    np.testing.assert_array_equal(input_importance(model, "degree"), degree)
    assert degree.tolist() == [2, 2, 1, 2]  # the edges above, skips included


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    runs = tmp_path_factory.mktemp("features")
    assert main(["train", "--architecture", "64-32-10", "--epochs", "4", "--no-progress", "--save-model",
                 "--runs", str(runs), "--name", "digits"]) == 0
    return runs / "digits"


def test_training_records_the_top_inputs_after_every_update_and_their_stability(trained):
    from structsearch.nn.importance import jaccard

    trace = json.loads((trained / "input_importance.json").read_text())
    tops = trace["top_per_epoch"]
    assert trace["k"] == 20 and len(tops) == 5  # at the start and after each of the 4 epochs
    expected = np.mean([jaccard(a, b) for a, b in zip(tops, tops[1:], strict=False)])
    assert trace["stability"] == pytest.approx(expected) and 0 <= trace["stability"] <= 1
    assert len(trace["strength"]) == 64


def test_features_prints_a_table_json_and_an_image_for_image_inputs(trained, tmp_path, capsys):
    code, out, err = cli(capsys, "features", trained, "--top", "5", "--plot", tmp_path / "p.png")
    assert code == 0, err
    assert "the 5 most important of 64 inputs (strength)" in " ".join(out.split()) and "stability" in out
    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")
    import matplotlib.image

    assert matplotlib.image.imread(tmp_path / "p.png").shape[0] > 100
    code, out, _ = cli(capsys, "features", trained, "--json", "--top", "3", "--measure", "degree")
    data = json.loads(out)
    assert code == 0 and [row["rank"] for row in data["top"]] == [1, 2, 3] and data["inputs"] == 64
    counts = [row["degree"] for row in data["top"]]
    assert counts == sorted(counts, reverse=True)


def test_features_of_a_sparse_mlp_classifier_names_pandas_columns(tmp_path, capsys):
    import pandas as pd
    import skops.io as sio
    from sklearn.datasets import load_breast_cancer

    from structsearch.sklearn import SparseMLPClassifier

    data = load_breast_cancer(as_frame=True)
    frame = (data.data - data.data.mean()) / data.data.std()
    clf = SparseMLPClassifier(epochs=3, random_state=0).fit(pd.DataFrame(frame), data.target)
    sio.dump(clf, tmp_path / "clf.skops")
    code, out, err = cli(capsys, "features", tmp_path / "clf.skops", "--json", "--top", "4")
    assert code == 0, err
    assert all(row["input"] in set(frame.columns) for row in json.loads(out)["top"])


def test_bad_input_is_one_line(trained, tmp_path, capsys):
    code, _, err = cli(capsys, "features", trained, "--top", "0")
    assert code == 2 and "--top" in err
    assert main(["train", "--task", "reber", "--task-option", "n_strings=200", "--cell", "gru", "--architecture",
                 "8-6-2", "--epochs", "1", "--no-progress", "--save-model", "--runs", str(tmp_path), "--name",
                 "gru"]) == 0
    capsys.readouterr()
    code, _, err = cli(capsys, "features", tmp_path / "gru")
    assert code == 2 and "needs a sparse MLP (an input layer of its own); got a SparseRecurrentNet" in err


def write_csv(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_the_csv_task_reads_string_labels_and_standardises_on_training_rows(tmp_path):
    from sklearn.datasets import load_wine

    from structsearch.tasks import load_task

    x, y = load_wine(return_X_y=True)
    names = np.array(["barolo", "grignolino", "barbera"])
    write_csv(tmp_path / "wine.csv", [f"f{i}" for i in range(13)] + ["kind"],
              [[*row, names[label]] for row, label in zip(x, y, strict=True)])
    task = load_task("csv", path=str(tmp_path / "wine.csv"), label="kind", seed=1)
    assert task.n_classes == 3 and task.input_shape == (13,)
    assert len(task.train) + len(task.validation) + len(task.test) == 178
    assert task.train.x.mean(dim=0).abs().max() < 1e-4  # standardised on the training rows
    assert abs(float(task.test.x.mean())) > 1e-4  # not on the test rows
    # class codes follow the sorted names: barbera 0, barolo 1, grignolino 2
    counts = np.bincount(np.concatenate([s.y.numpy() for s in (task.train, task.validation, task.test)]))
    assert counts.tolist() == [int((y == 2).sum()), int((y == 0).sum()), int((y == 1).sum())]


@pytest.mark.parametrize("header, rows, label, message", [
    (["a", "b", "y"], [[1, 2, 0], [3, 4, 1]], "kind", "no label column 'kind'"),
    (["a", "name", "y"], [[1, "x", 0], [3, "z", 1]], "y", "1 non-numeric feature column(s): name"),
    (["a", "b", "y"], [[1, 2, "only"], [3, 4, "only"]], "y", "has one class ('only')"),
])
def test_the_csv_task_refuses_in_one_line(tmp_path, capsys, header, rows, label, message):
    write_csv(tmp_path / "t.csv", header, rows)
    code, _, err = cli(capsys, "train", "--task", "csv", "--task-option", f"path={tmp_path / 't.csv'}",
                       "--task-option", f"label={label}", "--epochs", "1", "--runs", tmp_path)
    assert code == 1 and message in err and err.count("\n") == 1, err


# ------------------------------------------------------------------ the input operators

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SIZES = st.lists(st.integers(3, 40), min_size=1, max_size=3).map(lambda hidden: [24, *hidden, 4])
FUZZ = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def layered(sizes, epsilon, seed):
    from structsearch.graphs import erdos_renyi

    return erdos_renyi(sizes, epsilon, np.random.default_rng(seed))


def input_degree(graph):
    return np.bincount(graph.src[graph.src < graph.n_inputs], minlength=graph.n_inputs)


@FUZZ
@given(sizes=SIZES, epsilon=st.floats(0.5, 6.0), seed=st.integers(0, 10_000), known=st.booleans())
def test_the_input_operators_keep_genotypes_valid(sizes, epsilon, seed, known):
    from structsearch.graphs.operators import add_inputs, drop_inputs, focus_inputs

    graph = layered(sizes, epsilon, seed)
    rng = np.random.default_rng(seed)
    importance = rng.random(graph.n_inputs) if known else None
    for child in (drop_inputs(graph, rng, importance), add_inputs(graph, rng), focus_inputs(graph, rng, importance)):
        child.validate()
        assert child.n_inputs == graph.n_inputs and child.n_outputs == graph.n_outputs
        assert (input_degree(child) > 0).any()


def test_drop_inputs_disconnects_the_weakest_where_importance_is_known():
    from structsearch.graphs.operators import drop_inputs

    graph = layered([24, 16, 4], 4.0, 0)
    importance = np.arange(24, dtype=float)  # input 0 the weakest
    child = drop_inputs(graph, np.random.default_rng(0), importance, fraction=0.25)
    connected = np.flatnonzero(input_degree(graph) > 0)
    k = round(0.25 * connected.size)
    assert set(np.flatnonzero(input_degree(child) == 0)) >= set(connected[:k].tolist())


def test_focus_inputs_moves_connections_from_noise_to_the_signal_a_trained_network_found():
    """3 of 40 inputs carry the signal: a SET-trained network's importance finds them, and
    focus-inputs moves the genotype's input connections onto them."""
    from sklearn.datasets import make_classification

    from structsearch.config import ModelConfig, RewiringConfig
    from structsearch.graphs.operators import focus_inputs
    from structsearch.nn.importance import input_importance
    from structsearch.pipeline import ModelSpec, build_candidate
    from structsearch.tasks.tabular import arrays_task
    from structsearch.train import TrainConfig, train

    x, y = make_classification(n_samples=1200, n_features=40, n_informative=3, n_redundant=0, n_repeated=0,
                               n_clusters_per_class=1, shuffle=False, random_state=0)  # columns 0–2: the signal
    task = arrays_task(((x - x.mean(0)) / x.std(0)).astype(np.float32), y, 2, 0.2, 0)
    graph = layered([40, 32, 2], 3.0, 1)
    model, rule = build_candidate(graph, ModelSpec(ModelConfig(), RewiringConfig(rule="set")), task, seed=0)
    train(model, task, TrainConfig(epochs=15, optimizer="adam", lr=0.01, batch_size=32), [rule])
    importance = input_importance(model)
    assert set(np.argsort(-importance)[:3].tolist()) == {0, 1, 2}  # the importance measure finds the signal
    child = focus_inputs(graph, np.random.default_rng(0), importance, fraction=0.3)
    before, after = input_degree(graph), input_degree(child)
    assert after[:3].sum() > before[:3].sum()  # onto the signal inputs
    assert after[3:].sum() < before[3:].sum()  # off the noise


def test_a_range_of_input_densities_gives_each_candidate_its_own(capsys):
    from structsearch.search.genome import sample_genotype
    from structsearch.search.space import load_space_with_changes

    space = load_space_with_changes("digits-small", [("genotype.input_density", [0.1, 0.9]),
                                                     ("genotype.priors", ["watts-strogatz"])])
    rng = np.random.default_rng(0)
    shares = []
    for _ in range(12):
        graph = sample_genotype(space, "watts-strogatz", 64, 10, rng)
        sources = np.unique(graph.dst[graph.src < 64])  # the neurons that read inputs
        per_source = np.bincount(graph.dst[graph.src < 64], minlength=graph.n_nodes)[sources]
        shares.append(float(np.median(per_source)) / 64)
    assert min(shares) < 0.4 < 0.6 < max(shares)
    assert all(0.05 <= share <= 0.95 for share in shares)
    code, _, err = cli(capsys, "evolve", "--set", "genotype.input_density=[0.9, 0.2]", "--quiet")
    assert code == 2 and "genotype.input_density must be a number in (0, 1] or a range [low, high] of numbers" in err


def test_evolve_on_a_csv_table_searches_the_tabular_space(tmp_path, capsys):
    from sklearn.datasets import load_wine

    from structsearch.store import RunStore

    x, y = load_wine(return_X_y=True)
    write_csv(tmp_path / "wine.csv", [f"f{i}" for i in range(13)] + ["kind"],
              [[*row, f"k{label}"] for row, label in zip(x, y, strict=True)])
    code, _, err = cli(capsys, "evolve", "--task", "csv", "--task-option", f"path={tmp_path / 'wine.csv'}",
                       "--task-option", "label=kind", "--population", "2", "--generations", "1", "--epochs", "2",
                       "--workers", "1", "--quiet", "--no-report", "--runs", tmp_path, "--name", "wine")
    assert code == 0, err
    with RunStore.open(tmp_path / "wine") as store:
        assert store.config["name"] == "tabular" and store.config["task"]["name"] == "csv"
        trained = [c for c in store.candidates() if c.status == "ok"]
    assert trained and all(len(c.metrics["input_importance"]) == 13 for c in trained)
    code, _, err = cli(capsys, "evolve", "--resume", tmp_path / "wine", "--task", "digits", "--quiet")
    assert code == 2 and "--task" in err


def test_the_accumulated_importance_sums_the_strength_after_every_epoch(trained, capsys):
    from structsearch.nn.importance import ImportanceTrace, input_importance
    from structsearch.pipeline import ModelSpec, build_candidate
    from structsearch.tasks import load_task
    from structsearch.train import TrainConfig, train

    task = load_task("digits")
    model, rule = build_candidate([64, 16, 10], ModelSpec(), task, seed=0)

    class Seen:
        strengths: list = []

        def on_train_begin(self, trainer):
            pass

        def on_epoch_end(self, trainer, epoch):
            self.strengths.append(input_importance(trainer.model))

        def on_train_end(self, trainer):
            pass

    trace, seen = ImportanceTrace(k=5), Seen()
    train(model, task, TrainConfig(epochs=3), [rule, trace, seen])
    np.testing.assert_allclose(trace.accumulated, np.sum(seen.strengths, axis=0), rtol=1e-9)
    code, out, _ = cli(capsys, "features", trained, "--measure", "accumulated", "--json", "--top", "2")
    assert code == 0 and json.loads(out)["measure"] == "accumulated"


def reader_fan_in(graph) -> set[int]:
    fan_in = np.bincount(graph.dst[graph.src < graph.n_inputs], minlength=graph.n_nodes)
    return set(fan_in[fan_in > 0].tolist())


def test_an_input_density_gene_shapes_each_candidates_input_layer(capsys):
    from structsearch.search.genome import mutate, random_individual
    from structsearch.search.space import load_space_with_changes

    space = load_space_with_changes("digits-small", [
        ("genes.input_density", {"type": "float", "low": 0.1, "high": 0.9}),
        ("evolution.gene_mutation_probability", 1.0)])
    rng = np.random.default_rng(0)
    reshaped = 0
    for _ in range(6):
        individual = random_individual(space, 64, 10, rng)
        density = individual.genes["input_density"]
        assert 0.1 <= density <= 0.9
        assert reader_fan_in(individual.graph) == {max(1, round(density * 64))}
        graph, _, genes, description = mutate(space, individual, rng)
        if genes["input_density"] != density and "inputs" not in description and "edge" not in description:
            assert max(1, round(genes["input_density"] * 64)) in reader_fan_in(graph)
            reshaped += 1
    assert reshaped  # the mutated-gene check above ran at least once
    code, _, err = cli(capsys, "evolve", "reber-gru", "--set", 'genes.input_density={type="float", low=0.1, high=0.5}',
                       "--quiet")
    assert code == 2 and "an input-density gene needs model.kind = 'mlp'" in err
    code, _, err = cli(capsys, "evolve", "--set", 'genes.input_density={type="float", low=0.5, high=1.5}', "--quiet")
    assert code == 2 and "an input density is a share in (0, 1]" in err


def test_set_input_density_gives_every_reader_the_asked_share():
    from structsearch.graphs.operators import set_input_density

    graph = layered([40, 12, 8, 3], 3.0, 2)
    for density in (0.05, 0.3, 1.0):
        child = set_input_density(graph, density, np.random.default_rng(1))
        child.validate()
        assert reader_fan_in(child) == {max(1, round(density * 40))}
