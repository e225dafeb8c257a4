"""Optuna studies of a search space's hyperparameters: ``structsearch study SPACE --trials N``.

The space's ``[study]`` table declares the distributions (see
:class:`~structsearch.search.space.StudySpace`).  A trial draws its parameters, takes its genotype
from the space's priors with the trial's own seed (or a fixed genotype file), and trains it with
the shared trainer, which reports validation accuracy to Optuna after every epoch; a pruned trial
stops there.  The objective is the best validation accuracy; test accuracy, connections, status
and seconds are kept as user attributes.

Storage: an Optuna journal file (default ``runs/studies/<study>.journal``; safe for several
processes on one machine) or any database URL (``sqlite:///…``, ``postgresql://…``,
``mysql://…``), so several machines can share one study.  With a database, a heartbeat fails
the trials of a crashed process and retries them; with a journal file, trials left running by a
process of this machine that no longer exists are failed and retried when a study starts.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from structsearch import seeds
from structsearch.declare import Either, Interval, Options, Text, check_settings, document_settings, setting
from structsearch.errors import ConfigError, DataError, StructsearchError
from structsearch.families import family_of, load_genotype
from structsearch.limits import threads_per_worker
from structsearch.overrides import apply_changes, parameter_changes
from structsearch.registry import Registry
from structsearch.runs import check_name
from structsearch.search import worker
from structsearch.search.executors import process_pool
from structsearch.search.genome import random_individual
from structsearch.search.space import SearchSpace, space_from_dict
from structsearch.search.worker import result_metrics, train_candidate
from structsearch.train_callbacks import Callback, StopTraining

# name → factory(epochs) of the Optuna pruner
PRUNERS = Registry("pruner", {
    "median": lambda epochs: _optuna().pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    "hyperband": lambda epochs: _optuna().pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 2)),
    "none": lambda epochs: _optuna().pruners.NopPruner(),
})


def _optuna():
    import optuna

    return optuna
HEARTBEAT_SECONDS = 10  # a trial silent for 3 heartbeats is failed and retried
MAX_RETRY = 2


class TrialFailed(StructsearchError):
    """A trial whose training failed or diverged; Optuna records it as FAIL and the study goes on."""


# ------------------------------------------------------------------------------ parameters


def apply_params(space: SearchSpace, params: dict, source: str = "params") -> SearchSpace:
    """A copy of ``space`` with study parameters (names of ``overrides.PARAMETERS``) applied."""
    if "epsilon" in params and "erdos-renyi" not in space.genotype.priors:
        raise ConfigError(f"{source}: epsilon sets the erdos-renyi prior, which the space does not use "
                          f"(priors: {', '.join(space.genotype.priors)})")
    data = apply_changes(space.to_dict(), parameter_changes(params, space=True), source)
    return space_from_dict(data, source)


def suggest(trial, name: str, spec: dict):
    kind = spec["type"]
    if kind == "categorical":
        return trial.suggest_categorical(name, spec["choices"])
    if kind in ("int", "log-int"):
        return trial.suggest_int(name, spec["low"], spec["high"], step=spec.get("step", 1), log=kind == "log-int")
    return trial.suggest_float(name, spec["low"], spec["high"], step=spec.get("step"), log=kind == "log-float")


# ------------------------------------------------------------------------------ storage


def describe_storage(url: str) -> str:
    if "://" not in url:
        return url
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def make_storage(storage: str | None, study_name: str, runs: str | Path = "runs",
                 heartbeat: int = HEARTBEAT_SECONDS):
    """The Optuna storage for ``--storage`` (None: a journal file under ``runs/studies/``)."""
    import optuna
    from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
    from optuna.storages.journal import JournalFileBackend

    if storage is None or "://" not in storage:
        path = Path(storage) if storage else Path(runs) / "studies" / f"{study_name}.journal"
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path))), str(path)
    shown = describe_storage(storage)

    from sqlalchemy.exc import (
        ArgumentError,
        IntegrityError,
        OperationalError,
        ProgrammingError,
        SQLAlchemyError,
    )

    for attempt in range(5):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna since 2.8
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                rdb = RDBStorage(storage, heartbeat_interval=heartbeat, grace_period=3 * heartbeat,
                                 heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY),
                                 engine_kwargs={"pool_pre_ping": True})
            break
        except (IntegrityError, ProgrammingError):
            # several processes creating Optuna's tables in a fresh database at once: one wins
            if attempt == 4:
                raise DataError(
                    f"--storage {shown}: could not create Optuna's tables (another process kept creating them)"
                ) from None
            time.sleep(0.5 * (attempt + 1))
        except (ArgumentError, ValueError) as error:
            raise ConfigError(f"--storage {shown}: not a database URL ({_first_line(error)})") from None
        except ImportError as error:
            raise ConfigError(
                f"--storage {shown}: the database driver is missing ({_first_line(error)}); for "
                "PostgreSQL: pip install 'structsearch[postgres]'"
            ) from None
        except OperationalError as error:
            raise DataError(
                f"--storage {shown}: cannot reach the database ({_first_line(error.orig or error)})"
            ) from None
        except (SQLAlchemyError, optuna.exceptions.StorageInternalError) as error:
            raise DataError(f"--storage {shown}: {_first_line(error)}") from None
    return rdb, shown


def _first_line(error) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def make_pruner(name: str, epochs: int):
    return PRUNERS.lookup(name, "--pruner")(epochs)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_crashed_trials(study) -> list[int]:
    """Fail and re-enqueue trials left RUNNING by a dead process of this machine (journal storage,
    which has no heartbeat).  Returns their numbers."""
    from optuna.trial import TrialState

    recovered = []
    host = socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        if attrs.get("host") != host or _alive(int(attrs.get("pid", -1))):
            continue
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        retries = int(attrs.get("retries", 0))
        if retries < MAX_RETRY and trial.params:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number, "retries": retries + 1})
        recovered.append(trial.number)
    return recovered


# ------------------------------------------------------------------------------ the objective


class OptunaReport(Callback):
    """Report validation accuracy every epoch; stop the run when Optuna prunes the trial."""

    def __init__(self, trial):
        self.trial = trial

    def on_epoch_end(self, trainer, epoch):
        self.trial.report(trainer.history["val_accuracy"][-1], epoch)
        if self.trial.should_prune():
            raise StopTraining(f"pruned by Optuna after epoch {epoch}", status="pruned")


class Objective:
    def __init__(self, space: SearchSpace, data_dir: str | None = None):
        self.space, self.data_dir = space, data_dir
        self.task = worker.cached_task(space.task, data_dir)
        self.fixed = None
        if space.study.genotype:
            self.fixed = load_genotype(space.study.genotype)
            n_inputs = space.n_inputs(self.task)
            sizes = family_of(self.fixed).widths(self.fixed)
            if sizes != (n_inputs, self.task.n_classes) or not isinstance(self.fixed, space.family.genotype_type):
                raise ConfigError(
                    f"study.genotype {space.study.genotype} takes {sizes[0]} inputs and gives {sizes[1]} outputs "
                    f"({family_of(self.fixed).adjective}); the space needs a {space.family.adjective} genotype of "
                    f"{n_inputs} and {self.task.n_classes}")

    def __call__(self, trial) -> float:
        import optuna

        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        params = {name: suggest(trial, name, spec) for name, spec in self.space.study.params.items()}
        try:
            space = apply_params(self.space, params, f"trial {trial.number}")
        except ConfigError as error:
            raise TrialFailed(str(error)) from None
        seed = seeds.derive(space.seed, "trial-init", trial.number)
        individual = random_individual(space, space.n_inputs(self.task), self.task.n_classes,
                                       seeds.generator(space.seed, "trial-genotype", trial.number))
        graph = self.fixed if self.fixed is not None else individual.graph
        result = train_candidate(graph, self.task, space.model.model_config(individual.cell), space.rewiring,
                                 space.training, seed, [OptunaReport(trial)], family=space.model.kind)
        metrics = result_metrics(graph, result)
        for key in ("test_accuracy", "connections", "selected_epoch", "epochs_run"):
            trial.set_user_attr(key, metrics[key])
        trial.set_user_attr("status", result.status)
        trial.set_user_attr("seconds", result.seconds.get("total"))
        trial.set_user_attr("structure", graph.summary() if hasattr(graph, "stages")
                            else "-".join(map(str, graph.layer_widths())))
        if individual.cell:
            trial.set_user_attr("cell", individual.cell)
        if result.status == "pruned":
            raise optuna.TrialPruned(result.reason)
        if result.status not in ("ok", "stopped-early") or result.val_accuracy is None:
            raise TrialFailed(f"{result.status}: {result.reason}")
        return float(result.val_accuracy)


# ------------------------------------------------------------------------------ running


def open_study(storage_spec: str | None, study_name: str, runs, pruner: str, epochs: int,
               sampler_seed: int | None = None, heartbeat: int = HEARTBEAT_SECONDS):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage, shown = make_storage(storage_spec, study_name, runs, heartbeat)
    try:
        study = optuna.create_study(storage=storage, study_name=study_name, direction="maximize",
                                    pruner=make_pruner(pruner, epochs), load_if_exists=True,
                                    sampler=optuna.samplers.TPESampler(seed=sampler_seed))
    except Exception as error:  # a database that refuses the schema, a locked file, …
        raise DataError(f"--storage {shown}: cannot open study {study_name!r} ({_first_line(error)})") from None
    return study, shown


def optimize(spec: str) -> int:
    """Run trials in this process; ``spec`` is JSON (it crosses into worker processes)."""

    job = json.loads(spec)
    os.environ.setdefault("OMP_NUM_THREADS", str(job["threads"]))

    torch.set_num_threads(job["threads"])
    space = space_from_dict(job["space"], "study space")
    study, _ = open_study(job["storage"], job["study_name"], job["runs"], job["pruner"], space.training.epochs,
                          job["sampler_seed"], job["heartbeat"])
    if "://" not in (job["storage"] or ""):  # a journal file: no heartbeat, so recover here
        recover_crashed_trials(study)
    before = len(study.trials)
    study.optimize(Objective(space, job["data_dir"]), n_trials=job["trials"], timeout=job["timeout"],
                   catch=(TrialFailed,), gc_after_trial=False)
    return len(study.trials) - before


@document_settings
@dataclass
class StudyConfig:
    """How ``structsearch study`` runs: ``trials`` over ``jobs`` processes of this machine, in
    ``storage`` (None: a journal file ``runs/studies/<study_name>.journal``; or a database URL). The
    command's options read their help, types and defaults from these declarations."""

    trials: int = setting(doc="trials to run (over all --jobs)", allowed=Interval(1, None, integer=True))
    storage: str | None = setting(None, "sqlite:///…, postgresql://…, or a .journal file (default "
                                        "runs/studies/NAME.journal)", Either((None, Text("a URL or a file"))))
    study_name: str | None = setting(None, "the study's name (default: the space's); an existing study is continued",
                                     Either((None, Text("a name"))))
    pruner: str = setting("median", "Optuna's pruner", Options(lambda: PRUNERS))
    jobs: int = setting(1, "worker processes on this machine", Interval(1, None, integer=True))
    timeout: float | None = setting(None, "stop starting trials after this many seconds",
                                    Either((None, Interval(0, None, low_open=True))))
    runs: str = setting("runs", "parent folder of run directories (the journal goes to RUNS/studies/)",
                        Text("a folder"))
    data_dir: str | None = setting(None, "folder with the datasets of file tasks", Either((None, Text("a folder"))))
    heartbeat: int = setting(HEARTBEAT_SECONDS, "database storage: seconds between heartbeats; a trial silent for "
                                                "3 is failed and retried", Interval(1, None, integer=True))

    def validate(self) -> StudyConfig:
        check_settings(self, "--")  # a command's options
        if self.study_name is not None:
            check_name(self.study_name, "--study-name")
        return self


@dataclass
class StudyOutcome:
    study: object  # the optuna.Study
    storage: str  # where it is, as shown to the user (no password)


def run_study(space: SearchSpace, config: StudyConfig, announce=None) -> StudyOutcome:
    """Run an Optuna study of a space's ``[study.params]`` (``structsearch study``).

    Every check runs first; ``announce(storage)`` is called once they have passed, before the first
    trial.

    Parameters
    ----------
    space : SearchSpace
        The space: its ``[study.params]`` are tuned, its priors draw each trial's genotype.
    config : StudyConfig
        Trials, processes, storage, pruner.
    announce : callable, optional
        Called with the storage's description before the first trial.

    Returns
    -------
    StudyOutcome
        The study's best trial and where it is stored.

    References
    ----------
    Akiba et al. (2019), "Optuna: a next-generation hyperparameter optimization framework", KDD.
    """
    config.validate()
    if not space.study.params:
        raise ConfigError(f"search space {space.name!r} has no [study.params] table: nothing to tune")
    name = config.study_name or check_name(space.name, "the space's name (give --study-name)")
    study, shown = open_study(config.storage, name, config.runs, config.pruner, space.training.epochs,
                              heartbeat=config.heartbeat)  # checks the storage once
    Objective(space, config.data_dir)  # checks the fixed genotype and loads the data before any process starts
    if announce is not None:
        announce(shown)
    threads = threads_per_worker(config.jobs)
    shares = [config.trials // config.jobs + (i < config.trials % config.jobs) for i in range(config.jobs)]
    # each process samples with its own seed: the space's seed, its index and the trials so far
    specs = [json.dumps({**asdict(config), "space": space.to_dict(), "study_name": name, "trials": share,
                         "threads": threads,
                         "sampler_seed": seeds.derive(space.seed, "sampler", len(study.trials), index)})
             for index, share in enumerate(shares) if share]
    if len(specs) == 1:
        optimize(specs[0])
    else:
        with process_pool(len(specs)) as pool:
            list(pool.map(optimize, specs))
    return StudyOutcome(study, shown)


def best_params_toml(study, space_name: str) -> str:
    best = study.best_trial
    lines = [f"# structsearch study {study.study_name} (space {space_name}): best of {len(study.trials)} trials,",
             f"# trial {best.number}, validation accuracy {best.value:.4f}, test accuracy "
             f"{best.user_attrs.get('test_accuracy', math.nan):.4f}.",
             "# Use with: structsearch train --params FILE   or   structsearch evolve --params FILE",
             "[params]"]
    for name, value in best.params.items():
        lines.append(f"{name} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"
