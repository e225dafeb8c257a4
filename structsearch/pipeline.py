"""From configuration to a trained model: load the task, build the candidate, train it.

:func:`build_candidate` is the one place a genotype (or layer sizes) becomes a sparse model and its
rewiring rule; the train command, the search workers, the studies and every experiment use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from structsearch import seeds
from structsearch.config import ModelConfig, RewiringConfig, RunConfig, config_from_dict
from structsearch.errors import ConfigError, DataError
from structsearch.families import FAMILIES, family_of
from structsearch.families import load_genotype as load_any
from structsearch.graphs import erdos_renyi
from structsearch.graphs.density import connections_for, layer_densities
from structsearch.limits import check_file, check_memory, model_bytes, parse_json, read_bounded
from structsearch.nn.mlp import SparseMLP, parse_architecture
from structsearch.nn.sparse_linear import check_sparse_layers
from structsearch.tasks import Task, load_task, task_options
from structsearch.train import TrainResult, train
from structsearch.train_callbacks import Callback


def load_configured_task(config: RunConfig, data_dir: str | None = None) -> Task:
    """The task a train configuration names, loaded with its options.

    Parameters
    ----------
    config : RunConfig
        The configuration; its ``task`` names the task and holds its options.
    data_dir : str, optional
        The datasets folder for file tasks (else ``$STRUCTSEARCH_DATA``), unless the options
        name one.

    Returns
    -------
    Task
        The task's training, validation and test splits.
    """
    options = dict(config.task.options)
    if data_dir is not None and "data_dir" in _task_option_names(config.task.name):
        options.setdefault("data_dir", data_dir)
    return load_task(config.task.name, **options)


def _task_option_names(name: str) -> set[str]:
    return set(task_options(name))


DEFAULT_SEQUENCE_ARCHITECTURE = [8, 50, 50, 50]  # embedding, then three recurrent layers (Stier et al.)

# Stier et al.'s recurrent training: Adam 1e-3, batches of 32–128, gradient clipping at 5, up to
# 15 epochs, no rewiring.  Used for the keys a user leaves unset on a sequence task.
SEQUENCE_DEFAULTS = {
    "model.cell": "gru",
    "training.optimizer": "adam",
    "training.lr": 1e-3,
    "training.grad_clip": 5.0,
    "training.batch_size": 64,
    "training.epochs": 15,
    "rewiring.rule": "none",
}


def apply_sequence_defaults(config: RunConfig, given: set[str]) -> RunConfig:
    """Fill the recurrent training defaults into every dotted key not in ``given``."""
    for dotted, value in SEQUENCE_DEFAULTS.items():
        if dotted not in given:
            section, key = dotted.split(".")
            setattr(getattr(config, section), key, value)
    return config.validate()


def resolve_architecture(config: RunConfig, task: Task) -> list[int]:
    """Layer sizes; the first must be the task's input width (for sequence tasks: the embedding
    size, free) and the last its class count."""
    if task.sequence and config.model.cell is None and config.model.architecture is None \
            and config.model.genotype is None:
        return [*DEFAULT_SEQUENCE_ARCHITECTURE, task.n_classes]
    if not task.sequence and config.model.cell is not None:
        raise ConfigError(f"model.cell={config.model.cell!r} needs a sequence task; {task.name!r} is not one")
    if config.model.architecture is None:
        first = DEFAULT_SEQUENCE_ARCHITECTURE if task.sequence else [task.n_inputs, 256, 256]
        return [*first, task.n_classes]  # also the default for a genotype's check
    sizes = parse_architecture(config.model.architecture)
    if sizes[0] != task.n_inputs and not task.sequence:
        raise ConfigError(
            f"architecture {config.model.architecture} starts with {sizes[0]} inputs but task "
            f"{task.name!r} has {task.n_inputs}"
        )
    if sizes[-1] != task.n_classes:
        raise ConfigError(
            f"architecture {config.model.architecture} ends with {sizes[-1]} outputs but task "
            f"{task.name!r} has {task.n_classes} classes"
        )
    return sizes


def load_genotype(config: RunConfig, task: Task):
    """The genotype of ``config.model.genotype``, checked against the task by its family."""
    graph = load_any(config.model.genotype)
    family_of(graph, task).check_genotype(graph, task, f"genotype {config.model.genotype}")
    return graph


@dataclass(frozen=True)
class ModelSpec:
    """How a genotype becomes a trainable candidate: the ``[model]`` settings (activation,
    dropout, initialisation, recurrent cell, density of drawn layers) and the ``[rewiring]`` rule.

    Parameters
    ----------
    model : ModelConfig
        The ``[model]`` settings the genotype decodes with.
    rewiring : RewiringConfig
        The rewiring rule while it trains (default ``none``).
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    rewiring: RewiringConfig = field(default_factory=lambda: RewiringConfig(rule="none"))


def build_candidate(genotype, spec: ModelSpec, task: Task, seed: int, family: str | None = None):
    """``(model, topology_rule)`` for a genotype: the one way every command builds a network.

    ``genotype`` is a genotype of a family (:mod:`structsearch.families`), which decodes it: the
    family named, else the one its type and the task call for (a layered genotype on a sequence
    task decodes into a sparse recurrent net of ``spec.model.cell``, GRU by default, otherwise into a
    sparse MLP). Or it is layer sizes whose connectivity is drawn from ``spec.model``'s density
    (Erdős–Rényi ε, ERK, uniform). Initial connectivity and weights draw from the ``model``
    stream of ``seed``, the rule (None for ``"none"``) from its ``rewiring`` stream.

    Parameters
    ----------
    genotype : LayeredGraph, ConvGenotype or list of int
        The structure to decode, or layer widths ``[inputs, hidden…, outputs]``.
    spec : ModelSpec
        The model settings and the rewiring rule.
    task : Task
        The task it will train on (its input shape, classes and whether it is a sequence task).
    seed : int
        The seed of its initial weights and of its rule's draws.
    family : str, optional
        The genotype family that decodes it (``[model] kind``); by default the one its type and
        the task call for.

    Returns
    -------
    tuple of (torch.nn.Module, RewiringRule or None)
        The sparse model and its rewiring rule (a training callback).
    """
    model, rng = spec.model, seeds.generator(seed, "model")
    if isinstance(genotype, list | tuple):
        check_model_memory(genotype, model)
        if task.sequence:  # layer sizes of a recurrent net: the recurrent family decodes their ER draw
            genotype = erdos_renyi(list(genotype), model.epsilon, rng)
        else:
            motif_size = spec.rewiring.motif_size if spec.rewiring.rule == "set-motif" else 1
            network = SparseMLP.from_layer_sizes(
                list(genotype), rng, model.density_scheme, model.epsilon, model.density, motif_size,
                activation=model.activation, dropout=model.dropout, init=model.init)
            return network, spec.rewiring.make_rule(seed)
    decoder = FAMILIES.lookup(family, "model.kind") if family is not None else family_of(genotype, task)
    check_model_memory(genotype, model, decoder)
    # a family that cannot rewire refuses a rule; a recurrent net's layers can (the train command
    # allows it), though the search keeps Stier et al.'s setting and trains them without
    if not decoder.rewiring and spec.rewiring.rule != "none" and decoder.task_kind != "sequence":
        raise ConfigError(f"rewiring.rule = {spec.rewiring.rule!r}: {decoder.adjective} networks train without "
                          "rewiring; use 'none'")
    return decoder.decode(genotype, model, task, seed), spec.rewiring.make_rule(seed)


def check_model_memory(genotype, model: ModelConfig, family=None) -> None:
    """Refuse, before building it, a model too large for the memory limit (:mod:`structsearch.limits`)."""
    if not isinstance(genotype, list | tuple):
        connections, neurons = (family or family_of(genotype)).size(genotype)
    else:
        sizes = [int(size) for size in genotype]
        shapes = list(zip(sizes[:-1], sizes[1:], strict=True))
        densities = layer_densities(shapes, model.density_scheme, model.epsilon, model.density)
        connections = sum(connections_for(n_in, n_out, d) for (n_in, n_out), d in zip(shapes, densities, strict=True))
        neurons = sum(sizes)
    check_memory(model_bytes(connections, neurons),
                 f"a model of {neurons:,} neurons and {connections:,} connections")


def build_model(config: RunConfig, task: Task):
    """The model of a train configuration (its genotype file, or its architecture) and its rule."""
    sizes = resolve_architecture(config, task)  # also checks the cell against the task
    genotype = load_genotype(config, task) if config.model.genotype is not None else sizes
    return build_candidate(genotype, ModelSpec(config.model, config.rewiring), task, config.training.seed)


def run_training(config: RunConfig, task: Task, callbacks: list[Callback] = ()) -> tuple[object, TrainResult]:
    """Build the configuration's model and train it: what ``structsearch train`` does.

    Parameters
    ----------
    config : RunConfig
        The train configuration (validated here).
    task : Task
        The task, as :func:`load_configured_task` loads it.
    callbacks : list of Callback
        Extra training callbacks (after the rewiring rule).

    Returns
    -------
    tuple of (torch.nn.Module, TrainResult)
        The trained model (with the weights of its best validation epoch) and the result: status,
        selected epoch, validation and test accuracy, curves, seconds per phase, connections.
    """
    config.validate()
    model, rule = build_model(config, task)
    result = train(model, task, config.training, [rule, *callbacks])
    return model, result


def load_trained_model(run_dir, data_dir=None):
    """(config, task, model) of a ``structsearch train --save-model`` (or ``prune``) run directory."""
    source = Path(run_dir)
    config_path, weights = source / "config.json", source / "model.pt"
    if not config_path.is_file() or not weights.is_file():
        raise DataError(f"{source}: not a trained model's run directory (needs config.json and model.pt "
                        "from `structsearch train --save-model`)")

    stored = parse_json(read_bounded(config_path, "json"), config_path)
    check_file(weights, "model")
    if not isinstance(stored, dict):
        raise DataError(f"{config_path}: not a run configuration")
    config = config_from_dict(stored, str(config_path)).validate()
    task = load_configured_task(config, data_dir)
    model, _ = build_model(config, task)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception:  # torch raises pickle, zip and runtime errors for a damaged or foreign file
        raise DataError(f"{weights}: not a readable model file (damaged, or not written by structsearch)") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(f"{weights}: not a model's state dict")
    try:
        model.load_state_dict(state)
        check_sparse_layers(model)
    except (RuntimeError, KeyError, ValueError) as error:
        lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
        what = lines[1] if len(lines) > 1 and lines[0].endswith(":") else (lines[0] if lines else "wrong tensors")
        raise DataError(f"{weights}: {what} (a damaged file, or not the model of {config_path.name})") from None
    return config, task, model
