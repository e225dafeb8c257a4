"""The predictor gate, one module per part: the structure stage that drops children before they
train (:mod:`.structure`), the curve stage that stops them after a few epochs (:mod:`.curve`), and
the audit that measures the gate's real ranking (:mod:`.audit`)."""

from structsearch.search.gate.audit import (
           audit_regret,
           audit_summary,
           draw_audit,
           score_generation,
           weighted_kendall_tau,
)
from structsearch.search.gate.curve import CurveGate, CurveStop, fit_curve_gate, refit_curve_gate
from structsearch.search.gate.structure import (
    PredictorGate,
    attribute_features,
    candidate_features,
    cell_features,
    search_feature_names,
)

__all__ = ["CurveGate", "CurveStop", "PredictorGate", "attribute_features", "audit_regret", "audit_summary",
           "candidate_features", "cell_features", "draw_audit", "fit_curve_gate", "refit_curve_gate",
           "score_generation", "search_feature_names", "weighted_kendall_tau"]
