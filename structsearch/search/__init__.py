"""The genetic structure search: search spaces, individuals, the predictor gate, executors and the
loop with checkpoint and resume (``structsearch evolve``).

The package itself exports nothing, so a worker process that only trains candidates
(:mod:`structsearch.search.worker`) does not load the search machinery; the public names are in
:mod:`structsearch.api`. The names this package exported in 0.2 still work until 0.3, each with a
:class:`DeprecationWarning`.
"""
import importlib
import warnings

_MOVED = {"Search": "structsearch.search.engine", "SearchOutcome": "structsearch.search.engine",
          "SearchSpace": "structsearch.search.space", "builtin_spaces": "structsearch.search.space",
          "load_space": "structsearch.search.space"}


def __getattr__(name: str):
    if name not in _MOVED:
        raise AttributeError(f"module 'structsearch.search' has no attribute {name!r}")

    warnings.warn(f"structsearch.search.{name} is now imported from structsearch.api (or {_MOVED[name]}); "
                  "the old path works until structsearch 0.3", DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(_MOVED[name]), name)
