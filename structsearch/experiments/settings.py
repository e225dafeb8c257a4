"""The typed settings of every experiment, so each runs from Python as well as from the command line::

    from structsearch.experiments import SetVsMotifConfig, run_set_vs_motif
    rows = run_set_vs_motif(SetVsMotifConfig(task="digits", hidden="64-64", epochs=2))

Each field is a declared setting (:mod:`structsearch.declare`): its default is the command's default
and its meaning and bounds are the option's help, type and check (``structsearch experiment NAME
--help`` is built from these classes).
"""

from __future__ import annotations

from dataclasses import dataclass

from structsearch.declare import Either, Interval, document_settings, setting


def option(default, help: str, minimum: int | None = None):
    """A declared settings field (:func:`structsearch.declare.setting`): its default, meaning and, for a
    count, its lower bound; the command line's options are made from it."""
    allowed = None if minimum is None else Interval(minimum, None, integer=True)
    if allowed is not None and default is None:
        allowed = Either((None, allowed))
    return setting(default, help, allowed)


@dataclass
class RunSettings:
    """Where an experiment writes: ``runs/<name>`` (default name: a timestamp), and its seed."""

    seed: int = option(0, "the seed every random draw derives from", minimum=0)
    runs: str = option("runs", "parent folder of run directories")
    name: str | None = option(None, "run directory name (default: a timestamp)")
    overwrite: bool = option(False, "replace an existing run directory of this --name")
    data_dir: str | None = option(None, "folder with the datasets (default $STRUCTSEARCH_DATA)")


@dataclass
class SuSetting(RunSettings):
    """Su (2022)'s training setting: SGD (lr 0.05), batch 40, 5,000/1,000 images."""

    epochs: int = option(10, "training epochs", minimum=1)
    lr: float = option(0.05, "SGD learning rate")
    batch_size: int = option(40, "samples per training batch", minimum=1)
    train_size: int = option(5000, "training images (a stratified subset)", minimum=1)
    test_size: int = option(1000, "test images (a stratified subset)", minimum=1)


@document_settings
@dataclass
class SetVsMotifConfig(SuSetting):
    """The SET against SET-motif A/B of Su (2022): the same networks trained with each rule, over
    ε values and repeats (``structsearch experiment set-vs-motif``)."""

    task: str = option("fashion-mnist", "the task (mnist and fashion-mnist take train_size and test_size)")
    hidden: str = option("1000-1000-1000", "hidden layer sizes")
    epsilons: str = option("20", "comma-separated ε values")
    repeats: int = option(1, "trainings per rule and ε, each with its own seed", minimum=1)
    drop_fraction: float = option(0.3, "ζ, the share of connections (or motifs) replaced per epoch")


@dataclass
class MotifEmergenceConfig(SuSetting):
    task: str = option("fashion-mnist", "the task")
    architecture: str = option("784-256-256-10", "layer sizes of the trained network")
    epsilon: float = option(10.0, "Erdős–Rényi ε")
    rule: str = option("set", "set | set-motif | rigl")
    drop_fraction: float = option(0.3, "ζ, the share of connections (or motifs) replaced per epoch")
    samples: int = option(20, "null graphs per census during training", minimum=1)
    final_samples: int = option(100, "null graphs of the final census", minimum=1)
    seeds: int = option(5, "seeds of the prior comparison", minimum=1)


@dataclass
class StructureSampling(RunSettings):
    """Which priors, how many networks per prior and their node range (Stier et al.: n in [10, 50])."""

    priors: str = option("watts-strogatz,barabasi-albert",
                         "comma-separated; a network depends only on (seed, prior, index), so processes "
                         "given different priors can fill one run directory side by side")
    per_prior: int = option(30, "networks per prior", minimum=1)
    repeats: int = option(1, "trainings per network from different initial weights; its accuracies are "
                              "their means (a resumed study adds the missing trainings)", minimum=1)
    min_nodes: int = option(10, "fewest hidden neurons of a drawn graph")
    max_nodes: int = option(50, "most hidden neurons of a drawn graph")
    resume: str | None = option(None, "a run directory of this study to continue")


@dataclass
class RandomStructuresConfig(StructureSampling):
    task: str = option("digits", "the task")
    task_options: dict = option(None, "task options, e.g. train_size=5000")
    epochs: int = option(5, "training epochs", minimum=1)
    optimizer: str = option("adam", "sgd or adam")
    lr: float = option(1e-2, "learning rate")
    batch_size: int = option(64, "samples per training batch", minimum=1)


@dataclass
class ReberPriorsConfig(StructureSampling):
    cells: str = option("gru", "comma-separated: rnn_tanh,rnn_relu,lstm,gru")
    epochs: int = option(15, "training epochs", minimum=1)
    n_strings: int = option(25_000, "Reber strings generated", minimum=1)
    embedding: int = option(8, "the embedding width the genotype reads", minimum=1)
    lr: float = option(1e-3, "learning rate")
    batch_size: int = option(64, "samples per training batch", minimum=1)


@dataclass
class ReberPruningConfig(RunSettings):
    cells: str = option("rnn_tanh,rnn_relu,lstm,gru", "comma-separated recurrent cells")
    hidden: str = option("50-50-50", "recurrent layer sizes of the base model")
    embedding: int = option(8, "the embedding width the genotype reads", minimum=1)
    epochs: int = option(2, "base model training epochs", minimum=1)
    n_strings: int = option(25_000, "Reber strings generated", minimum=1)
    lr: float = option(3e-3, "Adam learning rate (base model and retraining)")
    batch_size: int = option(32, "samples per training batch", minimum=1)


@dataclass
class MnistPruningConfig(RunSettings):
    task: str = option("mnist", "the task")
    networks: str = option("784-100-10,784-300-100-10", "comma-separated layer sizes of the networks")
    methods: str = option("random,magnitude-blinded,magnitude-uniform,magnitude-distributed,obd",
                         "comma-separated pruning methods")
    compressions: str = option("10,20,30,40,50,60,70,80,90,95", "percent of weights removed")
    epochs: int = option(10, "base model training epochs", minimum=1)
    retrain_epochs: int = option(2, "retraining epochs after each pruning step")
    lr: float = option(0.05, "SGD learning rate (momentum 0.9)")
    batch_size: int = option(64, "samples per training batch", minimum=1)
    train_size: int | None = option(None, "a stratified subset of the training images", minimum=1)
    obd_samples: int = option(10_000, "samples of OBD's Fisher estimate", minimum=1)


@dataclass
class SetMnistConfig(RunSettings):
    """Mocanu et al. (2018)'s SET-MLP on MNIST for as many epochs as fit ``hours``
    (``structsearch experiment set-mnist``)."""

    task: str = option("mnist", "the task")
    hidden: str = option("1000-1000-1000", "hidden layer sizes")
    epsilon: float = option(20.0, "Erdős–Rényi ε")
    drop_fraction: float = option(0.3, "ζ, the share of connections SET replaces per epoch")
    hours: float = setting(2.0, "wall-clock budget in hours: an epoch starts only if it should end within it",
                           Interval(0, None, low_open=True))
    epochs: int = option(1000, "most epochs (the paper's 1,000)", minimum=1)
    lr: float = option(0.01, "SGD learning rate (momentum 0.9)")
    weight_decay: float = option(2e-4, "L2 weight decay")
    batch_size: int = option(100, "samples per training batch", minimum=1)
    dropout: float = setting(0.3, "dropout on the hidden activations", Interval(0, 1, high_open=True))
    train_size: int | None = option(None, "a stratified subset of the training images", minimum=1)
