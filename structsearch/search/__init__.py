"""The genetic structure search: search spaces, individuals, the predictor gate, executors and the
loop with checkpoint and resume (``structsearch evolve``).

Names are imported on first use, so a worker process that only trains candidates
(:mod:`structsearch.search.worker`) does not load the search machinery.
"""

_EXPORTS = {
    "Search": "structsearch.search.engine",
    "SearchOutcome": "structsearch.search.engine",
    "SearchSpace": "structsearch.search.space",
    "builtin_spaces": "structsearch.search.space",
    "load_space": "structsearch.search.space",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'structsearch.search' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
