"""The gate's curve stage: after curve_epochs, children predicted to end below the population's
quantile stop, with the prediction stored."""

import pytest

from structsearch.commands import main
from structsearch.search.gate.curve import CurveGate, CurveStop
from structsearch.store import RunStore

TINY = ["--population", "4", "--generations", "2", "--epochs", "3", "--workers", "1", "--quiet",
        "--set", "genotype.nodes=[10, 16]", "--set", "genotype.erdos-renyi.width=[8, 16]",
        "--set", "gate.predictor=online", "--set", "gate.warmup=4", "--set", "evolution.offspring=6",
        "--set", "gate.stage=curve", "--set", "gate.curve_epochs=1"]


def test_the_curve_stage_stops_the_children_predicted_weakest_and_records_why(tmp_path):
    assert main(["evolve", "--runs", str(tmp_path), "--name", "c", *TINY,
                 "--set", "gate.estimation_fraction=0.75"]) == 0
    with RunStore.open(tmp_path / "c") as store:
        candidates = [c for c in store.candidates() if not c.metrics.get("duplicate_of")]
    predicted = [c for c in candidates if c.curves.get("curve_prediction")]
    assert predicted and all(c.generation > 0 for c in predicted)
    assert all(c.status != "dropped-by-predictor" for c in candidates)  # no structure stage
    stopped = 0
    for c in predicted:
        prediction, threshold = c.curves["curve_prediction"][0], c.curves["curve_threshold"][0]
        if prediction < threshold:
            stopped += 1
            assert c.status == "stopped-early" and len(c.curves["val_accuracy"]) == 1
            assert f"predicted final validation accuracy {prediction:.4f}" in c.reason
        else:
            assert c.status == "ok" and len(c.curves["val_accuracy"]) == 3
    assert stopped > 0


def test_the_linear_model_the_workers_get_is_applied_as_fitted():
    gate = {"names": ["edges", "curve_1"], "medians": [100.0, 0.5], "means": [80.0, 0.4], "scales": [20.0, 0.1],
            "coef": [0.01, 0.2], "intercept": 0.7, "threshold": 0.8, "epochs": 1, "features": {"edges": 120.0}}
    assert CurveStop(CurveGate.from_dict(gate)).predict([0.6]) == pytest.approx(0.7 + 0.01 * 2.0 + 0.2 * 2.0)
    gate["features"] = {"edges": float("nan")}  # missing → the median
    assert CurveStop(CurveGate.from_dict(gate)).predict([0.6]) == pytest.approx(0.7 + 0.01 * 1.0 + 0.2 * 2.0)


def test_curve_epochs_must_leave_epochs_to_stop(tmp_path, capsys):
    assert main(["evolve", "--runs", str(tmp_path), "--name", "x", *TINY, "--set", "gate.curve_epochs=3"]) == 2
    assert "gate.curve_epochs = 3 must be fewer than training.epochs (3)" in capsys.readouterr().err
