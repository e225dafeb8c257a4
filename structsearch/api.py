"""The public Python API of structsearch, named in one place.

Everything a script or notebook needs is importable from here::

    from structsearch.api import Search, InProcessExecutor, load_space

    space = load_space("digits-small")
    outcome = Search.start(space, "runs/from-python", InProcessExecutor()).run()

Names outside ``__all__`` (and modules not re-exported here) may change between releases without
notice; these follow the changelog. The documentation's API reference is generated from the
docstrings of exactly these names.
"""

from structsearch.config import ModelConfig, RewiringConfig, RunConfig, TaskConfig
from structsearch.experiments.set_vs_motif import run_set_vs_motif
from structsearch.experiments.settings import SetVsMotifConfig
from structsearch.graphs.features import graph_features
from structsearch.graphs.layered import LayeredGraph
from structsearch.graphs.priors import barabasi_albert, configuration_model, erdos_renyi, motif_composed, watts_strogatz
from structsearch.nn.mlp import SparseMLP
from structsearch.nn.sparse_linear import SparseLinear
from structsearch.pipeline import ModelSpec, build_candidate, load_configured_task, run_training
from structsearch.predictors.model import PerformancePredictor, load_predictor
from structsearch.report import write_report
from structsearch.search.engine import Search, SearchOutcome
from structsearch.search.executors import DaskExecutor, InProcessExecutor, LocalExecutor
from structsearch.search.space import SearchSpace, load_space
from structsearch.sklearn import SparseMLPClassifier, StructureSearchClassifier
from structsearch.sparsity.rewiring import SET, RigL, SETMotif, make_rewiring
from structsearch.studies import StudyConfig, run_study
from structsearch.tasks.base import Task, load_task
from structsearch.train import TrainConfig

__all__ = [
    # searching
    "SearchSpace", "load_space", "Search", "SearchOutcome", "InProcessExecutor", "LocalExecutor", "DaskExecutor",
    # training one network
    "RunConfig", "TaskConfig", "ModelConfig", "RewiringConfig", "TrainConfig", "load_task", "Task",
    "load_configured_task", "run_training", "build_candidate", "ModelSpec",
    # genotypes
    "LayeredGraph", "erdos_renyi", "watts_strogatz", "barabasi_albert", "configuration_model", "motif_composed",
    "graph_features",
    # sparse layers and rewiring
    "SparseLinear", "SparseMLP", "SET", "SETMotif", "RigL", "make_rewiring",
    # predictors, studies, reports, experiments
    "PerformancePredictor", "load_predictor", "run_study", "StudyConfig", "write_report", "run_set_vs_motif",
    "SetVsMotifConfig",
    # scikit-learn
    "SparseMLPClassifier", "StructureSearchClassifier",
]
