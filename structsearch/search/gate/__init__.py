"""The predictor gate, one module per part: the structure stage that drops children before they
train (:mod:`.structure`), the curve stage that stops them after a few epochs (:mod:`.curve`), and
the audit that measures the gate's real ranking (:mod:`.audit`).

The package itself exports nothing: a training worker loads the curve stage alone, not the structure
stage's predictors and scikit-learn. The names it exported still work until 0.3, each with a
:class:`DeprecationWarning`.
"""

from structsearch.registry import moved

_PARTS = {"audit": ("audit_regret", "audit_summary", "draw_audit", "score_generation", "weighted_kendall_tau"),
          "curve": ("CurveGate", "CurveStop", "fit_curve_gate", "refit_curve_gate"),
          "structure": ("PredictorGate", "attribute_features", "candidate_features", "cell_features",
                        "search_feature_names")}
__getattr__ = moved({name: f"{__name__}.{part}" for part, names in _PARTS.items() for name in names}, __name__)
