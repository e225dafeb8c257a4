"""What every local worker needs, loaded once by the fork server its workers are forked from (see
:func:`structsearch.search.executors.worker_context`): torch and the jobs' code, the compiled
kernels, and ``torch._dynamo`` (which ``torch.optim`` imports with its first optimizer).

Importing this module loads them; it starts no thread, so that a fork of it is safe."""

import importlib

from structsearch.nn import kernels
from structsearch.search import worker  # noqa: F401  (the code every job runs)

kernels.compiled()
importlib.import_module("torch._dynamo")
