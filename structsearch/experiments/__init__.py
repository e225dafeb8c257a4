"""Studies from the literature, reproduced as ``structsearch experiment ...``.

Each experiment is a function of one typed settings object (:mod:`.settings`), so it runs from
Python as well as from the command line.  The functions are imported lazily: importing this
package does not import torch.
"""

from structsearch.experiments.settings import (
    MnistPruningConfig,
    MotifEmergenceConfig,
    RandomStructuresConfig,
    ReberPriorsConfig,
    ReberPruningConfig,
    SetVsMotifConfig,
)

# experiment name → (its settings class, "module:function")
EXPERIMENTS = {
    "set-vs-motif": (SetVsMotifConfig, "set_vs_motif:run_set_vs_motif"),
    "random-structures": (RandomStructuresConfig, "random_structures:run_random_structures_study"),
    "reber-priors": (ReberPriorsConfig, "random_structures:run_reber_priors"),
    "reber-pruning": (ReberPruningConfig, "reber_pruning:run_reber_pruning"),
    "mnist-pruning": (MnistPruningConfig, "mnist_pruning:run_mnist_pruning"),
    "motif-emergence": (MotifEmergenceConfig, "motif_emergence:run_motif_emergence"),
}


def run_experiment(name: str, settings):
    """Run experiment ``name`` with ``settings`` (an instance of its settings class); its run
    directory's name is checked before any data is loaded."""
    import importlib

    from structsearch.runs import check_name

    if getattr(settings, "name", None) is not None:
        check_name(settings.name)

    module, function = EXPERIMENTS[name][1].split(":")
    return getattr(importlib.import_module(f"structsearch.experiments.{module}"), function)(settings)


def __getattr__(name: str):
    for entry in EXPERIMENTS.values():
        module, function = entry[1].split(":")
        if function == name:
            import importlib

            return getattr(importlib.import_module(f"structsearch.experiments.{module}"), function)
    raise AttributeError(name)


__all__ = ["EXPERIMENTS", "run_experiment", "MnistPruningConfig", "MotifEmergenceConfig", "RandomStructuresConfig",
           "ReberPriorsConfig", "ReberPruningConfig", "SetVsMotifConfig"]
