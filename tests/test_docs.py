"""The documentation: the public API's docstrings, the README, the results records, the site."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import structsearch.api as api
from structsearch.commands._reference import README_END, README_START, load_records, readme_table
from structsearch.provenance import RECORD_KEYS

ROOT = Path(__file__).resolve().parents[1]


def _parameters(obj) -> list[str]:
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return []
    return [name for name, p in signature.parameters.items()
            if name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


@pytest.mark.parametrize("name", api.__all__)
def test_every_public_name_has_a_numpy_docstring(name):
    obj = getattr(api, name)
    doc = inspect.getdoc(obj) or ""
    assert doc and not doc.startswith(f"{name}("), f"{name} has no docstring of its own"
    if _parameters(obj):
        assert re.search(r"^Parameters\n-{10}$", doc, re.M), f"{name}: no Parameters section"
        for parameter in _parameters(obj):
            assert re.search(rf"^{parameter}\b|^[\w, ]*\b{parameter}\b[\w, ]* :", doc, re.M), (name, parameter)
    if inspect.isfunction(obj):
        returns = inspect.signature(obj).return_annotation
        if returns not in (None, "None", inspect.Signature.empty):
            assert re.search(r"^Returns\n-{7}$", doc, re.M), f"{name}: no Returns section"


def test_the_api_is_named_in_one_place():
    assert len(api.__all__) == len(set(api.__all__))
    assert all(hasattr(api, name) for name in api.__all__)


# --------------------------------------------------------------------------------------- README


def test_the_readme_is_short_and_opens_with_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert blocks[0].strip().startswith("pip install -c constraints.txt -e \".[dev]\" && structsearch evolve")
    assert blocks[1].strip() == "python -m pytest -q -n 2"
    ci = (ROOT / ".ci" / "run").read_text()
    assert blocks[1].strip() in ci


def test_the_readme_results_table_is_rendered_from_the_records():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index(README_START) + len(README_START):text.index(README_END)].strip()
    assert block == readme_table(load_records(ROOT / "docs" / "results" / "data"))


def test_a_record_paired_into_a_combination_shows_through_it_in_the_readme():
    def record(command, reused=None, value="+1.0"):
        return {"command": command, "date": "2026-12-07", "conditions": {"reused": reused},
                "headline": [{"what": "pooled − random", "value": value}]}

    records = {"first": record("python benchmarks/search_efficiency.py --seeds 0 1", value="+4.0"),
               "second": record("python benchmarks/search_efficiency.py --seeds 2 3", value="+0.5"),
               "against": record("python benchmarks/search_efficiency.py --against d/first.json",
                                 {"record": "d/first.json", "methods": ["random"]}, value="+3.0"),
               "both": record("python benchmarks/search_efficiency.py --combine --against d/first.json d/second.json",
                              {"record": ["d/first.json", "d/second.json"], "methods": ["random", "pooled"]},
                              value="+2.2")}
    table = readme_table(records)
    assert "[both, 2026-12-07]" in table and "[against, 2026-12-07]" in table
    assert "first" not in table and "second" not in table and "+4.0" not in table
    # --against alone reuses methods and folds nothing
    del records["both"]
    assert "[first, 2026-12-07]" in readme_table(records) and "[second, 2026-12-07]" in readme_table(records)


def test_the_readme_and_docs_name_no_missing_file():
    """Every relative link of the README and of the hand-written pages points at a file in the checkout
    (the generated pages are checked by mkdocs build --strict)."""
    pages = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            path = (page.parent / target).resolve()
            generated = ROOT / "docs" / "reference", ROOT / "docs" / "results", ROOT / "docs" / "examples"
            if any(path.is_relative_to(folder) for folder in generated) and path.suffix == ".md":
                continue
            assert path.exists(), f"{page.relative_to(ROOT)} links to a missing {target}"
    assert "DESIGN.md" not in (ROOT / "README.md").read_text()


# -------------------------------------------------------------------------------------- results


RECORDS = sorted((ROOT / "docs" / "results" / "data").glob("*.json"))


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.stem)
def test_every_record_says_where_its_figures_came_from(path):
    record = json.loads(path.read_text(encoding="utf-8"))
    assert set(RECORD_KEYS) <= set(record)
    assert record["figures"] and record["command"] and re.fullmatch(r"\d{4}-\d{2}-\d{2}", record["date"])
    assert re.fullmatch(r"[0-9a-f]{7,40}(\+changes)?", record["commit"])
    machine = record["machine"]
    assert (machine.get("cpu") and machine.get("cores")) if isinstance(machine, dict) else "core" in machine


def _numbers(value) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return []


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.stem)
def test_every_headline_figure_is_in_its_record(path):
    """A headline (the README's table) quotes only numbers its record holds, at the precision shown."""
    record = json.loads(path.read_text(encoding="utf-8"))
    held = _numbers(record["figures"])
    for headline in record.get("headline", []):
        for text in re.findall(r"[+-]?\d+(?:\.\d+)?", headline["value"].replace("−", "-")):
            decimals = len(text.split(".")[1]) if "." in text else 0
            assert any(round(h, decimals) == float(text) for h in held), (headline, text)


def test_a_benchmark_writes_a_record_with_its_provenance(tmp_path):
    out = tmp_path / "features.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "features.py"), "--record", str(out)],
                   check=True, capture_output=True, cwd=ROOT)
    record = json.loads(out.read_text())
    assert record["command"].startswith("python benchmarks/features.py") and "--record" not in record["command"]
    assert record["machine"]["cores"] >= 1 and record["conditions"]["load_start"]
    assert record["figures"] and "conditions" not in record["figures"]


# ----------------------------------------------------------------------------------------- site


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The documentation built as CI builds it (mkdocs build --strict)."""
    pytest.importorskip("mkdocs", reason="needs mkdocs-material (pip install -e '.[dev]')")
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_the_site_has_the_generated_references_and_results(site):
    configuration = (site / "reference" / "configuration.html").read_text(encoding="utf-8")
    assert "evolution.population" in configuration and "genotype.watts-strogatz.k" in configuration
    assert "structsearch evolve" in (site / "reference" / "cli.html").read_text(encoding="utf-8")
    api_page = (site / "reference" / "api.html").read_text(encoding="utf-8")
    assert all(name in api_page for name in ("load_space", "Search", "SparseLinear", "StructureSearchClassifier"))
    for name in (p.stem for p in RECORDS):
        page = (site / "results" / f"{name}.html").read_text(encoding="utf-8")
        assert "Provenance" in page and "commit" in page


def test_a_newcomer_finds_how_to_write_a_search_space_in_two_clicks(site):
    home = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="guide/search-spaces.html#write-your-own-search-space"' in home
    assert 'id="write-your-own-search-space"' in (site / "guide" / "search-spaces.html").read_text(encoding="utf-8")


def test_the_site_opens_in_a_real_browser(site, chromium):
    """Headless Chromium opens the home page, the configuration reference and a results page of the
    built site, served on loopback: each has its title, its images load, and the console shows no error."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    pages = {"index.html": "structsearch", "reference/configuration.html": "Configuration reference",
             "results/default_run.html": "README"}
    try:
        for page, title in pages.items():
            chromium.get(f"{base}/{page}")
            heading = chromium.execute_script("return document.querySelector('article h1').textContent")
            images = chromium.execute_script(
                "return Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
            errors = [entry for entry in chromium.get_log("browser") if entry["level"] == "SEVERE"]
            assert title in heading, (page, heading)
            assert all(done and width > 0 for done, width in images), (page, images)
            assert errors == [], (page, errors)
    finally:
        server.shutdown()
