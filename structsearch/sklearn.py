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

import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from structsearch.config import ModelConfig, RewiringConfig, RunConfig, TaskConfig
from structsearch.errors import ConfigError, DataError, StructsearchError, check_range
from structsearch.graphs import LayeredGraph
from structsearch.limits import check_file
from structsearch.pipeline import (
    ModelSpec,
    build_candidate,
    build_model,
    load_genotype,
    parse_architecture,
    resolve_architecture,
)
from structsearch.runs import new_run_dir
from structsearch.search import genes
from structsearch.search.display import write_outputs
from structsearch.search.engine import Search
from structsearch.search.executors import EXECUTORS, InProcessExecutor
from structsearch.search.space import load_space_with_changes
from structsearch.tasks.base import Split, Task
from structsearch.tasks.tabular import arrays_task
from structsearch.train import TrainConfig, train

# the types a saved estimator of this module holds, for skops.io.load(..., trusted=TRUSTED_TYPES)
TRUSTED_TYPES = ["structsearch.sklearn.SparseMLPClassifier", "structsearch.sklearn.StructureSearchClassifier"]
DEFAULT_SPACE = "tabular"
DEFAULT_HIDDEN = 128


class SparseMLPClassifier(ClassifierMixin, BaseEstimator):
    """A truly sparse MLP classifier trained with sparse rewiring (SET, RigL).

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
        The rewiring rule applied while training.
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
    genotype_ : dict or None
        The genotype it was built from (``genotype``'s file read once, at ``fit``).
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
        X, codes = _fit_data(self, X, y)
        config = self._config(X.shape[1])

        task = arrays_task(_dense(X), codes, self.classes_.size, config.task.options["validation_fraction"],
                           config.training.seed)

        model, rule = build_model(config, task)
        result = train(model, task, config.training, [rule])
        if result.status != "ok":
            raise ValueError(f"SparseMLPClassifier: training {result.status}: {result.reason} (try a smaller lr)")
        graph = None if self.genotype is None else load_genotype(config, task)
        self.genotype_ = None if graph is None else graph.to_dict()  # kept: the estimator needs no file to predict
        self.architecture_ = [int(n) for n in (resolve_architecture(config, task) if graph is None
                                               else graph.layer_widths())]
        self.connections_ = int(sum(result.connections))
        self.model_state_ = {name: value.detach().cpu().numpy().copy() for name, value in model.state_dict().items()}
        self.train_result_ = {"val_accuracy": result.val_accuracy, "selected_epoch": result.selected_epoch,
                              "epochs": result.epochs_run, "seconds": result.seconds.get("total")}
        self._model = model.eval()
        return self

    def predict_proba(self, X):
        """Class probabilities (softmax of the network's outputs), columns in ``classes_`` order."""
        check_is_fitted(self, "model_state_")
        X = validate_data(self, X, accept_sparse=["csr", "csc", "coo"], dtype=np.float32, reset=False)
        model = self.network()
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
            TaskConfig("arrays", {"validation_fraction": float(self.validation_fraction)}),
            ModelConfig(architecture=architecture, genotype=self.genotype, epsilon=self.epsilon),
            RewiringConfig(rule=self.rule, drop_fraction=self.drop_fraction),
            TrainConfig(epochs=self.epochs, optimizer=self.optimizer, lr=self.lr, batch_size=self.batch_size,
                        seed=int(seed), device=self.device),
        ).validate()
        if architecture is not None:  # the command line's check, in the data's words
            sizes = parse_architecture(architecture)
            if sizes[0] != n_features:
                raise ValueError(f"architecture {architecture} starts with {sizes[0]} inputs but X has {n_features} "
                                 "features")
        return config

    def network(self):
        """The trained network (a structsearch ``SparseMLP``, in evaluation mode), rebuilt from
        ``model_state_`` where needed (after unpickling or loading with skops): no file outside
        the estimator is read again.  ``structsearch.export.export(clf.network(), …)`` exports it."""
        model = getattr(self, "_model", None)
        if model is not None:
            return model

        empty = Split(torch.zeros((0, self.n_features_in_)), torch.zeros(0, dtype=torch.long))
        task = Task("arrays", empty, empty, empty, (self.n_features_in_,), len(self.classes_))
        genotype = self.architecture_ if self.genotype_ is None else LayeredGraph.from_dict(self.genotype_)
        model, _ = build_candidate(genotype, ModelSpec(ModelConfig(epsilon=self.epsilon)), task, 0)
        model.load_state_dict({name: torch.from_numpy(np.array(value)) for name, value in self.model_state_.items()})
        self._model = model.to(self.device).eval()
        return self._model

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_model", None)  # rebuilt from model_state_: nothing of torch is pickled or persisted
        return state


class StructureSearchClassifier(ClassifierMixin, BaseEstimator):
    """``fit(X, y)`` runs the genetic structure search (``structsearch evolve``) on the data, then
    refits its pick on all of ``X`` as a :class:`SparseMLPClassifier` and predicts with it.

    Parameters
    ----------
    space : str, default="tabular"
        A built-in search space (``structsearch spaces``) or a TOML file; its task is replaced by
        the data given (task ``arrays``), its budget by ``max_epochs``.
    max_epochs : int, default=200
        The compute budget: training epochs summed over every candidate the search trains.
    population, offspring, epochs : int or None, default=None
        The space's ``evolution.population``, ``evolution.offspring`` and ``training.epochs``
        (None: the space's own).
    validation_fraction : float, default=0.2
        Rows the search selects on (and the refit selects its epoch on).
    workers : int, default=1
        Local worker processes (1: in this process).
    client : distributed.Client, str or None, default=None
        A Dask client, or its scheduler's address (``tcp://host:8786``), to train candidates on
        instead of ``workers``.
    runs_dir : str or None, default=None
        Where the search's run directory goes (None: a new temporary folder); it stays after
        ``fit`` (``search_["run_dir"]``).
    random_state : int or None, default=None
        The search's seed (None: 0).

    Attributes
    ----------
    classes_, n_features_in_, feature_names_in_
    search_ : dict
        ``run_dir``, ``stopped_by``, ``trained``, ``candidates``, ``generations`` and the pick's ``id``.
    best_genotype_ : dict
        The pick's genotype (``LayeredGraph.to_dict()``; ``structsearch train --genotype`` reads it
        from ``search_["run_dir"]/best-genotype.json``).
    best_estimator_ : SparseMLPClassifier
        The pick refitted on all of ``X``.
    cv_results_ : dict of str to list
        One entry per trained candidate: ``id``, ``generation``, ``origin``, ``status``,
        ``val_accuracy``, ``connections``, ``cost_epochs`` and its gene values as ``param_NAME``.
    """

    def __init__(self, space=DEFAULT_SPACE, max_epochs=200, population=None, offspring=None, epochs=None,
                 validation_fraction=0.2, workers=1, client=None, runs_dir=None, random_state=None):
        self.space = space
        self.max_epochs = max_epochs
        self.population = population
        self.offspring = offspring
        self.epochs = epochs
        self.validation_fraction = validation_fraction
        self.workers = workers
        self.client = client
        self.runs_dir = runs_dir
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def fit(self, X, y):
        """Search structures for ``X``, ``y``, then refit the pick on all of them."""
        X, codes = _fit_data(self, X, y)
        if not isinstance(self.max_epochs, int | np.integer) or isinstance(self.max_epochs, bool) \
                or self.max_epochs < 1:
            raise ValueError(f"max_epochs (the compute budget) must be a positive integer, got {self.max_epochs!r}")
        check_range("validation_fraction", self.validation_fraction, 0.0, 1.0, high_open=True)
        seed = 0 if self.random_state is None else int(self.random_state)
        base = Path(self.runs_dir) if self.runs_dir is not None else Path(tempfile.mkdtemp(prefix="structsearch-"))
        run_dir = new_run_dir(None, base, prefix=f"search-{os.getpid()}-")  # processes never share one
        data = run_dir / "data.npz"
        np.savez(data, x=_dense(X), y=codes, n_classes=np.int64(self.classes_.size))
        changes = [("task.name", "arrays"), ("task.path", str(data.resolve())),
                   ("task.validation_fraction", float(self.validation_fraction)), ("seed", seed),
                   ("budget.max_epochs", int(self.max_epochs)), ("budget.max_candidates", 0),
                   ("budget.max_hours", 0.0)]
        for key, value in (("evolution.population", self.population), ("evolution.offspring", self.offspring),
                           ("training.epochs", self.epochs)):
            if value is not None:
                changes.append((key, value))
        try:
            space = load_space_with_changes(self.space, changes)
        except ConfigError as error:
            raise ValueError(str(error)) from None
        space.task.options = {"path": str(data.resolve()), "validation_fraction": float(self.validation_fraction)}
        executor = self._executor()
        try:
            try:
                search = Search.start(space, run_dir, executor)
            except StructsearchError as error:  # a space this table cannot take (an RNN or CNN space, …)
                raise ValueError(f"space {self.space!r}: {error}") from None
            outcome = search.run()
            write_outputs(search)
        finally:
            executor.close()
        try:
            best = search.best
            if best is None:
                raise ValueError("StructureSearchClassifier: no candidate finished training; raise max_epochs")
            self.search_ = {"run_dir": str(run_dir), "stopped_by": outcome.stopped_by, "trained": outcome.trained,
                            "candidates": outcome.candidates, "generations": outcome.generations + 1,
                            "best_id": best.id, "best_val_accuracy": best.accuracy}
            self.best_genotype_ = best.graph.to_dict()
            self.cv_results_ = _rows(search.store.candidates())
            self.best_estimator_ = self._refit(space, best, run_dir, X, y)
        finally:
            search.store.close()
        return self

    def _executor(self):
        if self.client is not None:  # a Client or an address: the executor connects its own client
            address = self.client if isinstance(self.client, str) else self.client.scheduler.address
            return EXECUTORS.lookup("dask")(address, None)
        if not isinstance(self.workers, int | np.integer) or self.workers < 1:
            raise ValueError(f"workers must be a positive integer, got {self.workers!r}")
        return InProcessExecutor() if self.workers == 1 else EXECUTORS.lookup("local")(int(self.workers))

    def _refit(self, space, best, run_dir, X, y) -> SparseMLPClassifier:
        """The pick as a SparseMLPClassifier: its genotype, its genes' training settings, all of X."""
        _, rewiring, training = genes.apply(space.model.model_config(), space.rewiring, space.training,
                                            dict(best.genes or {}))
        genotype = run_dir / f"genotype-{best.id}.json"
        best.graph.save(genotype)
        estimator = SparseMLPClassifier(genotype=str(genotype), rule=rewiring.rule,
                                        drop_fraction=rewiring.drop_fraction, epochs=training.epochs,
                                        optimizer=training.optimizer, lr=training.lr, batch_size=training.batch_size,
                                        validation_fraction=self.validation_fraction, random_state=training.seed)
        return estimator.fit(X, y)

    def predict_proba(self, X):
        """Class probabilities of the refitted pick."""
        check_is_fitted(self, "best_estimator_")
        validate_data(self, X, accept_sparse=["csr", "csc", "coo"], dtype=np.float32, reset=False)
        return self.best_estimator_.predict_proba(X)

    def predict(self, X):
        """The refitted pick's most probable class of each row."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)


def _fit_data(estimator, X, y) -> tuple[np.ndarray, np.ndarray]:
    """``fit``'s checks of X and y (scikit-learn's messages), ``classes_`` set, and (X, y as class
    codes)."""
    X, y = validate_data(estimator, X, y, accept_sparse=["csr", "csc", "coo"], dtype=np.float32)
    check_classification_targets(y)
    encoder = LabelEncoder().fit(y)
    estimator.classes_ = encoder.classes_
    what = type(estimator).__name__
    if estimator.classes_.size < 2:
        raise ValueError(f"{what} needs at least 2 classes in y; it has 1 class ({estimator.classes_[0]!r})")
    if X.shape[0] < 2:
        raise ValueError(f"{what} needs at least 2 samples; got n_samples = {X.shape[0]}")
    return X, encoder.transform(y).astype(np.int64)


def _rows(candidates) -> dict[str, list]:
    """``cv_results_``: one entry per trained candidate of a store."""
    trained = [c for c in candidates if c.status in ("ok", "stopped-early", "failed", "diverged")
               and not c.metrics.get("duplicate_of")]
    names = sorted({name for c in trained for name in (c.attributes.get("genes") or {})})
    rows: dict[str, list] = {key: [] for key in ("id", "generation", "origin", "status", "val_accuracy",
                                                 "connections", "cost_epochs")}
    rows.update({f"param_{name}": [] for name in names})
    for c in trained:
        for key, value in (("id", c.id), ("generation", c.generation), ("origin", c.origin), ("status", c.status),
                           ("val_accuracy", c.metrics.get("val_accuracy")),
                           ("connections", c.metrics.get("connections", c.genotype.connections)),
                           ("cost_epochs", c.metrics.get("cost_epochs"))):
            rows[key].append(value)
        for name in names:
            rows[f"param_{name}"].append((c.attributes.get("genes") or {}).get(name))
    return rows


def _dense(X) -> np.ndarray:
    return X.toarray() if hasattr(X, "toarray") else np.asarray(X)


def load(path) -> SparseMLPClassifier | StructureSearchClassifier:
    """An estimator of this module saved with ``skops.io.dump``, loaded trusting only its own types (and
    skops' defaults for numpy arrays)."""
    import skops.io as sio

    check_file(path, "model")
    untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in TRUSTED_TYPES]
    if untrusted:
        raise DataError(f"{path}: holds untrusted type {untrusted[0]}; not loaded")
    estimator = sio.load(path, trusted=TRUSTED_TYPES)
    if not isinstance(estimator, SparseMLPClassifier | StructureSearchClassifier):
        raise DataError(f"{path}: not an estimator of structsearch.sklearn")
    return estimator
