"""The genetic structure search: search spaces, individuals, the predictor gate, executors and the
loop with checkpoint and resume (``structsearch evolve``).

The package itself exports nothing, so a worker process that only trains candidates
(:mod:`structsearch.search.worker`) does not load the search machinery; the public names are in
:mod:`structsearch.api`. The names this package exported in 0.2 still work until 0.3, each with a
:class:`DeprecationWarning`.
"""

from structsearch.registry import moved

__getattr__ = moved({"Search": "structsearch.search.engine", "SearchOutcome": "structsearch.search.engine",
                     "SearchSpace": "structsearch.search.space", "builtin_spaces": "structsearch.search.space",
                     "load_space": "structsearch.search.space"}, __name__)
