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

    [evolution]
    rule = "set"                  # none | set | set-motif | rigl
    drop_fraction = 0.3

    [training]
    epochs = 10
    lr = 0.05

Unknown tables or keys and values of the wrong type are a :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, get_origin, get_type_hints

from structsearch.errors import ConfigError
from structsearch.nn.activations import ACTIVATIONS
from structsearch.sparsity.density import DENSITY_SCHEMES, check_epsilon
from structsearch.sparsity.evolution import EVOLUTION_NAMES, check_drop_fraction
from structsearch.tasks import DEFAULT_TASK, task_entry
from structsearch.train import TrainConfig


@dataclass
class TaskConfig:
    name: str = DEFAULT_TASK
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelConfig:
    architecture: str | None = None  # None: input-256-256-output of the task
    genotype: str | None = None  # a LayeredGraph file; replaces architecture and density
    cell: str | None = None  # rnn_tanh | rnn_relu | lstm | gru for sequence tasks (default gru)
    epsilon: float = 20.0
    density_scheme: str = "er"
    density: float | None = None
    activation: str = "relu"
    dropout: float = 0.0
    init: str = "he"

    def validate(self) -> ModelConfig:
        if self.genotype is not None and self.architecture is not None:
            raise ConfigError("model.genotype and model.architecture exclude each other; give one")
        if self.cell is not None:
            from structsearch.nn.recurrent import check_cell

            check_cell(self.cell)
        if self.density_scheme not in DENSITY_SCHEMES:
            raise ConfigError(f"model.density_scheme must be one of {', '.join(DENSITY_SCHEMES)}, got {self.density_scheme!r}")
        if self.density_scheme == "er":
            check_epsilon(self.epsilon)
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"model.activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        if self.init not in ("he", "xavier"):
            raise ConfigError(f"model.init must be 'he' or 'xavier', got {self.init!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout must lie in [0, 1), got {self.dropout}")
        return self


@dataclass
class EvolutionConfig:
    rule: str = "set"
    drop_fraction: float = 0.3
    every: int = 1
    start_epoch: int = 0
    end_epoch: int | None = None
    evolve_output_layer: bool = True
    regrow_init: str = "zero"
    motif_size: int = 2

    def validate(self) -> EvolutionConfig:
        if self.rule not in EVOLUTION_NAMES:
            raise ConfigError(f"unknown evolution {self.rule!r}; known: {', '.join(EVOLUTION_NAMES)}")
        check_drop_fraction(self.drop_fraction)
        if self.motif_size < 1:
            raise ConfigError(f"evolution.motif_size must be a positive integer, got {self.motif_size}")
        return self

    def rule_options(self, seed: int) -> dict[str, Any]:
        options = {k: v for k, v in asdict(self).items() if k not in ("rule", "motif_size")}
        if self.rule == "set-motif":
            options["motif_size"] = self.motif_size
        return {**options, "seed": seed}


@dataclass
class RunConfig:
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    evolution: EvolutionConfig = field(default_factory=EvolutionConfig)
    training: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> RunConfig:
        task_entry(self.task.name)
        self.model.validate()
        self.evolution.validate()
        self.training.validate()
        return self

    def to_dict(self) -> dict:
        return asdict(self)


_SECTIONS = {"model": ModelConfig, "evolution": EvolutionConfig, "training": TrainConfig}


def _check_type(section: str, key: str, value: Any, hint: Any) -> Any:
    if get_origin(hint) in (list, dict):  # list[str], dict[str, float]: check the container only
        hint = get_origin(hint)
    allowed = {t for t in getattr(hint, "__args__", (hint,)) if isinstance(t, type)}
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


def set_dotted(data: dict, dotted: str, value, source: str = "--set") -> None:
    """``data[a][b][c] = value`` for ``dotted`` = ``a.b.c``, creating tables on the way."""
    *tables, key = dotted.split(".")
    target = data
    for table in tables:
        target = target.setdefault(table, {})
        if not isinstance(target, dict):
            raise ConfigError(f"{source} {dotted}: {table} is not a table")
    target[key] = value


def config_from_dict(data: dict[str, Any], source: str = "configuration") -> RunConfig:
    config = RunConfig()
    for section, values in data.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: [{section}] must be a table")
        if section == "task":
            values = dict(values)
            name = values.pop("name", DEFAULT_TASK)
            if not isinstance(name, str):
                raise ConfigError(f"{source}: task.name must be a string, got {name!r}")
            config.task = TaskConfig(name, values)
        elif section in _SECTIONS:
            update_section(getattr(config, section), section, values)
        else:
            raise ConfigError(
                f"{source}: unknown table [{section}]; allowed: task, {', '.join(_SECTIONS)}"
            )
    return config


def read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML ({error})") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error})") from None


def load_config(path: str | Path) -> RunConfig:
    try:
        return config_from_dict(read_toml(path), str(path))
    except ConfigError as error:
        message = str(error)
        raise ConfigError(message if message.startswith(str(path)) else f"{path}: {message}") from None
