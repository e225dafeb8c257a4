"""Where candidates train: a local process pool, or a Dask cluster.

Both take JSON jobs and yield JSON results as they finish (:meth:`run`), so the search loop is
the same for one core and for many machines.  A worker process that dies takes its jobs with it;
the local executor starts a fresh pool and runs each lost job once more before recording it as
failed.

Jobs are pulled from their iterable only as workers free up, never all at once, so the search
decides at every step whether its budget allows another candidate.  An iterable may yield
``None`` — "nothing now, ask again after the next result" (a budget held by running candidates);
the search never does so while nothing is running.
"""

from __future__ import annotations

import ctypes
import importlib
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import multiprocessing.spawn
import os
import signal
import socket
import sys
import threading
import urllib.parse
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Protocol

from structsearch.errors import ConfigError
from structsearch.limits import available_cores
from structsearch.nn import kernels
from structsearch.registry import Registry
from structsearch.search.fake import StructureScoreExecutor
from structsearch.search.worker import JobResult, evaluate, warm_up


class Executor(Protocol):
    """Where candidates train: :meth:`run` takes JSON :class:`~structsearch.search.worker.Job` texts
    and yields JSON :class:`~structsearch.search.worker.JobResult` texts as they finish."""

    @property
    def workers(self) -> int:
        """How many candidates train at once (each job gets the cores divided among them)."""
        ...

    def run(self, jobs: Iterable[str | None]) -> Iterator[str]: ...

    def close(self) -> None: ...

    def describe(self) -> str: ...


def _lost(job: str, why: str) -> str:
    return JobResult.lost(job, why).to_json()


class JobFeed:
    """The jobs of one :meth:`run`, taken one at a time as workers free up."""

    _END = object()

    def __init__(self, jobs: Iterable[str | None]):
        self.source = iter(jobs)
        self.finished = False

    def take(self) -> str | None:
        """The next job, or None when there is none now (or none left: see ``finished``)."""
        if self.finished:
            return None
        job = next(self.source, self._END)
        if job is self._END:
            self.finished = True
            return None
        return job

    def fill(self, running: int, slots: int, submit) -> None:
        """Submit jobs until ``slots`` run, the source has nothing now, or it is finished; with
        nothing running, ask until it gives a job or finishes."""
        while running < slots:
            job = self.take()
            if job is None:
                if self.finished or running > 0:
                    return
                continue
            submit(job)
            running += 1


def _quiet_worker() -> None:
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")


def exit_with_parent() -> None:
    """Make this worker process end when the process that made its pool dies, however it dies
    (``kill -9`` included): a thread waits on multiprocessing's sentinel of that process (a pipe
    that closes with it), and on Linux ``PR_SET_PDEATHSIG`` also ends a worker with its direct
    parent (the fork server of a forked worker, which outlives the pool's process only as long as
    its workers do)."""
    owner = multiprocessing.parent_process()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if owner is None:
        return
    if not owner.is_alive():  # it died before this worker started
        os._exit(1)

    def watch() -> None:
        multiprocessing.connection.wait([owner.sentinel])
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="structsearch-parent-watch").start()


def _worker_start(environment: dict[str, str]) -> None:
    exit_with_parent()
    if environment != os.environ:  # a forked worker has its server's environment, not its pool's
        os.environ.clear()
        os.environ.update(environment)
    _quiet_worker()
    load_worker_code()  # while the search prepares its first jobs, not in the first job


def load_worker_code() -> None:
    """Load what a worker needs before its first job: the kernels, and ``torch._dynamo``, which
    torch.optim imports when it makes its first optimizer (1.3 s on a Xeon). A forked worker has
    them from its server already (see :mod:`structsearch.search.preload`)."""
    kernels.compiled()
    importlib.import_module("torch._dynamo")


# the module the fork server imports once for every worker it forks
PRELOAD = "structsearch.search.preload"
MAIN_ENV = "STRUCTSEARCH_WORKER_MAIN"  # the main script the server imports (Python 3.11's "__main__" preload cannot)
# variables read when a library loads (OpenMP, MKL, the loader) or when the server preloads (the
# kernels' choice and build folder): a worker forked from the server keeps the server's reading
_LOAD_TIME_ENV = ("OMP_", "GOMP_", "KMP_", "MKL_", "OPENBLAS_", "LD_", "PYTHON", "STRUCTSEARCH_KERNELS",
                  "XDG_CACHE_HOME")
_server_environment: dict[str, str] | None = None  # those variables when this process's server started


def worker_context():
    """How local workers start: forked from a server that has loaded torch, the kernels and the jobs'
    code once (``forkserver`` with :data:`PRELOAD`: a worker starts in milliseconds instead of the
    seconds of a fresh interpreter, and a pool's second worker costs no second import), or spawned
    where there is no fork server, or where a load-time variable changed since the server started.
    No worker is a fork of the search process itself: its threads make a plain fork unsafe."""
    global _server_environment
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    now = {name: value for name, value in os.environ.items() if name.startswith(_LOAD_TIME_ENV)}
    if _server_environment is None:
        _server_environment = now
        # the server imports this process's main script too (see preload), once: a worker forked from it
        # then skips the import of the script that a spawned worker runs (1 s for a script that
        # imports the engine)
        multiprocessing.get_context("forkserver").set_forkserver_preload([PRELOAD])
        main_path = multiprocessing.spawn.get_preparation_data("main").get("init_main_from_path")
        os.environ[MAIN_ENV] = main_path or ""
        try:
            multiprocessing.forkserver.ensure_running()  # the server reads the variable as it starts
        finally:
            del os.environ[MAIN_ENV]
    return multiprocessing.get_context("forkserver" if now == _server_environment else "spawn")


class InProcessExecutor:
    """Train in this process, one candidate after another (for tests and debugging)."""

    workers = 1

    def run(self, jobs: Iterable[str | None]) -> Iterator[str]:
        for job in jobs:
            if job is not None:
                yield evaluate(job)

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "in-process"


# multiprocessing's resource tracker outlives a parent killed by SIGKILL and then warns of "leaked
# semaphore objects" on the terminal (it cleans them up all the same); it is started with the
# interpreter's -W options, so this filter reaches it
TRACKER_FILTER = "ignore:resource_tracker:UserWarning"


def quiet_resource_tracker() -> None:
    """Keep the resource tracker's leak warning off the terminal (call before the first pool)."""
    if TRACKER_FILTER not in sys.warnoptions:
        sys.warnoptions.append(TRACKER_FILTER)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes that train: started as :func:`worker_context` says, with the
    environment of this process, the kernels loaded, and ending with this process."""
    quiet_resource_tracker()
    return ProcessPoolExecutor(workers, mp_context=worker_context(), initializer=_worker_start,
                               initargs=(dict(os.environ),))


class LocalExecutor:
    """A pool of ``workers`` processes on this machine (see :func:`worker_context`), one torch thread each.

    Parameters
    ----------
    workers : int, optional
        Worker processes (default: the number of cores). The workers end when their parent does,
        ``kill -9`` included.
    """

    def __init__(self, workers: int | None = None):
        self.workers = workers or available_cores()
        if self.workers < 1:
            raise ConfigError(f"--workers must be a positive integer, got {self.workers}")
        self.pool: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            self.pool = process_pool(self.workers)
        return self.pool

    def start(self, task: str | None = None, data_dir: str | None = None) -> None:
        """Start the worker processes now, so that they are ready by the time the search has its
        first jobs (otherwise the first job starts them): they import torch, load the kernels and,
        given ``task`` (a JSON task table), load its data, while the search prepares."""
        pool = self._pool()

        def submit() -> None:
            try:
                for _ in range(self.workers):  # the pool starts one process per waiting call
                    pool.submit(warm_up, task, data_dir)
            except RuntimeError:  # closed meanwhile
                pass

        # a forked worker's start waits for its server's first load: a thread waits, not the search
        threading.Thread(target=submit, daemon=True, name="structsearch-worker-start").start()

    def run(self, jobs: Iterable[str | None]) -> Iterator[str]:
        feed = JobFeed(jobs)
        running: dict = {}  # future → (job, attempt)
        retry: list[str] = []  # jobs whose worker died once

        def submit(job: str, attempt: int = 0) -> None:
            running[self._pool().submit(evaluate, job)] = (job, attempt)

        def fill() -> None:
            while retry and len(running) < self.workers:
                submit(retry.pop(0), 1)
            feed.fill(len(running), self.workers, submit)

        fill()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = any(isinstance(future.exception(), BrokenProcessPool) for future in done)
            if broken:  # the pool is gone: every job it held comes back broken, and is retried
                done, _ = wait(running)
            for future in done:
                job, attempt = running.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool as error:
                    if attempt == 0:
                        retry.append(job)
                    else:
                        yield _lost(job, f"worker process died twice ({error})")
            if broken:
                self.pool.shutdown(cancel_futures=True)
                self.pool = None
            fill()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None

    def describe(self) -> str:
        return f"local, {self.workers} worker{'s' if self.workers > 1 else ''}"


def _refused(address: str) -> str | None:
    """Why the machine at ``address`` (``tcp://host:port``) refuses a connection, asked once; None
    where it accepts, or where one try cannot tell (another protocol, a name or network that may
    answer later: the Dask client's timeout decides those)."""
    parts = urllib.parse.urlsplit(address)
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "tcp" or not parts.hostname or port is None:
        return None
    try:
        socket.create_connection((parts.hostname, port), timeout=2.0).close()
    except ConnectionRefusedError as error:
        return (error.strerror or "connection refused").lower()
    except OSError:
        pass
    return None


def _restore(environment: dict[str, str | None]) -> None:
    """Set each named variable back to its value (None: unset)."""
    for name, value in environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextmanager
def _environment_kept(kept: dict[str, str | None]):
    """Undo what the block changes in this process's environment, and add the changed variables'
    earlier values to ``kept``: a Dask nanny sets its workers' variables (``OMP_NUM_THREADS=1``,
    ``MKL_NUM_THREADS=1``, ``OPENBLAS_NUM_THREADS=1``, ``PYTHONHASHSEED``…) in the process that starts
    it, before it spawns them, and leaves them there, where they would cap every later pool's threads
    (:func:`~structsearch.limits.threads_per_worker`) and send its workers to ``spawn``
    (:func:`worker_context`)."""
    before = dict(os.environ)
    try:
        yield
    finally:
        changed = {name: before.get(name) for name in set(before) | set(os.environ)
                   if before.get(name) != os.environ.get(name)}
        for name, value in changed.items():
            kept.setdefault(name, value)
        _restore(changed)


class DaskExecutor:
    """Jobs on a Dask cluster: an existing scheduler (``tcp://host:port``) or a LocalCluster of
    ``local_workers`` processes with one thread each.

    Parameters
    ----------
    scheduler : str, optional
        The address of a running Dask scheduler.
    local_workers : int, optional
        Without ``scheduler``: start a LocalCluster of this many worker processes.
    timeout : float
        Seconds to wait for the scheduler.
    """

    def __init__(self, scheduler: str | None = None, local_workers: int | None = None,
                 timeout: float = 10.0):
        from distributed import Client, LocalCluster

        self.cluster = None
        self._environment: dict[str, str | None] = {}  # what the nanny changed here, as it was before
        if scheduler is None:
            if not local_workers or local_workers < 1:
                raise ConfigError(f"--dask-local must be a positive integer, got {local_workers}")
            with _environment_kept(self._environment):
                self.cluster = LocalCluster(n_workers=local_workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None)
            self.client = Client(self.cluster)
        else:
            refused = _refused(scheduler)
            if refused is not None:  # at once, not after the Client's timeout of retrying
                raise ConfigError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({refused})")
            try:
                self.client = Client(scheduler, timeout=timeout)
            except (OSError, TimeoutError, ValueError) as error:
                message = str(error).splitlines()[0] if str(error) else type(error).__name__
                raise ConfigError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({message})") from None
        self.client.run(_quiet_worker)

    @property
    def workers(self) -> int:
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def run(self, jobs: Iterable[str | None]) -> Iterator[str]:
        from distributed import as_completed as dask_completed

        feed = JobFeed(jobs)
        futures: dict = {}
        completed = dask_completed()

        def submit(job: str) -> None:
            future = self.client.submit(evaluate, job, pure=False)
            futures[future] = job
            completed.add(future)

        feed.fill(0, self.workers, submit)
        while futures:
            future = next(completed)
            job = futures.pop(future)
            try:
                yield future.result()
            except Exception as error:  # a worker lost mid-job, or the cluster went away
                yield _lost(job, f"Dask worker failed ({type(error).__name__}: {error})")
            feed.fill(len(futures), self.workers, submit)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
            _restore(self._environment)  # a worker the nanny restarted during the run set them again

    def describe(self) -> str:
        where = "LocalCluster" if self.cluster is not None else self.client.scheduler.address
        return f"dask ({where}), {self.workers} worker{'s' if self.workers > 1 else ''}"


EXECUTORS: Registry[type] = Registry("executor", {
    "in-process": InProcessExecutor, "local": LocalExecutor, "dask": DaskExecutor,
    "structure-score": StructureScoreExecutor,  # the fake evaluator: nothing trains
})
