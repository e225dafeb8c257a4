"""The genetic structure search: search spaces, individuals, the predictor gate, executors and the
loop with checkpoint and resume (``structsearch evolve``)."""

from structsearch.search.engine import Search, SearchOutcome
from structsearch.search.space import SearchSpace, builtin_spaces, load_space

__all__ = ["Search", "SearchOutcome", "SearchSpace", "builtin_spaces", "load_space"]
