"""Studies from the literature, reproduced as ``structsearch experiment ...``.

Each experiment is a function of one typed settings object (:mod:`.settings`), so it runs from
Python as well as from the command line. :data:`EXPERIMENTS` maps each name to its settings class
and its function.
"""

from structsearch.declare import check_settings
from structsearch.experiments.mnist_pruning import run_mnist_pruning
from structsearch.experiments.motif_emergence import run_motif_emergence
from structsearch.experiments.random_structures import run_random_structures_study, run_reber_priors
from structsearch.experiments.reber_pruning import run_reber_pruning
from structsearch.experiments.set_mnist import run_set_mnist
from structsearch.experiments.set_vs_motif import run_set_vs_motif
from structsearch.experiments.settings import (
    MnistPruningConfig,
    MotifEmergenceConfig,
    RandomStructuresConfig,
    ReberPriorsConfig,
    ReberPruningConfig,
    SetMnistConfig,
    SetVsMotifConfig,
)
from structsearch.registry import Registry
from structsearch.runs import check_name

# experiment name → (its settings class, its function)
EXPERIMENTS = Registry("experiment", {
    "set-vs-motif": (SetVsMotifConfig, run_set_vs_motif),
    "random-structures": (RandomStructuresConfig, run_random_structures_study),
    "reber-priors": (ReberPriorsConfig, run_reber_priors),
    "reber-pruning": (ReberPruningConfig, run_reber_pruning),
    "mnist-pruning": (MnistPruningConfig, run_mnist_pruning),
    "motif-emergence": (MotifEmergenceConfig, run_motif_emergence),
    "set-mnist": (SetMnistConfig, run_set_mnist),
})


def run_experiment(name: str, settings):
    """Run experiment ``name`` with ``settings`` (an instance of its settings class); its declared
    values and its run directory's name are checked before any data is loaded."""
    check_settings(settings, "--")
    if getattr(settings, "name", None) is not None:
        check_name(settings.name)
    return EXPERIMENTS.lookup(name)[1](settings)


__all__ = ["EXPERIMENTS", "MnistPruningConfig", "MotifEmergenceConfig", "RandomStructuresConfig", "ReberPriorsConfig",
           "ReberPruningConfig", "SetMnistConfig", "SetVsMotifConfig", "run_experiment", "run_mnist_pruning",
           "run_motif_emergence", "run_random_structures_study", "run_reber_priors", "run_reber_pruning",
           "run_set_mnist", "run_set_vs_motif"]
