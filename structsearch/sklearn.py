"""scikit-learn estimators over structsearch: a truly sparse MLP with scikit-learn's contract.

:class:`SparseMLPClassifier` trains a sparse MLP (``structsearch.nn.SparseLinear`` layers, the
structure held as CSR, never an ``out × in`` weight) with the one shared trainer
(:func:`structsearch.train.train`), rewiring while it trains (SET, SET-motif or RigL).  Like every
scikit-learn estimator, ``__init__`` only stores its hyperparameters; ``fit`` checks them, with the
messages the command line gives (a ``ValueError`` naming the parameter).  The fitted network is
kept as numpy arrays (``model_state_``), so the estimator pickles, clones and persists with skops:
``skops.io.dump(clf, "clf.skops")``, then :func:`load` (or ``skops.io.load(path,
trusted=TRUSTED_TYPES)``).  Nothing is unpickled from disk.

It drops into ``Pipeline``, ``cross_val_score`` and ``GridSearchCV`` and passes scikit-learn's
``check_estimator`` (``tests/test_sklearn.py``).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

# the types a saved SparseMLPClassifier holds, for skops.io.load(..., trusted=TRUSTED_TYPES)
TRUSTED_TYPES = ["structsearch.sklearn.SparseMLPClassifier"]
DEFAULT_HIDDEN = 128


class SparseMLPClassifier(ClassifierMixin, BaseEstimator):
    """A truly sparse MLP classifier trained with sparse topology evolution.

    Parameters
    ----------
    architecture : str or None, default=None
        Layer widths ``IN-H1-…-OUT`` as in a train file (``"64-100-10"``); the first must equal the
        number of features, the last the number of classes.  None: one hidden layer of 128.
    genotype : str or None, default=None
        A layered-graph genotype file (``structsearch genotype sample``) instead of
        ``architecture`` and ``epsilon``.
    epsilon : float, default=20.0
        Erdős–Rényi density parameter ε of each layer (connections ε·(in + out)).
    rule : {"set", "set-motif", "rigl", "none"}, default="set"
        The topology rule applied while training.
    drop_fraction : float, default=0.3
        ζ, the fraction of connections each rewiring step replaces.
    epochs : int, default=30
    optimizer : {"sgd", "adam"}, default="adam"
    lr : float, default=0.003
    batch_size : int, default=64
    validation_fraction : float, default=0.1
        Training rows held out to select the best epoch (its weights are kept); 0 selects on the
        training rows themselves.
    random_state : int or None, default=None
        Seed of the connectivity, the initial weights, the batches and the rewiring.
    device : str, default="cpu"

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when ``X`` has string column names (a pandas frame).
    architecture_ : list of int
        The layer widths of the fitted network.
    connections_ : int
        Its connections (nonzero weights) after training.
    model_state_ : dict of str to ndarray
        The trained network's state (values and CSR structure), as numpy arrays.
    train_result_ : dict
        The trainer's summary: validation accuracy, selected epoch, seconds.
    """

    def __init__(self, architecture=None, genotype=None, epsilon=20.0, rule="set", drop_fraction=0.3, epochs=30,
                 optimizer="adam", lr=0.003, batch_size=64, validation_fraction=0.1, random_state=None,
                 device="cpu"):
        self.architecture = architecture
        self.genotype = genotype
        self.epsilon = epsilon
        self.rule = rule
        self.drop_fraction = drop_fraction
        self.epochs = epochs
        self.optimizer = optimizer
        self.lr = lr
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.device = device

    # ------------------------------------------------------------------ scikit-learn's contract

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # scipy sparse X is accepted (densified batch-wise is not needed: small)
        tags.non_deterministic = False
        return tags

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features), labels ``y`` of any hashable type."""
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc", "coo"], dtype=np.float32)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if self.classes_.size < 2:
            raise ValueError(f"SparseMLPClassifier needs at least 2 classes in y; it has 1 class "
                             f"({self.classes_[0]!r})")
        if X.shape[0] < 2:
            raise ValueError(f"SparseMLPClassifier needs at least 2 samples; got n_samples = {X.shape[0]}")
        codes = encoder.transform(y).astype(np.int64)
        config = self._config(X.shape[1])
        task = _task(_dense(X), codes, self.classes_.size, config.task.options["validation_fraction"],
                     config.training.seed)
        from structsearch.pipeline import build_model, load_genotype, resolve_architecture
        from structsearch.train import train

        model, rule = build_model(config, task)
        result = train(model, task, config.training, [rule])
        if result.status != "ok":
            raise ValueError(f"SparseMLPClassifier: training {result.status}: {result.reason} (try a smaller lr)")
        self.architecture_ = [int(n) for n in resolve_architecture(config, task)] if self.genotype is None else \
            [int(n) for n in load_genotype(config, task).layer_widths()]
        self.connections_ = int(sum(result.connections))
        self.model_state_ = {name: value.detach().cpu().numpy().copy() for name, value in model.state_dict().items()}
        self.train_result_ = {"val_accuracy": result.val_accuracy, "selected_epoch": result.selected_epoch,
                              "epochs": result.epochs_run, "seconds": result.seconds.get("total")}
        self._model = model.eval()
        return self

    def predict_proba(self, X):
        """Class probabilities (softmax of the network's outputs), columns in ``classes_`` order."""
        import torch

        check_is_fitted(self, "model_state_")
        X = validate_data(self, X, accept_sparse=["csr", "csc", "coo"], dtype=np.float32, reset=False)
        model = self._network()
        with torch.no_grad():
            logits = model(torch.from_numpy(np.ascontiguousarray(_dense(X), dtype=np.float32)).to(self.device))
            return torch.softmax(logits.float(), dim=1).cpu().numpy().astype(np.float64)

    def predict(self, X):
        """The most probable class of each row."""
        check_is_fitted(self, "model_state_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # ------------------------------------------------------------------ internals

    def _config(self, n_features: int):
        """The train configuration of these hyperparameters; a ConfigError (a ValueError) names
        what cannot be used, with the command line's message."""
        from structsearch.config import ModelConfig, RewiringConfig, RunConfig, TaskConfig
        from structsearch.errors import check_range
        from structsearch.train import TrainConfig

        check_range("validation_fraction", self.validation_fraction, 0.0, 1.0, high_open=True)
        seed = self.random_state
        if seed is None:
            seed = 0
        elif isinstance(seed, np.random.RandomState):
            seed = int(seed.randint(0, 2**31 - 1))
        n_classes = len(self.classes_)
        architecture = self.architecture
        if architecture is None and self.genotype is None:
            architecture = f"{n_features}-{DEFAULT_HIDDEN}-{n_classes}"
        config = RunConfig(
            TaskConfig("table", {"validation_fraction": float(self.validation_fraction)}),
            ModelConfig(architecture=architecture, genotype=self.genotype, epsilon=self.epsilon),
            RewiringConfig(rule=self.rule, drop_fraction=self.drop_fraction),
            TrainConfig(epochs=self.epochs, optimizer=self.optimizer, lr=self.lr, batch_size=self.batch_size,
                        seed=int(seed), device=self.device),
        ).validate(registered_task=False)
        if architecture is not None:  # the command line's check, in the data's words
            from structsearch.pipeline import parse_architecture

            sizes = parse_architecture(architecture)
            if sizes[0] != n_features:
                raise ValueError(f"architecture {architecture} starts with {sizes[0]} inputs but X has {n_features} "
                                 "features")
        return config

    def _network(self):
        """The trained network, rebuilt from ``model_state_`` where needed (after unpickling or
        loading with skops)."""
        model = getattr(self, "_model", None)
        if model is not None:
            return model
        import torch

        from structsearch.pipeline import build_model
        from structsearch.tasks.base import Split, Task

        config = self._config(self.n_features_in_)
        empty = Split(torch.zeros((0, self.n_features_in_)), torch.zeros(0, dtype=torch.long))
        task = Task("table", empty, empty, empty, (self.n_features_in_,), len(self.classes_))
        model, _ = build_model(config, task)
        model.load_state_dict({name: torch.from_numpy(np.array(value)) for name, value in self.model_state_.items()})
        self._model = model.to(self.device).eval()
        return self._model

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_model", None)  # rebuilt from model_state_: nothing of torch is pickled or persisted
        return state


def _dense(X) -> np.ndarray:
    return X.toarray() if hasattr(X, "toarray") else np.asarray(X)


def _task(x: np.ndarray, y: np.ndarray, n_classes: int, validation_fraction: float, seed: int):
    """A structsearch Task over arrays: a stratified validation share of the rows (each class keeps a
    training row; with too few rows, or ``validation_fraction`` 0, the training rows themselves)."""
    import torch

    from structsearch.tasks.base import Split, Task, stratified_split

    def split(rows):
        return Split(torch.from_numpy(np.ascontiguousarray(x[rows], dtype=np.float32)), torch.from_numpy(y[rows]))

    rows = np.arange(y.size)
    train_rows, val_rows = rows, rows
    if validation_fraction > 0:
        kept, held = stratified_split(y, validation_fraction, np.random.default_rng(seed))
        if held.size and np.unique(y[kept]).size == n_classes:
            train_rows, val_rows = kept, held
    return Task("table", split(train_rows), split(val_rows), split(val_rows), (x.shape[1],), n_classes)


def load(path) -> SparseMLPClassifier:
    """A SparseMLPClassifier saved with ``skops.io.dump``, loaded trusting only its own types (and
    skops' defaults for numpy arrays)."""
    import skops.io as sio

    from structsearch.errors import DataError
    from structsearch.limits import check_file

    check_file(path, "model")
    untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in TRUSTED_TYPES]
    if untrusted:
        raise DataError(f"{path}: holds untrusted type {untrusted[0]}; not loaded")
    estimator = sio.load(path, trusted=TRUSTED_TYPES)
    if not isinstance(estimator, SparseMLPClassifier):
        raise DataError(f"{path}: not a SparseMLPClassifier")
    return estimator
