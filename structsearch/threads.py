"""Threads on a shared machine: as many as there are cores free, never more.

torch (and the compiled kernels, which run on torch's thread pool) split every operation evenly
over their threads, and the OpenMP runtime keeps waiting threads spinning at each barrier.  On a
quiet machine that is the fastest there is.  When another process shares the cores, one of the
threads is descheduled half the time, every barrier waits for it, and its partners burn the CPU it
needs: on two cores with one competing busy loop a SET epoch took 4.2× its quiet time with two
threads, where one thread alone takes 1.4× (benchmarks/contention.py).

:class:`ThreadGovernor` follows the cores actually free.  It is asked between batches, and looks
at two signals:

- every 20 ms, while it runs more than one thread, how long this process's threads waited in the
  run queue for a core (``/proc/self/task/*/schedstat``, nanoseconds, about 30 µs to read).  A
  quiet machine makes them wait almost never; a competing busy process on two cores makes two
  threads wait a third of the time each.  When they waited more than 0.3 thread-seconds per
  second, it drops one thread at once: on a 0.3 s epoch the competition costs one 20 ms window,
  not the epoch;
- twice a second (the first look 0.2 s after it starts), how much CPU the *other* processes used
  on the cores this process may run on (``/proc/stat`` less this process's own CPU time), and it
  sets torch's thread count to the cores left, between 1 and the count it started with.  This is
  how threads come back, within a second of the competition going (a thread alone on its core
  never waits, so the run queue cannot say that another core has become free).

A governor starts from the count the previous one in the process saw, if that is under 10 s old, so
that candidates trained one after another do not each begin at the wrong count.  On a quiet machine
it changes nothing.  The trainer
runs one around every ``fit``; benchmarks and library code can use it as a context manager::

    with ThreadGovernor() as governor:
        for batch in batches:
            governor.poll()
            ...

``STRUCTSEARCH_THREADS=fixed`` switches it off (the thread count then stays as set).  The wait
policy of the OpenMP runtime (``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT``) is left to the user: a
passive policy about doubled the quiet SET epoch at batch 40 (see README, "A busy machine").
:func:`settings` reports what is in force.
"""

from __future__ import annotations

import os
import time

import torch

from structsearch.limits import available_cores

ENV = "STRUCTSEARCH_THREADS"
OPENMP_ENV = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MKL_NUM_THREADS")
INTERVAL = 0.5  # seconds between two looks at /proc/stat
FIRST_INTERVAL = 0.2  # the first look after a start comes sooner
WAIT_INTERVAL = 0.02  # seconds between two looks at the run-queue wait of this process's threads
CROWDED = 0.3  # thread-seconds waited per second above which one thread is dropped
REMEMBER = 10.0  # seconds for which a governor's last count is where the next one starts

_last_count: tuple[float, int] | None = None  # (when, threads) of the last change or look, process-wide


def adaptive() -> bool:
    """Whether thread counts follow the free cores (``$STRUCTSEARCH_THREADS`` is not ``fixed``)."""
    return os.environ.get(ENV, "adaptive").strip().lower() != "fixed"


def settings() -> dict:
    """The thread settings in force in this process, for benchmarks' JSON and workers' reports."""
    return {"torch_threads": torch.get_num_threads(), "cores": available_cores(),
            "governor": "adaptive" if adaptive() else "fixed",
            **{name: os.environ.get(name) for name in OPENMP_ENV if os.environ.get(name) is not None}}


def _busy_seconds(cpus: set[int]) -> float | None:
    """CPU seconds spent busy (not idle, not waiting for I/O) on ``cpus`` since boot; None where
    ``/proc/stat`` cannot be read."""
    try:
        with open("/proc/stat") as handle:
            lines = handle.readlines()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    busy = 0
    for line in lines:
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *fields = line.split()
        if int(name[3:]) in cpus:
            values = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
            busy += sum(values) - values[3] - values[4]
    return busy / ticks


def _run_queue_wait() -> float | None:
    """Seconds this process's threads have spent runnable but waiting for a core (the second field
    of each ``/proc/self/task/<tid>/schedstat``); None where schedstat cannot be read."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return None
    waited = 0
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/schedstat") as handle:
                waited += int(handle.read().split()[1])
        except FileNotFoundError:  # the thread ended since the listing
            continue
        except (OSError, ValueError, IndexError):
            return None
    return waited / 1e9


class ThreadGovernor:
    """Keeps torch's thread count at the cores free, between 1 and ``ceiling`` (default: the count
    in force when it starts).  Restores the ceiling when it stops."""

    def __init__(self, ceiling: int | None = None, interval: float = INTERVAL, enabled: bool | None = None):
        self.ceiling = ceiling
        self.interval = interval
        self.enabled = adaptive() if enabled is None else enabled
        self.changes = 0
        self._last = None  # (wall, busy, own) seconds at the last look; None while not following
        self._next = 0.0  # when to look next
        self._waits = None  # (wall, waited) seconds at the last run-queue look; None without schedstat
        self._next_wait = 0.0

    def start(self) -> ThreadGovernor:
        self.ceiling = self.ceiling or torch.get_num_threads()
        try:
            self.cpus = os.sched_getaffinity(0)
        except (AttributeError, OSError):
            self.cpus = set(range(os.cpu_count() or 1))
        if self.enabled and self.ceiling > 1:
            sample = self._sample()
            if sample[1] is not None:  # else no /proc/stat: nothing to follow
                self._last, self._next = sample, sample[0] + FIRST_INTERVAL
                waits = self._waited()
                self._waits = waits if waits[1] is not None else None
                self._next_wait = sample[0] + WAIT_INTERVAL
                # until the first look, the count the last governor in this process saw
                if _last_count and sample[0] - _last_count[0] < REMEMBER:
                    self._set(min(self.ceiling, _last_count[1]))
        return self

    def _sample(self) -> tuple[float, float | None, float]:
        return time.monotonic(), _busy_seconds(self.cpus), time.process_time()

    def _waited(self) -> tuple[float, float | None]:
        return time.monotonic(), _run_queue_wait()

    def _set(self, threads: int) -> None:
        global _last_count
        _last_count = (time.monotonic(), threads)
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)
            self.changes += 1

    def free_cores(self, wall: float, busy: float, own: float) -> float:
        """Cores of this process's set that others left free over ``wall`` seconds, in which the
        cores were ``busy`` CPU seconds, ``own`` of them this process's."""
        others = max(0.0, busy - own) / wall
        return len(self.cpus) - others

    def poll(self) -> int:
        """Look at the machine if it is time and set the thread count; returns the count."""
        if self._last is None:
            return torch.get_num_threads()
        if self._waits is not None and time.monotonic() >= self._next_wait:
            self._crowded()
        if time.monotonic() < self._next:
            return torch.get_num_threads()
        now = self._sample()
        wall, busy, own = (now[i] - self._last[i] for i in range(3))
        self._last, self._next = now, now[0] + self.interval
        threads = max(1, min(self.ceiling, int(self.free_cores(wall, busy, own) + 0.5)))
        self._set(threads)
        return threads

    def _crowded(self) -> None:
        """Drop a thread if this process's threads waited for a core since the last look."""
        now = self._waited()
        if now[1] is None:  # schedstat went away: the /proc/stat looks go on alone
            self._waits = None
            return
        wall, waited = now[0] - self._waits[0], now[1] - self._waits[1]
        self._waits, self._next_wait = now, now[0] + WAIT_INTERVAL
        threads = torch.get_num_threads()
        if threads > 1 and wall > 0 and waited / wall > CROWDED:
            self._set(threads - 1)

    def stop(self) -> None:
        if self.ceiling and torch.get_num_threads() != self.ceiling:
            torch.set_num_threads(self.ceiling)
        self._last = None

    def __enter__(self) -> ThreadGovernor:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
