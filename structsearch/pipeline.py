"""From a :class:`RunConfig` to a trained model: load the task, build the sparse MLP, train it."""

from __future__ import annotations

import numpy as np
import torch

from structsearch.config import RunConfig
from structsearch.errors import ConfigError
from structsearch.nn.mlp import SparseMLP, layered_blocks, parse_architecture
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


def resolve_architecture(config: RunConfig, task: Task) -> list[int]:
    """Layer sizes; the first must be the task's input width and the last its class count."""
    if task.sequence:
        raise ConfigError(
            f"task {task.name!r} holds variable-length sequences; the sparse MLP needs fixed-size "
            "inputs (use digits, mnist, fashion-mnist, madelon or higgs)"
        )
    if config.model.architecture is None:
        return [task.n_inputs, 256, 256, task.n_classes]  # also the default for a genotype's check
    sizes = parse_architecture(config.model.architecture)
    if sizes[0] != task.n_inputs:
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


def genotype_blocks(config: RunConfig, task: Task):
    """The block description decoded from ``config.model.genotype``, checked against the task."""
    from structsearch.graphs import LayeredGraph

    graph = LayeredGraph.load(config.model.genotype)
    if graph.n_inputs != task.n_inputs or graph.n_outputs != task.n_classes:
        raise ConfigError(
            f"genotype {config.model.genotype} has {graph.n_inputs} inputs and {graph.n_outputs} "
            f"outputs but task {task.name!r} has {task.n_inputs} and {task.n_classes}"
        )
    return graph.to_blocks()


def build_model(config: RunConfig, task: Task) -> SparseMLP:
    """The sparse MLP of ``config`` with its initial topology and weights drawn from the run seed."""
    rng = np.random.default_rng(config.training.seed)
    model_config = config.model
    if model_config.genotype is not None:
        resolve_architecture(config, task)  # the sequence check
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        return SparseMLP(genotype_blocks(config, task), activation=model_config.activation,
                         dropout=model_config.dropout, init=model_config.init, generator=generator)
    sizes = resolve_architecture(config, task)
    motif_size = config.evolution.motif_size if config.evolution.rule == "set-motif" else 1
    description = layered_blocks(
        sizes, rng, model_config.density_scheme, model_config.epsilon, model_config.density,
        motif_size,
    )
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    return SparseMLP(description, activation=model_config.activation, dropout=model_config.dropout,
                     init=model_config.init, generator=generator)


def run_training(config: RunConfig, task: Task, callbacks: list[Callback] = ()) -> tuple[SparseMLP, TrainResult]:
    config.validate()
    model = build_model(config, task)
    evolution = make_evolution(
        config.evolution.rule, **config.evolution.rule_options(config.training.seed + 1)
    ) if config.evolution.rule != "none" else None
    result = train(model, task, config.training, [evolution, *callbacks])
    return model, result
