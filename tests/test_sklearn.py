"""structsearch.sklearn: scikit-learn's own estimator checks, a Pipeline inside GridSearchCV on
digits, a skops round trip, and the bad inputs, each a ValueError naming what is wrong."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from structsearch.sklearn import SparseMLPClassifier, StructureSearchClassifier, load

# tiny settings: the checks fit hundreds of times on small tables
TINY = {"epochs": 25, "epsilon": 4.0, "random_state": 0}
# the searches' run folders: one path for every xdist worker (the checks' ids name it)
RUNS = os.path.join(tempfile.gettempdir(), "structsearch-sklearn-checks")
TINY_SEARCH = {"max_epochs": 12, "population": 2, "offspring": 1, "epochs": 4, "random_state": 0,
               "runs_dir": RUNS}


@parametrize_with_checks([SparseMLPClassifier(**TINY), StructureSearchClassifier(**TINY_SEARCH)])
def test_scikit_learns_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)


def test_a_pipeline_inside_grid_search_on_digits(digits):
    x_train, x_test, y_train, y_test = digits
    pipeline = make_pipeline(StandardScaler(), SparseMLPClassifier(epochs=8, random_state=0))
    grid = GridSearchCV(pipeline, {"sparsemlpclassifier__epsilon": [2.0, 10.0]}, cv=2).fit(x_train, y_train)
    assert grid.best_params_["sparsemlpclassifier__epsilon"] in (2.0, 10.0)
    assert grid.score(x_test, y_test) > 0.9
    fitted = grid.best_estimator_[-1]
    dense = 64 * 128 + 128 * 10
    assert 0 < fitted.connections_ < dense  # truly sparse


def test_labels_of_any_type_and_a_skops_round_trip(digits, tmp_path):
    import skops.io as sio

    x_train, x_test, y_train, _ = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = SparseMLPClassifier(epochs=5, random_state=1).fit(x_train / 16, names[y_train])
    assert set(clf.classes_) == set(names) and set(clf.predict(x_test / 16)) <= set(names)
    sio.dump(clf, tmp_path / "clf.skops")
    loaded = load(tmp_path / "clf.skops")
    np.testing.assert_array_equal(loaded.predict_proba(x_test / 16), clf.predict_proba(x_test / 16))
    assert loaded.get_params() == clf.get_params()


def test_pandas_frames_and_sparse_input(digits):
    import pandas as pd
    from scipy import sparse

    x_train, x_test, y_train, _ = digits
    frame = pd.DataFrame(x_train / 16, columns=[f"pixel{i}" for i in range(64)])
    clf = SparseMLPClassifier(epochs=3, random_state=0).fit(frame, y_train)
    assert list(clf.feature_names_in_) == list(frame.columns) and clf.n_features_in_ == 64
    from_sparse = SparseMLPClassifier(epochs=3, random_state=0).fit(sparse.csr_matrix(x_train / 16), y_train)
    np.testing.assert_allclose(from_sparse.predict_proba(sparse.csr_matrix(x_test / 16)),
                               clf.predict_proba(pd.DataFrame(x_test / 16, columns=frame.columns)), atol=1e-6)


@pytest.mark.parametrize("params, x, y, message", [
    ({}, [[0.0, np.nan], [1.0, 2.0]], [0, 1], "NaN"),
    ({}, [[0.0, 1.0], [1.0, 2.0]], [1, 1], "at least 2 classes"),
    ({}, [[0.0, 1.0], [1.0, 2.0]], [0, 1, 1], "inconsistent numbers of samples"),
    ({"architecture": "3-8-2"}, [[0.0, 1.0], [1.0, 2.0]], [0, 1], "starts with 3 inputs but X has 2 features"),
    ({"epochs": 0}, [[0.0, 1.0], [1.0, 2.0]], [0, 1], "training.epochs must be an integer ≥ 1"),
    ({"lr": -1.0}, [[0.0, 1.0], [1.0, 2.0]], [0, 1], "training.lr must be a number > 0"),
    ({"rule": "magic"}, [[0.0, 1.0], [1.0, 2.0]], [0, 1], "magic"),
    ({"validation_fraction": 1.0}, [[0.0, 1.0], [1.0, 2.0]], [0, 1], "validation_fraction must lie in [0, 1)"),
])
def test_bad_input_is_a_value_error_naming_it(params, x, y, message):
    with pytest.raises(ValueError, match=None) as raised:
        SparseMLPClassifier(**params).fit(np.array(x), np.array(y))
    assert message in str(raised.value)


def test_a_structure_search_on_breast_cancer_fits_predicts_and_scores_above_0_9(tmp_path):
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    search = StructureSearchClassifier(max_epochs=60, population=4, offspring=4, epochs=5, random_state=0,
                                       runs_dir=str(tmp_path))
    pipeline = make_pipeline(StandardScaler(), search).fit(x_train, y_train)
    assert pipeline.score(x_test, y_test) > 0.9
    fitted = pipeline[-1]
    assert fitted.search_["trained"] == len(fitted.cv_results_["id"]) > 0
    assert sum(fitted.cv_results_["cost_epochs"]) <= 60 + 5  # the budget, overshot by at most one candidate
    assert fitted.best_estimator_.genotype.endswith(f"genotype-{fitted.search_['best_id']}.json")
    assert fitted.best_genotype_["n_inputs"] == 30
    best = fitted.cv_results_["id"].index(fitted.search_["best_id"])
    assert fitted.cv_results_["val_accuracy"][best] == max(v for v in fitted.cv_results_["val_accuracy"]
                                                            if v is not None)


def test_a_structure_search_refuses_a_budget_of_zero_and_an_unknown_space(tmp_path):
    x, y = np.random.default_rng(0).random((20, 3)), np.arange(20) % 2
    with pytest.raises(ValueError, match="max_epochs .* must be a positive integer, got 0"):
        StructureSearchClassifier(max_epochs=0, runs_dir=str(tmp_path)).fit(x, y)
    with pytest.raises(ValueError, match="nosuch"):
        StructureSearchClassifier(space="nosuch", runs_dir=str(tmp_path)).fit(x, y)


def test_a_refitted_search_pick_round_trips_with_skops_without_its_run_folder(tmp_path):
    import shutil

    import skops.io as sio
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    search = StructureSearchClassifier(max_epochs=20, population=3, offspring=2, epochs=4, random_state=0,
                                       runs_dir=str(tmp_path / "runs")).fit(x, y)
    sio.dump(search, tmp_path / "search.skops")
    shutil.rmtree(tmp_path / "runs")  # the genotype file the pick was refitted from is gone
    loaded = load(tmp_path / "search.skops")
    np.testing.assert_array_equal(loaded.predict_proba(x), search.predict_proba(x))


def test_a_structure_search_trains_its_candidates_on_a_dask_client(tmp_path):
    from distributed import Client, LocalCluster
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        search = StructureSearchClassifier(max_epochs=16, population=2, offspring=2, epochs=4, random_state=0,
                                           client=client, runs_dir=str(tmp_path)).fit(x, y)
    local = StructureSearchClassifier(max_epochs=16, population=2, offspring=2, epochs=4, random_state=0,
                                      runs_dir=str(tmp_path)).fit(x, y)
    assert search.search_["trained"] == local.search_["trained"] > 0
    assert search.cv_results_["val_accuracy"] == local.cv_results_["val_accuracy"]  # the same search, elsewhere


def test_a_structure_search_takes_a_space_file_and_refuses_one_the_table_cannot_take(tmp_path):
    from importlib import resources

    x, y = np.random.default_rng(0).normal(size=(60, 4)), np.arange(60) % 2
    text = resources.files("structsearch").joinpath("search_spaces/tabular.toml").read_text()
    (tmp_path / "mine.toml").write_text(text.replace('name = "tabular"', 'name = "mine"'))
    search = StructureSearchClassifier(space=str(tmp_path / "mine.toml"), max_epochs=12, population=2, offspring=2,
                                       epochs=3, random_state=0, runs_dir=str(tmp_path / "runs")).fit(x, y)
    assert search.search_["trained"] >= 2
    with pytest.raises(ValueError, match="space 'reber-gru': .*rnn"):
        StructureSearchClassifier(space="reber-gru", max_epochs=4, runs_dir=str(tmp_path / "runs")).fit(x, y)
