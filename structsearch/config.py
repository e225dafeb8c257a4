"""Typed configuration for a training run, read from TOML and command-line overrides.

A train file has up to four tables; every key is optional::

    [task]                        # name plus the task's own options
    name = "fashion-mnist"
    train_size = 5000

    [model]
    architecture = "784-1000-1000-10"
    epsilon = 20                  # Erdős–Rényi ε (density scheme "er")
    density_scheme = "er"         # er | erk | uniform
    activation = "relu"           # relu | tanh | srelu | all-relu

    [rewiring]                    # rewiring while training ([evolution] before 0.2)
    rule = "set"                  # none | set | set-motif | rigl
    drop_fraction = 0.3

    [training]
    epochs = 10
    lr = 0.05

Unknown tables or keys and values of the wrong type are a :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import tomllib
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, get_origin, get_type_hints

from structsearch import seeds
from structsearch.declare import Either, Flag, Interval, Options, Text, check_settings, document_settings, setting
from structsearch.errors import ConfigError, DataError, errors_from
from structsearch.graphs.density import DENSITY_SCHEMES
from structsearch.limits import MAX_NESTING, nesting, read_bounded
from structsearch.nn.activations import ACTIVATIONS
from structsearch.nn.recurrent import CELLS
from structsearch.sparsity.rewiring import (
    REWIRING_RULES,
    make_rewiring,
)
from structsearch.tasks import DEFAULT_TASK, task_entry, task_names
from structsearch.train import TrainConfig


@document_settings
@dataclass
class TaskConfig:
    """``[task]``: the task by name, beside the task's own options (see ``structsearch tasks``)."""

    name: str = setting(DEFAULT_TASK, "the task (built in or read from files)", Options(task_names))
    options: dict[str, Any] = setting(doc="the task's own options, written flat under [task]", factory=dict)


@document_settings
@dataclass
class ModelConfig:
    """``[model]`` of a train file: the sparse network to build."""

    architecture: str | None = setting(
        None, "layer widths, e.g. 784-1000-1000-10; unset: input-256-256-output of the task",
        Either((None, Text("widths joined by '-'", lambda v: isinstance(v, str) and bool(v)))))
    genotype: str | None = setting(None, "a genotype file (.json or .npz) to decode instead of architecture "
                                         "and density", Either((None, Text("a path"))))
    cell: str | None = setting(None, "recurrent cell for sequence tasks (unset: gru)",
                               Either((None, Options(lambda: CELLS))))
    epsilon: float = setting(20.0, "Erdős–Rényi ε: a layer pair's density is ε(n_in + n_out)/(n_in·n_out)",
                             Interval(0, None, low_open=True))
    density_scheme: str = setting("er", "how layer densities are set: er (Erdős–Rényi ε), erk (RigL's ERK), "
                                        "uniform (density)", Options(lambda: DENSITY_SCHEMES))
    density: float | None = setting(None, "the density of every layer (scheme uniform)",
                                    Either((None, Interval(0, 1, low_open=True))))
    activation: str = setting("relu", "hidden activation", Options(lambda: ACTIVATIONS))
    dropout: float = setting(0.0, "dropout on hidden activations", Interval(0, 1, high_open=True))
    init: str = setting("he", "initial weights: he (Kaiming) or xavier, scaled for each neuron's fan-in",
                        Options(("he", "xavier")))

    def validate(self) -> ModelConfig:
        check_settings(self, "model")
        if self.genotype is not None and self.architecture is not None:
            raise ConfigError("model.genotype and model.architecture exclude each other; give one")
        return self


@document_settings
@dataclass
class RewiringConfig:
    """Rewiring while a model trains: the ``[rewiring]`` table of a train file and of a
    search space (SET, Mocanu et al. 2018; SET-motif, Su 2022; RigL, Evci et al. 2020)."""

    rule: str = setting("set", "the rewiring rule while a model trains (none: a static topology)",
                        Options(lambda: REWIRING_RULES))
    drop_fraction: float = setting(0.3, "ζ: the share of each layer's connections replaced per update",
                                   Interval(0, 1, low_open=True, high_open=True))
    every: int = setting(1, "epochs between updates", Interval(1, None, integer=True))
    start_epoch: int = setting(0, "the first epoch after which connections are updated",
                               Interval(0, None, integer=True))
    end_epoch: int | None = setting(None, "no update after this epoch (unset: until the end)",
                                    Either((None, Interval(0, None, integer=True))))
    evolve_output_layer: bool = setting(True, "rewire the output layer too (the SET-motif code kept it fixed)",
                                        Flag())
    regrow_init: str = setting("zero", "a regrown connection starts at zero or at small random values (1 % of "
                                       "its layer's He scale)", Options(("zero", "random")))
    motif_size: int = setting(2, "SET-motif: neurons per motif, pruned and regrown together",
                              Interval(1, None, integer=True))

    def validate(self) -> RewiringConfig:
        check_settings(self, "rewiring")
        return self

    def make_rule(self, seed: int):
        """The rewiring rule (None for ``"none"``), drawing from the ``rewiring`` stream of ``seed``."""
        options = {k: v for k, v in asdict(self).items() if k not in ("rule", "motif_size")}
        if self.rule == "set-motif":
            options["motif_size"] = self.motif_size
        return make_rewiring(self.rule, **options, seed=seeds.derive(seed, "rewiring"))


@document_settings
@dataclass
class RunConfig:
    """A train file: ``[task]``, ``[model]``, ``[rewiring]`` and ``[training]``."""

    task: TaskConfig = setting(doc="[task]: the task and its options", factory=TaskConfig)
    model: ModelConfig = setting(doc="[model]: the sparse network to build", factory=ModelConfig)
    rewiring: RewiringConfig = setting(doc="[rewiring]: rewiring while it trains", factory=RewiringConfig)
    training: TrainConfig = setting(doc="[training]: the shared trainer's settings", factory=TrainConfig)

    def validate(self) -> RunConfig:
        task_entry(self.task.name)
        self.model.validate()
        self.rewiring.validate()
        self.training.validate()
        return self

    def to_dict(self) -> dict:
        """The train-file form (task options flat under ``[task]``); :func:`config_from_dict` reads it back."""
        data = asdict(self)
        data["task"] = task_table(self.task)
        return data


def task_table(task: TaskConfig) -> dict[str, Any]:
    """``[task]`` as TOML holds it: the name beside the task's own options."""
    return {"name": task.name, **task.options}


def task_from_table(values: Any, source: str = "configuration") -> TaskConfig:
    """The inverse of :func:`task_table`; an old nested ``options`` table is accepted too."""
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: [task] must be a table")
    values = dict(values)
    name = values.pop("name", DEFAULT_TASK)
    if not isinstance(name, str):
        raise ConfigError(f"{source}: task.name must be a string naming a task, got {name!r}")
    if isinstance(values.get("options"), dict):  # config.json of structsearch 0.1
        values = {**values.pop("options"), **values}
    return TaskConfig(name, values)


SECTIONS = {"model": ModelConfig, "rewiring": RewiringConfig, "training": TrainConfig}
# every table of a train file, by name (the configuration reference and the options read them)
TRAIN_TABLES = {"task": TaskConfig, **SECTIONS}
# names of earlier releases → today's, each with a one-line deprecation note when used
LEGACY_TABLES = {"evolution": "rewiring"}


def _check_type(section: str, key: str, value: Any, hint: Any) -> Any:
    if get_origin(hint) in (list, dict):  # list[str], dict[str, float]: check the container only
        hint = get_origin(hint)
    # float | list[float]: each member by its container (list), as above
    members = [get_origin(t) or t for t in getattr(hint, "__args__", (hint,))]
    allowed = {t for t in members if isinstance(t, type)}
    if float in allowed and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if value is None and type(None) in allowed:
        return value
    if not any(isinstance(value, t) and not (t is int and isinstance(value, bool)) for t in allowed):
        names = " or ".join(sorted(t.__name__ for t in allowed if t is not type(None)))
        raise ConfigError(f"{section}.{key} must be {names}, got {value!r}")
    return value


def update_section(target: Any, section: str, values: dict[str, Any]) -> None:
    """Set ``values`` on the dataclass ``target``, checking names and types."""
    hints = get_type_hints(type(target))
    known = [f.name for f in fields(target)]
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown key {section}.{key}; allowed: {', '.join(known)}")
        setattr(target, key, _check_type(section, key, value, hints[key]))


def deprecated(old: str, new: str, source: str) -> None:
    """One note (a :class:`FutureWarning`) that ``old`` is now ``new``; it keeps working this release."""
    warnings.warn(f"{source}: {old} is now {new}; the old name works until structsearch 0.3",
                  FutureWarning, stacklevel=3)


def _shown(name: str) -> str:
    """A dotted key as itself, a table as ``[table]``."""
    return name if "." in name else f"[{name}]"


def rename_key(dotted: str, renames: dict[str, str], source: str) -> str:
    """Today's name of a dotted key (``renames`` maps old keys, or old tables, to new ones)."""
    for old, new in renames.items():
        if dotted == old or ("." not in old and dotted.startswith(old + ".")):
            deprecated(_shown(old), _shown(new), source)
            return new + dotted[len(old):]
    return dotted


def rename_legacy(data: dict[str, Any], renames: dict[str, str], source: str) -> dict[str, Any]:
    """A copy of ``data`` with the dotted keys (or tables) of ``renames`` moved to their new names;
    a key given under both names is an error (which one would win is not obvious)."""
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for old, new in renames.items():
        old_table, _, old_key = old.partition(".")
        new_table, _, new_key = new.partition(".")
        holder = data.get(old_table)
        if not isinstance(holder, dict) or (old_key and old_key not in holder):
            continue
        moved = data.pop(old_table) if not old_key else {new_key: holder.pop(old_key)}
        deprecated(_shown(old), _shown(new), source)
        target = data.setdefault(new_table, {})
        if not isinstance(target, dict):
            raise ConfigError(f"{source}: [{new_table}] must be a table")
        for key in moved:
            if key in target:
                given = old if old_key else f"{old_table}.{key}"
                raise ConfigError(f"{source}: {given} and {new_table}.{key} are the same setting; "
                                  f"give it once, as {new_table}.{key}")
        target.update(moved)
    return data


def config_from_dict(data: dict[str, Any], source: str = "configuration") -> RunConfig:
    """A :class:`RunConfig` from train-file data; errors start with ``source``."""
    with errors_from(source):
        data = rename_legacy(data, LEGACY_TABLES, source)
        config = RunConfig()
        for section, values in data.items():
            if section == "task":
                config.task = task_from_table(values, source)
            elif section in SECTIONS:
                if not isinstance(values, dict):
                    raise ConfigError(f"[{section}] must be a table")
                update_section(getattr(config, section), section, values)
            else:
                raise ConfigError(f"unknown table [{section}]; allowed: task, {', '.join(SECTIONS)}")
        return config


def read_toml(path: str | Path, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The tables of a TOML file; an empty file, or one without a ``required`` table, is an error."""
    path = Path(path)
    try:
        data = tomllib.loads(read_bounded(path, "toml").decode())
    except DataError as error:
        raise ConfigError(str(error)) from None
    except RecursionError:
        raise ConfigError(f"{path}: TOML nested too deeply (more than {MAX_NESTING} levels)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: invalid TOML ({str(error).splitlines()[0]})") from None
    if nesting(data) > MAX_NESTING:
        raise ConfigError(f"{path}: TOML nested too deeply (more than {MAX_NESTING} levels)")
    if not data:
        needed = " and ".join(f"[{table}]" for table in required) or "table such as [task]"
        raise ConfigError(f"{path}: an empty file; it needs at least a {needed}")
    for table in required:
        if not isinstance(data.get(table), dict):
            raise ConfigError(f"{path}: no [{table}] table, which it needs")
    return data


def load_config(path: str | Path) -> RunConfig:
    return config_from_dict(read_toml(path), str(path))
