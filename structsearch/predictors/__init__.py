"""Graph-feature performance predictors: scikit-learn pipelines, honest evaluation, safe files."""

from structsearch.predictors.model import MODELS, PerformancePredictor, load_predictor

__all__ = ["MODELS", "PerformancePredictor", "load_predictor"]
