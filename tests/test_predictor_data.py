"""Predictors on any meta-dataset: foreign column names, feature selection, grouped
cross-validation, and one-line errors for what a table can get wrong."""

import json

import networkx as nx
import numpy as np
import pytest
from helpers import search_table

from structsearch.commands import main
from structsearch.meta import read_table, write_table
from structsearch.predictors.evaluation import _splits, single_split
from structsearch.predictors.model import make_pipeline
from structsearch.predictors.workflow import select_features

PRIORS = ("erdos", "watts", "barabasi", "regular", "tree", "path")


def draw(family: str, n: int, seed: int) -> nx.Graph:
    if family == "erdos":
        return nx.gnp_random_graph(n, 0.2, seed=seed)
    if family == "watts":
        return nx.watts_strogatz_graph(n, 4, 0.3, seed=seed)
    if family == "barabasi":
        return nx.barabasi_albert_graph(n, 2, seed=seed)
    if family == "regular":
        return nx.random_regular_graph(4, n - n % 2, seed=seed)
    if family == "tree":
        return nx.random_labeled_tree(n, seed=seed)
    return nx.path_graph(n)


def foreign_table(per_prior=8, seed=0) -> dict[str, list]:
    """Graph properties of real networkx graphs under another project's column names; the target
    ``score`` depends on density and clustering, with noise."""
    rng = np.random.default_rng(seed)
    rows = {"graph_id": [], "row": [], "family": [], "n_nodes": [], "n_edges": [], "density": [],
            "avg_clustering": [], "max_degree": [], "score": []}
    for family in PRIORS:
        for i in range(per_prior):
            n = int(rng.integers(12, 30))
            s = int(rng.integers(0, 10_000))
            graph = draw(family, n, s)
            density, clustering = nx.density(graph), nx.average_clustering(graph)
            rows["graph_id"].append(f"{family}-{i}")
            rows["row"].append(len(rows["row"]))
            rows["family"].append(family)
            rows["n_nodes"].append(graph.number_of_nodes())
            rows["n_edges"].append(graph.number_of_edges())
            rows["density"].append(density)
            rows["avg_clustering"].append(clustering)
            rows["max_degree"].append(max(d for _, d in graph.degree()))
            rows["score"].append(0.5 + density + 0.5 * clustering + rng.normal(0, 0.01))
    return rows


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_numeric_features_on_a_foreign_csv_with_grouped_cross_validation(tmp_path, capsys):
    meta = tmp_path / "foreign.csv"
    write_table(foreign_table(), meta)
    code, out, err = cli(capsys, "predictor", "train", str(meta), "--features", "numeric", "--target", "score",
                         "--group", "family", "--folds", "3", "--repeats", "2", "--out-dir", str(tmp_path / "p"),
                         "--name", "foreign")
    assert code == 0, err
    card = json.loads((tmp_path / "p" / "foreign.json").read_text())
    # the id (a string), the row counter, the group and the target are not features
    assert card["features"] == ["n_nodes", "n_edges", "density", "avg_clustering", "max_degree"]
    assert card["feature_selection"]["group"] == "family"
    assert card["evaluation"]["cross_validation"]["grouped"] is True
    assert card["evaluation"]["cross_validation"]["kendall_tau"]["mean"] > 0.3  # density carries the signal
    assert "grouped by family" in out
    code, out, _ = cli(capsys, "predictor", "evaluate", str(tmp_path / "p" / "foreign.skops"), str(meta), "--json")
    assert code == 0 and json.loads(out)["rows"] == len(PRIORS) * 8


def test_names_globs_and_exclusions_choose_the_columns(tmp_path):
    table = {k: np.asarray(v, dtype=object if k in ("graph_id", "family") else float)
             for k, v in foreign_table(per_prior=2).items()}
    assert select_features(table, "t.csv", "score", "n_*,density") == ["n_nodes", "n_edges", "density"]
    assert select_features(table, "t.csv", "score", "numeric", exclude="n_*,max_degree") == ["density",
                                                                                           "avg_clustering"]
    assert "row" not in select_features(table, "t.csv", "score", "numeric")


def test_grouped_folds_never_split_a_group():
    groups = np.repeat(np.array(PRIORS, dtype=object), 5)
    x = np.arange(groups.size, dtype=float)[:, None]
    splits = list(_splits(x, 3, 2, 0, groups))
    assert len(splits) == 6
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])


def test_a_one_row_hold_out_scores_null_with_a_reason(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.random((10, 2)), rng.random(10)
    single = single_split(make_pipeline("bayesian-ridge"), x, y, 0.1)
    assert single["test_rows"] == 1 and single["r2"] is None and "at least 2" in single["note"]
    table = {"a": list(x[:, 0]), "b": list(x[:, 1]), "target": list(y)}
    write_table(table, tmp_path / "ten.csv")
    assert main(["predictor", "train", str(tmp_path / "ten.csv"), "--features", "numeric", "--target", "target",
                 "--folds", "2", "--repeats", "1", "--out-dir", str(tmp_path / "p"), "--name", "ten",
                 "--model", "bayesian-ridge"]) == 0

    def no_nan(text):
        raise AssertionError(f"{text} in the model card")

    card = json.loads((tmp_path / "p" / "ten.json").read_text(), parse_constant=no_nan)
    assert card["evaluation"]["single_10pct_split"]["r2"] is None


@pytest.mark.parametrize("argv,message", [
    (["--features", "numeric", "--target", "score", "--group", "prior"], "no column 'prior' (--group)"),
    (["--features", "nodes", "--target", "score"], "--features 'nodes': "),
    (["--features", "deg_*", "--target", "score"], "--features 'deg_*' matches no column"),
    (["--features", "numeric", "--target", "score", "--exclude", "zzz"], "--exclude 'zzz'"),
    (["--features", "numeric", "--target", "accuracy"], "no column 'accuracy' (--target)"),
    (["--features", "numeric", "--target", "score", "--folds", "1"], "--folds 1: cross-validation needs at least 2"),
    (["--target", "score"], "choose its own with --features"),
    (["--features", "numeric", "--target", "score", "--group", "graph_id", "--folds", "30"], "at most 12 folds"),
    (["--features", "numeric", "--target", "score", "--baseline", "graph_id"], "must be a numeric column"),
    (["--features", "numeric", "--target", "score", "--baseline", "params"], "no column 'params' (--baseline)"),
    (["--features", "graph_id", "--target", "score"], "'graph_id' must be numeric"),
])
def test_bad_feature_choices_are_one_line_errors(tmp_path, capsys, argv, message):
    meta = tmp_path / "foreign.csv"
    write_table(foreign_table(per_prior=4), meta)
    code, _, err = cli(capsys, "predictor", "train", str(meta), "--out-dir", str(tmp_path / "p"), *argv)
    assert code in (1, 2) and message in err and err.count("\n") == 1, err


def test_infinite_values_and_empty_files_are_named(tmp_path, capsys):
    table = foreign_table(per_prior=4)
    table["density"][3] = float("inf")
    write_table(table, tmp_path / "inf.csv")
    code, _, err = cli(capsys, "predictor", "train", str(tmp_path / "inf.csv"), "--features", "numeric",
                       "--target", "score", "--out-dir", str(tmp_path / "p"))
    assert code == 1 and "inf.csv: column 'density' has 1 infinite value(s)" in err
    (tmp_path / "empty.csv").write_text("")
    code, _, err = cli(capsys, "predictor", "train", str(tmp_path / "empty.csv"), "--features", "numeric",
                       "--out-dir", str(tmp_path / "p"))
    assert code == 1 and "empty.csv: cannot read as CSV (the file is empty)" in err
    assert read_table(tmp_path / "inf.csv")["density"][3] == float("inf")


# for the tests of the table's handling (grouping, target, baseline column), where the model is beside
# the point: Bayesian ridge fits in milliseconds, a 300-tree forest in a second
FAST = ("--model", "bayesian-ridge")


def train_card(tmp_path, capsys, table, *argv):
    write_table({k: list(v) for k, v in table.items()}, tmp_path / "meta.csv")
    code, out, err = cli(capsys, "predictor", "train", str(tmp_path / "meta.csv"), "--out-dir", str(tmp_path / "p"),
                         "--name", "p", "--repeats", "1", "--overwrite", *argv)
    assert code == 0, err
    return json.loads((tmp_path / "p" / "p.json").read_text()), out


def test_where_size_decides_the_model_does_not_beat_the_baseline_and_says_so(tmp_path, capsys):
    card, out = train_card(tmp_path, capsys, search_table("size"))
    baseline = card["evaluation"]["baseline"]
    cv = card["evaluation"]["cross_validation"]
    assert baseline["column"] == "connections"
    assert cv["kendall_tau"]["mean"] <= baseline["cross_validation"]["kendall_tau"]["mean"]
    assert baseline["beats_baseline"] is False
    assert baseline["difference"]["kendall_tau"] == pytest.approx(
        cv["kendall_tau"]["mean"] - baseline["cross_validation"]["kendall_tau"]["mean"])
    assert "the model does NOT beat connections alone" in out
    assert out.splitlines()[0].startswith("target: val_accuracy")


def test_where_a_non_size_feature_decides_the_model_beats_the_baseline(tmp_path, capsys):
    card, out = train_card(tmp_path, capsys, search_table("density"))
    baseline = card["evaluation"]["baseline"]
    assert baseline["beats_baseline"] is True
    assert card["evaluation"]["cross_validation"]["kendall_tau"]["mean"] > \
        baseline["cross_validation"]["kendall_tau"]["mean"] + 0.3
    assert "the model ranks better than connections alone" in out
    # evaluate scores the baseline the card stores beside the model, with the difference
    code, out, _ = cli(capsys, "predictor", "evaluate", str(tmp_path / "p" / "p.skops"), str(tmp_path / "meta.csv"),
                       "--json")
    result = json.loads(out)
    assert code == 0 and result["baseline"]["column"] == "connections" and result["beats_baseline"] is True
    assert result["difference"]["kendall_tau"] == pytest.approx(result["kendall_tau"]
                                                                - result["baseline"]["kendall_tau"])
    code, out, _ = cli(capsys, "predictor", "evaluate", str(tmp_path / "p" / "p.skops"), str(tmp_path / "meta.csv"))
    assert code == 0 and out.startswith("target: val_accuracy") and "ranks better than connections alone" in out


@pytest.mark.parametrize("rows, columns", [(20, 6), (300, 70)])  # one prediction call, and two
def test_permutation_drops_are_scikit_learns_permutation_importance(rows, columns):
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    from structsearch.predictors.evaluation import permutation_drops

    rng = np.random.default_rng(1)
    x = rng.random((rows, columns))
    y = 2 * x[:, 0] + x[:, 1] + rng.normal(0, 0.1, rows)
    model = RandomForestRegressor(n_estimators=20, random_state=0).fit(x, y)
    drops = permutation_drops(model, x, y, n_repeats=7, seed=3)
    expected = permutation_importance(model, x, y, n_repeats=7, random_state=3, scoring="r2").importances
    np.testing.assert_allclose(drops, expected, rtol=0, atol=1e-12)
    assert drops[0].mean() > drops[2:].mean(axis=1).max()  # the column y depends on most matters most


def test_the_size_baseline_ranks_exactly_as_the_size_column():
    from structsearch.predictors.evaluation import SizeBaseline, scores

    rng = np.random.default_rng(3)
    size = rng.uniform(1, 100, 80)
    for sign in (1, -1):
        y = sign * np.sqrt(size) + rng.normal(0, 1.0, 80)
        baseline = SizeBaseline().fit(size[:, None], y)
        tau = scores(y, baseline.predict(size[:, None]))["kendall_tau"]
        from scipy import stats

        assert tau == pytest.approx(abs(stats.kendalltau(size, y).statistic))
        again = SizeBaseline.from_json(json.loads(json.dumps(baseline.to_json())))
        np.testing.assert_array_equal(again.predict(size[:, None]), baseline.predict(size[:, None]))


@pytest.mark.slow
def test_run_and_generation_columns_group_the_folds_by_default(tmp_path, capsys):
    table = search_table("density", runs=3)
    card, out = train_card(tmp_path, capsys, table, "--folds", "3", *FAST)
    assert card["evaluation"]["grouping"] == {"column": "run", "folds": 3, "default": True}
    assert card["evaluation"]["cross_validation"]["grouped"] is True
    assert "grouped by run (the default" in out
    single = {k: (v if k != "run" else np.array(["only"] * v.size, dtype=object)) for k, v in table.items()}
    card, out = train_card(tmp_path, capsys, single, "--folds", "3", *FAST)
    assert card["evaluation"]["grouping"]["column"] == "generation"
    card, out = train_card(tmp_path, capsys, table, "--folds", "3", "--group", "none", *FAST)
    assert card["evaluation"]["grouping"]["column"] is None
    assert card["evaluation"]["cross_validation"]["grouped"] is False and "plain (ungrouped) folds" in out


def test_two_runs_and_five_folds_fall_back_to_two_folds_with_a_note(tmp_path, capsys):
    card, out = train_card(tmp_path, capsys, search_table("density", runs=2), *FAST)
    assert card["evaluation"]["cross_validation"]["folds"] == 2
    assert "note: 2 distinct run values for 5 folds: 2-fold grouped cross-validation" in out
    assert card["evaluation"]["notes"] == ["2 distinct run values for 5 folds: 2-fold grouped cross-validation"]


def test_the_target_defaults_to_validation_accuracy_and_test_accuracy_stays_available(tmp_path, capsys):
    card, out = train_card(tmp_path, capsys, search_table("size"), "--target", "test_accuracy", *FAST)
    assert card["target"] == "test_accuracy" and out.splitlines()[0] == "target: test_accuracy"
    table = {k: v for k, v in search_table("size").items() if k != "val_accuracy"}
    card, out = train_card(tmp_path, capsys, table, *FAST)
    assert card["target"] == "test_accuracy" and out.startswith("target: test_accuracy (default)")


def test_a_foreign_file_takes_its_largest_size_like_column_as_the_baseline(tmp_path, capsys):
    write_table(foreign_table(), tmp_path / "foreign.csv")
    code, out, err = cli(capsys, "predictor", "train", str(tmp_path / "foreign.csv"), "--features", "numeric",
                         "--target", "score", "--repeats", "1", "--out-dir", str(tmp_path / "p"), "--name", "f", *FAST)
    assert code == 0, err
    card = json.loads((tmp_path / "p" / "f.json").read_text())
    assert card["evaluation"]["baseline"]["column"] == "n_edges" and "n_edges alone" in out
    code, out, err = cli(capsys, "predictor", "train", str(tmp_path / "foreign.csv"), "--features", "numeric",
                         "--target", "score", "--repeats", "1", "--out-dir", str(tmp_path / "p"), "--name", "g",
                         "--baseline", "none", *FAST)
    assert code == 0 and "baseline" not in json.loads((tmp_path / "p" / "g.json").read_text())["evaluation"]
