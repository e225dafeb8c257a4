"""The convolutional family (``[model] kind = "cnn"``): labelled DAGs of convolutional stages
(:class:`~structsearch.graphs.cnn.ConvGenotype`): RandWire stages from three random-graph families
(Xie et al. 2019) and Stier et al.'s random labelled DAGs, varied by their own operators and decoded
into a wired CNN. Its candidates train from scratch, without rewiring.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import torch

from structsearch import seeds
from structsearch.errors import ConfigError
from structsearch.families.base import FAMILIES, Family, Parameter, Prior, PriorContext, uniform
from structsearch.graphs.cnn import ConvGenotype, parameter_count, starved_stage
from structsearch.graphs.cnn_features import cnn_feature_names, cnn_features
from structsearch.graphs.cnn_operators import CNN_CROSSOVERS, CNN_MUTATIONS
from structsearch.graphs.cnn_priors import RANDWIRE_GRAPHS, random_dag, randwire, randwire_ba, randwire_er, randwire_ws
from structsearch.nn.conv import WiredCNN
from structsearch.registry import Registry

STAGES = Parameter(int, (3, 3), "stages separated by stride-2 reductions")
STAGE_NODES = Parameter(int, (8, 16), "vertices per stage")
STAGE_WIDTH = Parameter(int, (16, 32), "the first stage's channels, doubled at each reduction")


def sample_randwire(prior: str):
    """The sampler of a RandWire prior: stages, their vertices and width, then the graph's k, m, p."""

    def sample(ranges: dict, context: PriorContext, rng: np.random.Generator) -> ConvGenotype:
        stages = uniform(rng, ranges["stages"])
        nodes = [uniform(rng, ranges["nodes"]) for _ in range(stages)]
        width = uniform(rng, ranges["width"])
        k = min(uniform(rng, ranges.get("k", [4, 4])), min(nodes) - 1)
        m = min(uniform(rng, ranges.get("m", [1, 1])), min(nodes) - 1)
        return randwire(nodes, [width * 2**i for i in range(stages)], rng, RANDWIRE_GRAPHS[prior], k=k,
                        p=uniform(rng, ranges.get("p", [0.75, 0.75]), float), m=m, in_channels=context.n_inputs,
                        n_classes=context.n_outputs)

    return sample


def sample_random_dag(ranges: dict, context: PriorContext, rng: np.random.Generator) -> ConvGenotype:
    stages = uniform(rng, ranges["stages"])
    return random_dag(tuple(ranges["depth"]), rng, tuple(ranges["level_width"]), tuple(ranges["channels"]),
                      stages=stages, in_channels=context.n_inputs, n_classes=context.n_outputs)


def _below_stage_size(prior: str, key: str):
    def check(ranges: dict, genotype) -> None:
        if ranges[key][1] >= ranges["nodes"][0]:
            raise ConfigError(f"genotype.{prior}.{key} = {ranges[key]}: the largest value must be below the "
                              f"smallest stage size genotype.{prior}.nodes[0] = {ranges['nodes'][0]}")

    return check


PROBABILITY = "rewiring probability (Watts–Strogatz) or edge probability (Erdős–Rényi stages)"
CONV_PRIORS: Registry[Prior] = Registry("convolutional prior", {
    "randwire-ws": Prior(sample_randwire("randwire-ws"), {
        "stages": STAGES, "nodes": STAGE_NODES, "width": STAGE_WIDTH,
        "k": Parameter(int, (4, 4), "each node's nearest neighbours in the ring"),
        "p": Parameter(float, (0.75, 0.75), PROBABILITY, low=0.0, high=1.0)},
        "RandWire stages wired as Watts–Strogatz graphs", check=_below_stage_size("randwire-ws", "k"),
        build=randwire_ws),
    "randwire-ba": Prior(sample_randwire("randwire-ba"), {
        "stages": STAGES, "nodes": STAGE_NODES, "width": STAGE_WIDTH,
        "m": Parameter(int, (1, 5), "edges each new node attaches with")},
        "RandWire stages wired as Barabási–Albert graphs", check=_below_stage_size("randwire-ba", "m"),
        build=randwire_ba),
    "randwire-er": Prior(sample_randwire("randwire-er"), {
        "stages": STAGES, "nodes": STAGE_NODES, "width": STAGE_WIDTH,
        "p": Parameter(float, (0.2, 0.4), PROBABILITY, low=0.0, high=1.0)},
        "RandWire stages wired as Erdős–Rényi graphs", build=randwire_er),
    "random-dag": Prior(sample_random_dag, {
        "stages": Parameter(int, (1, 1), "stages separated by stride-2 reductions"),
        "depth": Parameter(int, (6, 12), "levels of the random DAG"),
        "level_width": Parameter(int, (1, 3), "vertices per level"),
        "channels": Parameter(int, (16, 64), "channels per vertex")},
        "Stier et al.'s random labelled DAGs", build=random_dag),
})


class ConvolutionalFamily(Family):
    """Wired CNNs from labelled DAGs of convolutional stages."""

    name = "cnn"
    meaning = "labelled DAGs of convolutional stages decoded into wired CNNs"
    adjective = "convolutional"
    genotype_type = ConvGenotype
    task_kind = "image"
    rewiring = False
    inheritance = False
    priors = CONV_PRIORS
    mutations = CNN_MUTATIONS
    crossovers = CNN_CROSSOVERS
    default_mutations = {"relabel": 1.0, "insert-subgraph": 1.0}
    default_crossovers = {"subpath-swap": 1.0, "bridge": 1.0, "matching-layers": 1.0}

    def check_task(self, task, space) -> None:
        """An image task, with as many pixels as the deepest genotype's reductions leave one of."""
        super().check_task(task, space)
        shape = task.image_shape
        for prior in space.genotype.priors:
            stages = space.genotype.prior_parameters(prior)["stages"][1]
            stage = starved_stage(stages, shape[1:])
            if stage is not None:
                raise ConfigError(f"genotype.{prior}.stages = {stages}: stage {stage}'s reduction shrinks "
                                  f"{shape[1]}×{shape[2]} images below 1×1; use at most {stage} stages")

    def check_genotype(self, genotype: ConvGenotype, task, source: str) -> None:
        if task.image_shape is None:
            raise ConfigError(f"{source} is convolutional; task {task.name!r} does not hold images")
        channels = task.image_shape[0]
        if (genotype.in_channels, genotype.n_classes) != (channels, task.n_classes):
            raise ConfigError(f"{source} takes {genotype.in_channels} channel(s) and {genotype.n_classes} classes but "
                              f"task {task.name!r} has {channels} and {task.n_classes}")
        problem = genotype.resolution_problem(task.input_shape[-2:])
        if problem:
            raise ConfigError(f"{source}: {problem}")

    def n_inputs(self, model, task) -> int:
        return task.image_shape[0]  # image channels

    def feature_names(self) -> list[str]:
        return cnn_feature_names()

    def features(self, genotype: ConvGenotype) -> tuple[dict, dict]:
        return cnn_features(genotype), {"family": "cnn", "exact": True}

    def size(self, genotype: ConvGenotype) -> tuple[int, int]:
        return parameter_count(genotype), genotype.n_nodes

    def widths(self, genotype: ConvGenotype) -> tuple[int, int]:
        return genotype.in_channels, genotype.n_classes

    def decode(self, genotype: ConvGenotype, model, task, seed: int) -> torch.nn.Module:
        with torch.random.fork_rng(devices=[]):  # torch.nn's own initialisation, seeded, global state untouched
            torch.manual_seed(seeds.derive(seed, "model"))
            return WiredCNN(genotype, task.input_shape)

    def reads(self, data: bytes | dict) -> bool:
        if isinstance(data, dict):
            return data.get("kind") == "cnn"
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return "ops0.npy" in archive.namelist()
        except (zipfile.BadZipFile, OSError, EOFError):
            return False


FAMILIES.register("cnn", ConvolutionalFamily())
