"""From a :class:`RunConfig` to a trained model: load the task, build the sparse MLP, train it."""

from __future__ import annotations

import numpy as np
import torch

from structsearch.config import RunConfig
from structsearch.errors import ConfigError
from structsearch.nn.mlp import SparseMLP, parse_architecture
from structsearch.sparsity.evolution import make_evolution
from structsearch.tasks import Task, load_task
from structsearch.train import TrainResult, train
from structsearch.train_callbacks import Callback


def load_configured_task(config: RunConfig, data_dir: str | None = None) -> Task:
    options = dict(config.task.options)
    if data_dir is not None and "data_dir" in _task_option_names(config.task.name):
        options.setdefault("data_dir", data_dir)
    return load_task(config.task.name, **options)


def _task_option_names(name: str) -> set[str]:
    from structsearch.tasks import task_options

    return set(task_options(name))


DEFAULT_SEQUENCE_ARCHITECTURE = [8, 50, 50, 50]  # embedding, then three recurrent layers (Stier et al.)

# Stier et al.'s recurrent training: Adam 1e-3, batches of 32–128, gradient clipping at 5, up to
# 15 epochs, no topology evolution.  Used for the keys a user leaves unset on a sequence task.
SEQUENCE_DEFAULTS = {
    ("model", "cell"): "gru",
    ("training", "optimizer"): "adam",
    ("training", "lr"): 1e-3,
    ("training", "grad_clip"): 5.0,
    ("training", "batch_size"): 64,
    ("training", "epochs"): 15,
    ("evolution", "rule"): "none",
}


def apply_sequence_defaults(config: RunConfig, given: set[tuple[str, str]]) -> RunConfig:
    """Fill the recurrent training defaults into every (section, key) not in ``given``."""
    for (section, key), value in SEQUENCE_DEFAULTS.items():
        if (section, key) not in given:
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
    """The genotype of ``config.model.genotype``, checked against the task."""
    from structsearch.graphs import LayeredGraph

    graph = LayeredGraph.load(config.model.genotype)
    if task.sequence:
        if graph.n_outputs != task.n_classes:
            raise ConfigError(f"genotype {config.model.genotype} has {graph.n_outputs} outputs but task "
                              f"{task.name!r} has {task.n_classes} classes")
        return graph
    if graph.n_inputs != task.n_inputs or graph.n_outputs != task.n_classes:
        raise ConfigError(
            f"genotype {config.model.genotype} has {graph.n_inputs} inputs and {graph.n_outputs} "
            f"outputs but task {task.name!r} has {task.n_inputs} and {task.n_classes}"
        )
    return graph


def build_recurrent(config: RunConfig, task: Task, rng: np.random.Generator):
    """A sparse recurrent model: from the genotype file, or from the architecture (embedding,
    hidden…, classes) with Erdős–Rényi connectivity of ε between consecutive layers."""
    from structsearch.graphs import erdos_renyi
    from structsearch.nn.recurrent import SparseRecurrentNet

    cell = config.model.cell or "gru"
    if config.model.genotype is not None:
        graph = load_genotype(config, task)
    else:
        graph = erdos_renyi(resolve_architecture(config, task), config.model.epsilon, rng)
    return SparseRecurrentNet.from_graph(graph, cell, task.vocabulary_size or 128,
                                         seed=int(rng.integers(2**62)))


def build_model(config: RunConfig, task: Task):
    """The sparse model of ``config`` (an MLP, or a recurrent net for sequence tasks) with its
    initial topology and weights drawn from the run seed."""
    rng = np.random.default_rng(config.training.seed)
    model_config = config.model
    if task.sequence:
        return build_recurrent(config, task, rng)
    if model_config.genotype is not None:
        resolve_architecture(config, task)  # the cell check
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        return SparseMLP(load_genotype(config, task).to_blocks(), activation=model_config.activation,
                         dropout=model_config.dropout, init=model_config.init, generator=generator)
    sizes = resolve_architecture(config, task)
    motif_size = config.evolution.motif_size if config.evolution.rule == "set-motif" else 1
    return SparseMLP.from_layer_sizes(
        sizes, rng, model_config.density_scheme, model_config.epsilon, model_config.density, motif_size,
        activation=model_config.activation, dropout=model_config.dropout, init=model_config.init,
    )


def run_training(config: RunConfig, task: Task, callbacks: list[Callback] = ()) -> tuple[object, TrainResult]:
    config.validate()
    model = build_model(config, task)
    evolution = make_evolution(
        config.evolution.rule, **config.evolution.rule_options(config.training.seed + 1)
    ) if config.evolution.rule != "none" else None
    result = train(model, task, config.training, [evolution, *callbacks])
    return model, result
