"""``PerformancePredictor``: a scikit-learn regressor from graph features to a target metric.

Like a scikit-learn estimator, ``__init__`` only stores hyperparameters; ``fit`` checks its input
and builds the pipeline (with scaling where the model needs it).  Saved predictors are a skops
file (the fitted pipeline, loaded through skops' trusted-type check, never pickle) beside a JSON
model card (features, target, a hash of the training data, scores, library versions).
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.ensemble import AdaBoostRegressor, GradientBoostingRegressor, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import BayesianRidge
from sklearn.metrics import r2_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from structsearch import __version__
from structsearch.errors import ConfigError, DataError
from structsearch.families import family_of
from structsearch.graphs.features import feature_names
from structsearch.limits import check_file, parse_json, read_bounded
from structsearch.registry import Registry


def _random_forest(seed):
    return RandomForestRegressor(n_estimators=300, min_samples_leaf=1, random_state=seed, n_jobs=1)


def _adaboost(seed):
    return AdaBoostRegressor(DecisionTreeRegressor(max_depth=4, random_state=seed), n_estimators=200,
                             random_state=seed)


def _bayesian_ridge(seed):
    return BayesianRidge()


def _gradient_boosting(seed):
    return GradientBoostingRegressor(n_estimators=300, max_depth=3, learning_rate=0.05, subsample=0.8,
                                     random_state=seed)


# name → (factory, needs scaling)
SPREAD_MODELS = ("rf", "bayesian-ridge")  # the models whose predict_spread gives a spread
MODELS = Registry("predictor model", {
    "rf": (_random_forest, False),
    "adaboost": (_adaboost, False),
    "bayesian-ridge": (_bayesian_ridge, True),
    "gbr": (_gradient_boosting, False),
})


def make_pipeline(model: str, seed: int = 0):
    factory, scale = MODELS.lookup(model)
    steps = [("impute", SimpleImputer(strategy="median"))]
    if scale:
        steps.append(("scale", StandardScaler()))
    steps.append(("model", factory(seed)))
    return Pipeline(steps)


def data_hash(x: np.ndarray, y: np.ndarray, names: list[str]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(names).encode())
    digest.update(np.ascontiguousarray(x, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(y, dtype=np.float64).tobytes())
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    import skops

    return {"structsearch": __version__, "scikit-learn": sklearn.__version__, "skops": skops.__version__,
            "numpy": np.__version__, "scipy": scipy.__version__, "python": platform.python_version()}


class PerformancePredictor:
    """Predict ``target`` from graph features with the regressor named by ``model``.

    Parameters
    ----------
    model : {"rf", "adaboost", "bayesian-ridge", "gbr"}
    target : str
        The meta-dataset column it predicts (recorded in the model card).
    features : list of str, optional
        Feature names, in column order (default: every name of
        :func:`structsearch.graphs.features.feature_names`).
    random_state : int
    """

    def __init__(self, model: str = "rf", target: str = "test_accuracy", features: list[str] | None = None,
                 random_state: int = 0):
        self.model = model
        self.target = target
        self.features = features
        self.random_state = random_state

    # ------------------------------------------------------------------ the estimator surface

    def feature_list(self) -> list[str]:
        if self.features is not None:
            return list(self.features)

        return feature_names()

    def _matrix(self, features) -> np.ndarray:
        """Accept a 2-D array, a dict of columns, or a list of feature dicts."""
        names = self.feature_list()
        if isinstance(features, dict):
            missing = [n for n in names if n not in features]
            if missing:
                raise DataError(
                    f"features are missing {len(missing)} column(s) the predictor needs, e.g. {missing[0]!r}"
                )
            return np.column_stack([np.asarray(features[n], dtype=float) for n in names])
        if isinstance(features, list | tuple) and features and isinstance(features[0], dict):
            missing = [n for n in names if n not in features[0]]
            if missing:
                raise DataError(
                    f"features are missing {len(missing)} column(s) the predictor needs, e.g. {missing[0]!r}"
                )
            return np.array([[row[n] for n in names] for row in features], dtype=float)
        matrix = np.asarray(features, dtype=float)
        if matrix.ndim != 2 or matrix.shape[1] != len(names):
            raise DataError(f"expected a (rows × {len(names)}) feature matrix, got shape {matrix.shape}")
        return matrix

    def fit(self, features, y) -> PerformancePredictor:
        self.pipeline_ = make_pipeline(self.model, self.random_state)
        x = self._matrix(features)
        y = np.asarray(y, dtype=float)
        if y.shape != (x.shape[0],):
            raise DataError(f"{x.shape[0]} feature rows but {y.size} target values")
        if not np.isfinite(y).all():
            raise DataError(f"target {self.target!r} has {int((~np.isfinite(y)).sum())} NaN or infinite values")
        if x.shape[0] < 2:
            raise DataError("a predictor needs at least two rows to fit")
        self.pipeline_.fit(x, y)
        self.data_hash_ = data_hash(x, y, self.feature_list())
        self.n_rows_ = int(x.shape[0])
        return self

    def predict(self, features) -> np.ndarray:
        if not hasattr(self, "pipeline_"):
            raise ConfigError("this predictor is not fitted yet; call fit first")
        return self.pipeline_.predict(self._matrix(features))

    def predict_spread(self, features) -> tuple[np.ndarray, np.ndarray] | None:
        """(mean, standard deviation) of the prediction where the model gives a spread: a random
        forest's over its trees, Bayesian ridge's posterior; None for the other models."""
        if not hasattr(self, "pipeline_"):
            raise ConfigError("this predictor is not fitted yet; call fit first")
        model = self.pipeline_[-1]
        x = self.pipeline_[:-1].transform(self._matrix(features))
        if isinstance(model, RandomForestRegressor):
            trees = np.stack([tree.predict(x) for tree in model.estimators_])
            return trees.mean(axis=0), trees.std(axis=0)
        if isinstance(model, BayesianRidge):
            mean, std = model.predict(x, return_std=True)
            return np.asarray(mean), np.asarray(std)
        return None

    def score(self, features, y) -> float:
        return float(r2_score(np.asarray(y, dtype=float), self.predict(features)))

    def rank(self, genotypes: list) -> list[tuple[object, float]]:
        """The genotypes with their predictions, best (highest) predicted first."""
        if not genotypes:
            return []
        predictions = self.predict([family_of(g).features(g)[0] for g in genotypes])
        order = np.argsort(-predictions, kind="stable")
        return [(genotypes[i], float(predictions[i])) for i in order]

    # ------------------------------------------------------------------ files

    def save(self, path: str | Path, card: dict | None = None) -> tuple[Path, Path]:
        """Write ``path`` (.skops) and the model card beside it (.json)."""
        import skops.io as sio

        path = Path(path).with_suffix(".skops")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".tmp")
        sio.dump(self.pipeline_, partial)
        partial.replace(path)  # a crash leaves the old predictor or the new one
        card_path = path.with_suffix(".json")
        full_card = {
            "name": path.stem, "model": self.model, "target": self.target, "features": self.feature_list(),
            "random_state": self.random_state, "rows": self.n_rows_, "data_sha256": self.data_hash_,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "versions": library_versions(), **(card or {}),
        }
        card_path.write_text(json.dumps(finite(full_card), indent=2, allow_nan=False) + "\n")
        return path, card_path


def finite(value):
    """``value`` with every NaN or infinite float replaced by None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


# the types a structsearch pipeline holds that skops does not trust by default
TRUSTED_TYPES = {"numpy.dtype", "sklearn.tree._tree.Tree"}


def load_predictor(path: str | Path) -> PerformancePredictor:
    """Load a predictor saved by ``structsearch predictor train``.

    Parameters
    ----------
    path : str or Path
        The ``.skops`` file; its model card (the ``.json`` beside it) is read too.

    Returns
    -------
    PerformancePredictor
        The fitted predictor. The file is read through skops' trusted-type check, never unpickled:
        an untrusted type, or a file that does not match its card, is a one-line ``DataError``.
    """
    import skops.io as sio

    path = Path(path)
    if path.suffix in (".json", ""):  # the card, or the name without its suffix
        path = path.with_suffix(".skops")
    elif path.suffix != ".skops":
        raise DataError(f"{path}: not a predictor file (those end in .skops, beside their .json card)")
    card_path = path.with_suffix(".json")
    if not path.is_file():
        raise DataError(f"{path}: no such predictor file")
    if not card_path.is_file():
        raise DataError(f"{path}: its model card {card_path.name} is missing")

    card = parse_json(read_bounded(card_path, "json"), card_path)
    check_file(path, "model")
    missing = [key for key in ("model", "target", "features") if not isinstance(card, dict) or key not in card]
    if missing:
        raise DataError(f"{card_path}: not a predictor's model card (no {missing[0]!r})")
    if card["model"] not in MODELS or not isinstance(card["features"], list):
        raise DataError(f"{card_path}: names model {card['model']!r}, not one of {', '.join(MODELS)}")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception:  # zipfile, JSON and skops errors of a damaged file
        raise DataError(f"{path}: not a readable predictor file (damaged, or not a .skops archive)") from None
    unexpected = [t for t in untrusted if t not in TRUSTED_TYPES]
    if unexpected:
        raise DataError(f"{path}: refuses to load untrusted type {unexpected[0]}")
    try:
        pipeline = sio.load(path, trusted=untrusted)
    except Exception:  # skops raises several types for a damaged file
        raise DataError(f"{path}: cannot load the predictor (the file is damaged)") from None

    if not isinstance(pipeline, Pipeline):
        raise DataError(f"{path}: holds a {type(pipeline).__name__}, not a predictor pipeline")
    expected = type(make_pipeline(card["model"])[-1]).__name__
    if type(pipeline[-1]).__name__ != expected or getattr(pipeline, "n_features_in_", None) != len(card["features"]):
        raise DataError(f"{path}: does not match its card {card_path.name} (the card says {card['model']} over "
                        f"{len(card['features'])} features; the file holds {type(pipeline[-1]).__name__} over "
                        f"{getattr(pipeline, 'n_features_in_', '?')})")
    predictor = PerformancePredictor(card["model"], card["target"], card["features"], card.get("random_state", 0))
    predictor.pipeline_ = pipeline
    predictor.data_hash_ = card.get("data_sha256", "")
    predictor.n_rows_ = card.get("rows", 0)
    predictor.card = card
    return predictor
