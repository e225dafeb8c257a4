"""What every local worker needs, loaded once by the fork server its workers are forked from (see
:func:`structsearch.search.executors.worker_context`): torch and the jobs' code, the compiled
kernels, ``torch._dynamo`` (which ``torch.optim`` imports with its first optimizer), and the main
script of the process that started the server, as multiprocessing imports it in every worker it
starts (as ``__mp_main__``: its ``if __name__ == "__main__"`` block does not run).

Importing this module loads them and starts no Python thread (a fork copies only the thread that
forks). Native libraries may start their own (numpy's BLAS pool; jemalloc's background thread
when a main script loads pyarrow); they prepare for a fork with their ``pthread_atfork`` handlers."""

import multiprocessing.spawn
import os

from structsearch.search import worker  # noqa: F401  (the code every job runs)
from structsearch.search.executors import MAIN_ENV, load_worker_code

load_worker_code()

_main = os.environ.get(MAIN_ENV)  # set only while the server starts
if _main:
    try:
        multiprocessing.spawn.import_main_path(_main)
    except Exception:  # noqa: BLE001 - each worker then imports it itself, and reports what fails
        pass
