"""`structsearch report`: a real tiny search reported, its numbers against the store, the HTML and
images checked, runs compared, and bad input."""

from __future__ import annotations

import html.parser
import re

import pytest

from structsearch.commands import main
from structsearch.store import RunStore

TINY = ["--population", "5", "--generations", "1", "--epochs", "1", "--workers", "1", "--quiet",
        "--set", "genotype.nodes=[10, 16]", "--set", "genotype.erdos-renyi.width=[8, 16]",
        "--set", "gate.predictor=online", "--set", "gate.warmup=3", "--set", "evolution.offspring=6",
        "--set", "gate.audit=1", "--selection", "tournament"]
PNG = b"\x89PNG\r\n\x1a\n"


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.headings, self.images, self.links, self.cells, self._in = [], [], [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        for key in ("src", "href"):
            if key in attrs:
                self.links.append(attrs[key])
        self._in = tag

    def handle_data(self, data):
        if self._in == "h2":
            self.headings.append(data)
        elif self._in in ("td", "th"):
            self.cells.append(data)

    def handle_endtag(self, tag):
        self._in = None


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    """A tiny real search whose report evolve writes itself (the report is on by default)."""
    where = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STRUCTSEARCH_REPORT", "1")
        assert main(["evolve", "--runs", str(where), "--name", "run", *TINY]) == 0
    return where / "run"


def parsed(path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_evolve_writes_a_report_with_every_section_and_the_stores_numbers(search):
    page = parsed(search / "report.html")
    for title in ("Runs", "Progress", "Generations — run", "Pareto front", "Gate — run", "Diversity — run",
                  "Best genotype — run", "Predictor — run"):
        assert title in page.headings, title
    assert not [link for link in page.links if "http" in link]  # self-contained: nothing to fetch
    for src in page.images:
        data = __import__("base64").b64decode(src.removeprefix("data:image/png;base64,"))
        assert data.startswith(PNG) and len(data) > 1000
        import matplotlib.image

        assert matplotlib.image.imread(__import__("io").BytesIO(data), format="png").shape[0] > 50
    with RunStore.open(search) as store:
        trained = [c for c in store.candidates() if c.status == "ok" and not c.metrics.get("duplicate_of")]
        best = max(trained, key=lambda c: (c.metrics["val_accuracy"], -c.id))
        generations = store.events("generation")
    assert f"{best.metrics['val_accuracy']:.4f}" in page.cells and str(best.id) in page.cells
    text = (search / "report.html").read_text(encoding="utf-8")
    table = text[text.index("Generations — run"):text.index("Pareto front")]
    rows = re.findall(r"<tr>(.*?)</tr>", table)[1:]
    assert len(rows) == len(generations)
    for row, event in zip(rows, generations, strict=True):
        cells = re.findall(r"<td>(.*?)</td>", row)
        assert cells[:6] == [str(event[k]) for k in ("generation", "children", "duplicates", "scored", "kept",
                                                     "dropped")]


def test_two_runs_share_one_progress_plot_and_markdown_writes_pngs(search, tmp_path):
    from structsearch.report import open_runs, progress_plot

    assert main(["evolve", "--runs", str(tmp_path), "--name", "random", *TINY, "--selection", "random",
                 "--seed", "3", "--generations", "0"]) == 0
    runs = open_runs([search, tmp_path / "random"])
    labels = progress_plot(runs).axes[0].get_legend_handles_labels()[1]
    assert any(label.startswith("tournament + gate") for label in labels)
    assert any(label.startswith("random, seed 3") for label in labels)
    assert main(["report", str(search), str(tmp_path / "random"), "--out", str(tmp_path / "md"),
                 "--format", "md"]) == 0
    markdown = next((tmp_path / "md").glob("*.md")).read_text()
    pictures = re.findall(r"!\[[^]]*\]\(([^)]+)\)", markdown)
    assert pictures and all((tmp_path / "md" / name).read_bytes().startswith(PNG) for name in pictures)
    assert markdown.count("## Progress") == 1


def test_bad_input_gives_one_line_errors_and_an_empty_run_a_report_saying_so(search, tmp_path, capsys):
    def error_of(*argv) -> str:
        assert main(["report", *argv]) in (1, 2)
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        return err

    assert "not a run directory (no run.db in it)" in error_of(str(tmp_path))
    RunStore.create(tmp_path / "reber", {"task": {"name": "reber"}, "seed": 0}, kind="evolve").close()
    message = error_of(str(search), str(tmp_path / "reber"))
    assert "'digits'" in message and "'reber'" in message and "--allow-mixed" in message
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert "cannot write there" in error_of(str(search), "--out", str(blocked / "sub"))
    assert main(["report", str(tmp_path / "reber")]) == 0
    assert "No trained candidates" in parsed(tmp_path / "reber" / "report.html").headings


def test_tables_at_80_columns_wrap_names_structures_and_origins_instead_of_cutting_them(monkeypatch, capsys):
    import json

    from rich.console import Console

    from structsearch.search.space import builtin_spaces
    from structsearch.tables import Column, fitted_table

    monkeypatch.setenv("COLUMNS", "80")
    assert main(["spaces"]) == 0
    out = capsys.readouterr().out
    assert "…" not in out and all(name in out for name in builtin_spaces())
    assert max(len(line) for line in out.splitlines()) <= 80
    assert main(["spaces", "--json"]) == 0
    assert {row["name"] for row in json.loads(capsys.readouterr().out)} == set(builtin_spaces())
    assert main(["tasks", "--json"]) == 0
    assert "digits" in {row["task"] for row in json.loads(capsys.readouterr().out)}
    # the evolve summary's columns: the identifying ones wrap, the others are dropped first
    columns = [Column("id", identifies=True), Column("gen", priority=2), Column("structure", identifies=True),
               Column("connections", priority=3), Column("val acc", priority=5), Column("test acc", priority=4),
               Column("train s", priority=1), Column("origin", identifies=True)]
    origin = "crossover:matching-layers + mutation:rewire-fraction + genes:lr,batch_size"
    rows = [["1234", "12", "500-560-1200-300-10 skip 4821", "1,234,567", "0.8512", "0.8420", "123.4", origin]]
    console = Console(width=80, record=True, file=__import__("io").StringIO())
    table = fitted_table("best", columns, rows, 80)
    console.print(table)
    text = console.export_text()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    assert "500-560-1200-300-10" in text and "crossover:matching-layers" in text and "1234" in text
    assert [c.header for c in table.columns][:1] == ["id"] and "train s" not in [c.header for c in table.columns]


def test_a_study_and_an_experiment_directory_are_reported(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import TrialState, create_trial

    journal = tmp_path / "lr.journal"
    study = optuna.create_study(study_name="lr", direction="maximize",
                                storage=JournalStorage(JournalFileBackend(str(journal))))
    space = {"lr": FloatDistribution(1e-4, 1e-1, log=True), "drop_fraction": FloatDistribution(0.1, 0.5)}
    for k in range(6):
        params = {"lr": 10 ** (-3 + 0.3 * k), "drop_fraction": 0.1 + 0.05 * k}
        study.add_trial(create_trial(params=params, distributions=space, value=0.5 + 0.05 * k,
                                     user_attrs={"test_accuracy": 0.45 + 0.05 * k}))
    study.add_trial(create_trial(params={"lr": 0.5e-3, "drop_fraction": 0.2}, distributions=space,
                                 state=TrialState.PRUNED, intermediate_values={0: 0.3}))
    experiment = tmp_path / "set-vs-motif"
    experiment.mkdir()
    figure, ax = plt.subplots()
    ax.plot([1, 2, 3])
    figure.savefig(experiment / "curves.png")
    plt.close(figure)
    (experiment / "mnist_pruning.csv").write_text(
        "network,method,compression,test_accuracy_retrained\n784-100-10,none,0.0,0.9801\n"
        "784-100-10,magnitude-blinded,80.0,0.9788\n784-100-10,magnitude-uniform,80.0,0.9712\n")
    (experiment / "set_vs_motif.csv").write_text(
        "rule,epsilon,test_accuracy,train_seconds\nset,2,0.80,10\nset-motif,2,0.78,7\n"
        "set,4,0.82,12\nset-motif,4,0.81,9\n")
    (experiment / "correlations.csv").write_text("feature,pearson_r\ndensity,0.4\n")

    assert main(["report", str(journal), str(experiment), "--out", str(tmp_path / "out")]) == 0
    page = parsed(next((tmp_path / "out").glob("*.html")))
    assert {"Study lr", "Parameter importances — lr", "Experiment set-vs-motif", "curves.png",
            "mnist_pruning.csv", "mnist_pruning.csv beside the published figures"} <= set(page.headings)
    assert "6 complete, 1 pruned" in (tmp_path / "out" / next((tmp_path / "out").glob("*.html")).name).read_text()
    assert {"drop_fraction", "lr", "magnitude-uniform", "0.9712"} <= set(page.cells)
    # the published figure beside this run's: the class-blinded row at 80 %, not the uniform one
    at = page.cells.index("test accuracy, class-blinded magnitude pruning at 80 % compression, retrained")
    assert page.cells[at + 1 : at + 3] == ["0.9788", "0.9750"]
    at = page.cells.index("points gained over the unpruned network by that pruned and retrained one")
    assert page.cells[at + 1 : at + 3] == ["-0.1300", "0.5000"]
    at = page.cells.index("class-uniform minus class-blinded at 80 %, retrained, points")
    assert page.cells[at + 1] == "-0.7600"
    # Su 2022's claim beside a set-vs-motif run: time ratio (16 / 22) and accuracy difference
    at = page.cells.index("SET-motif's training seconds ÷ SET's (mean over the runs)")
    assert page.cells[at + 1] == "0.7273"
    at = page.cells.index("SET-motif's test accuracy minus SET's, points (mean over the runs)")
    assert page.cells[at + 1] == "-1.5000"
    # a reproduced table whose published values are not at hand says so instead of inventing them
    at = page.cells.index("Pearson correlations of graph features with accuracy (their Table 1)")
    assert page.cells[at + 1 : at + 3] == ["1 features", "no published figure at hand"]
    assert len(page.images) == 2


def test_the_report_renders_in_a_real_browser(search, tmp_path, chromium):
    """Headless Chromium opens the report: every image loads with a non-zero size and the console
    shows no error."""
    chromium.get((search / "report.html").as_uri())
    images = chromium.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    errors = [entry for entry in chromium.get_log("browser") if entry["level"] == "SEVERE"]
    chromium.save_screenshot(str(tmp_path / "report-top.png"))
    assert len(images) >= 5 and all(done and width > 0 and height > 0 for done, width, height in images), images
    assert errors == []
    assert (tmp_path / "report-top.png").read_bytes().startswith(PNG)


def test_the_gate_stands_beside_the_parameter_count_on_the_same_children(search):
    from scipy import stats

    from structsearch.report import gate_against_size, load_search

    text = (search / "report.html").read_text(encoding="utf-8")
    assert "Gate against the parameter count — run" in text
    run = load_search(search)
    comparison = gate_against_size(run)
    scored = [c for c in run.trained() if c.prediction is not None and c.metrics.get("val_accuracy") is not None]
    accuracy = [c.metrics["val_accuracy"] for c in scored]
    size = [c.metrics.get("connections", c.genotype.connections) for c in scored]
    overall = comparison["online"][-1]
    assert overall["generation"] == "all" and overall["children"] == len(scored) >= 2
    assert overall["connections"] == pytest.approx(stats.kendalltau(size, accuracy).statistic)
    assert overall["gate"] == pytest.approx(stats.kendalltau([c.prediction for c in scored], accuracy).statistic)
    section = text[text.index("Gate against the parameter count"):]
    assert f"{overall['connections']:.3f}" in section and f"{overall['gate']:.3f}" in section
    assert ("does <b>not</b> beat the parameter count" in section) == (overall["gate"] <= overall["connections"])


def test_the_best_candidate_shows_which_inputs_it_uses_as_an_image_of_the_digits(search):
    from structsearch.report import load_search

    run = load_search(search)
    assert run.input_shape == [8, 8]
    best = run.best()
    assert len(best.metrics["input_importance"]) == 64
    text = (search / "report.html").read_text(encoding="utf-8")
    section = text[text.index("Best genotype — run"):]
    assert "which inputs it uses" in section
    caption = section.index("which inputs it uses")
    image = section[caption:].split("src='data:image/png;base64,", 1)[1].split("'", 1)[0]
    import base64
    import io

    import matplotlib.image

    picture = matplotlib.image.imread(io.BytesIO(base64.b64decode(image)), format="png")
    assert picture.shape[1] < 700  # the 5-inch square image of the 8×8 grid, not the 8-inch bar chart
