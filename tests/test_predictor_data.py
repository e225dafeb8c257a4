"""Predictors on any meta-dataset: foreign column names, feature selection, grouped
cross-validation, and one-line errors for what a table can get wrong."""

import json

import networkx as nx
import numpy as np
import pytest

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
    code, out, _ = cli(capsys, "predictor", "evaluate", str(tmp_path / "p" / "foreign.skops"), str(meta))
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
    (["--features", "numeric", "--target", "score", "--group", "family", "--folds", "7"], "6 distinct values"),
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
