"""The gate audit: a random sample of the children the gate drops trains anyway, so that its real
ranking quality (over every scored child, not only the survivors) can be measured."""

import numpy as np
import pytest

from structsearch.commands import main
from structsearch.search.gate.audit import audit_regret, weighted_kendall_tau
from structsearch.store import RunStore

TINY = ["--population", "4", "--generations", "2", "--epochs", "1", "--dry-run", "--quiet",
        "--set", "genotype.nodes=[10, 16]", "--set", "genotype.erdos-renyi.width=[8, 16]",
        "--set", "gate.predictor=online", "--set", "gate.warmup=3", "--set", "evolution.offspring=8"]


def direct_tau(rows):
    numerator = denominator = 0.0
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            s = np.sign(rows[i][0] - rows[j][0]) * np.sign(rows[i][1] - rows[j][1])
            if s != 0:
                numerator += rows[i][2] * rows[j][2] * s
                denominator += rows[i][2] * rows[j][2]
    return numerator / denominator


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same search without and with an audit of 2 children per generation."""
    where = tmp_path_factory.mktemp("audit")
    assert main(["evolve", "--runs", str(where), "--name", "plain", *TINY]) == 0
    assert main(["evolve", "--runs", str(where), "--name", "audited", *TINY, "--set", "gate.audit=2"]) == 0
    return where


@pytest.mark.slow
def test_the_audit_trains_n_dropped_children_and_its_weighted_tau_is_the_direct_one(runs):
    with RunStore.open(runs / "audited") as store:
        candidates = store.candidates()
        events = {e["generation"]: e for e in store.events("generation")}
        population = set(store.meta("search_state")["population"])
        finished = store.meta("search_finished")
    assert finished["audited"] == 4 and finished["gate_regret"] >= 0
    for generation in (1, 2):
        rows = [c for c in candidates if c.generation == generation and not c.metrics.get("duplicate_of")]
        gate = [c.feature_meta["gate"] for c in rows]
        audited = [c for c, g in zip(rows, gate, strict=True) if g.get("audit") and not g.get("sibling")]
        dropped = [c for c in rows if c.status == "dropped-by-predictor" and not c.feature_meta["gate"].get("sibling")]
        assert len(audited) == 2 == events[generation]["audited"]
        assert all(c.status == "ok" for c in audited) and not population & {c.id for c in audited}
        weight = (len(dropped) + 2) / 2  # each audited child stands for dropped ÷ audited children
        assert all(c.feature_meta["gate"]["audit"] == pytest.approx(weight) for c in audited)
        scored = [(g["prediction"], c.metrics["val_accuracy"], g.get("audit", 1.0))
                  for c, g in zip(rows, gate, strict=True) if c.status == "ok" and g["prediction"] is not None]
        assert events[generation]["gate_tau_weighted"] == pytest.approx(direct_tau(scored))
        by_size = [(c.metrics["connections"], c.metrics["val_accuracy"], g.get("audit", 1.0))
                   for c, g in zip(rows, gate, strict=True) if c.status == "ok" and g["prediction"] is not None]
        assert events[generation]["size_tau_weighted"] == pytest.approx(direct_tau(by_size))


def test_an_audit_leaves_the_search_where_it_was(runs):
    populations = []
    for name in ("plain", "audited"):
        with RunStore.open(runs / name) as store:
            ids = store.meta("search_state")["population"]
            populations.append(sorted(store.candidate(i).hash for i in ids))
    assert populations[0] == populations[1]


def test_weighted_tau_and_regret_on_known_rows():
    # two kept children ranked right, one audited child (weight 3) that the gate ranked lowest but is best
    rows = [(0.9, 0.80, 1.0, False), (0.8, 0.70, 1.0, False), (0.1, 0.95, 3.0, True)]
    assert weighted_kendall_tau([r[:3] for r in rows]) == pytest.approx((1 - 3 - 3) / (1 + 3 + 3))
    assert audit_regret(rows) == 3.0  # it alone fills the top quarter of 5 weighted children
    assert audit_regret(rows[:2]) == 0.0


def test_a_negative_audit_is_refused(tmp_path, capsys):
    assert main(["evolve", "--runs", str(tmp_path), "--name", "x", *TINY, "--set", "gate.audit=-1"]) == 2
    assert "gate.audit must be an integer ≥ 0, got -1" in capsys.readouterr().err
