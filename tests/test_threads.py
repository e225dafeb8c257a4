"""Threads on a shared machine: the governor follows the cores others leave free, and the settings
reach the worker processes."""

import os
import time

import pytest
import torch

from structsearch import threads
from structsearch.commands import main
from structsearch.limits import threads_per_worker
from structsearch.store import RunStore
from structsearch.threads import ThreadGovernor


class Scripted(ThreadGovernor):
    """A governor that sees a scripted machine: each look at /proc/stat returns the next (busy, own)
    CPU seconds spent since the last one, over one second of wall time; each look at the run queue
    the next seconds its threads waited, over 20 ms (none unless ``waits`` says)."""

    def __init__(self, script, ceiling=2, cores=2, waits=(), interval=0.0):
        super().__init__(ceiling=ceiling, interval=interval, enabled=True)
        self.script, self.cores, self.waits = list(script), cores, list(waits)
        self.clock = [0.0, 0.0, 0.0]
        self.wait_clock = [0.0, 0.0]

    def _waited(self):
        if self.wait_clock[0] > 0:  # else the governor's start: the clock starts
            self.wait_clock[1] += self.waits.pop(0) if self.waits else 0.0
        self.wait_clock[0] += 0.02
        return tuple(self.wait_clock)

    def _sample(self):
        if self.clock[0] > 0:
            busy, own = self.script.pop(0)
            self.clock = [self.clock[0] + 1.0, self.clock[1] + busy, self.clock[2] + own]
        else:
            self.clock[0] = 1.0
        return tuple(self.clock)

    def start(self):
        super().start()
        self.cpus = set(range(self.cores))
        self._next = 0.0
        return self


@pytest.fixture
def two_threads(monkeypatch):
    monkeypatch.setattr(threads, "_last_count", None)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_governor_drops_to_the_free_cores_and_comes_back(two_threads):
    # quiet (this process uses both cores), a competitor takes one core, two take both, then quiet
    script = [(2.0, 2.0), (2.0, 1.3), (2.0, 1.0), (2.0, 0.4), (2.0, 1.0), (1.95, 1.95)]
    with Scripted(script) as governor:
        seen = [governor.poll() for _ in range(len(script))]
        assert seen == [2, 1, 1, 1, 1, 2]
        assert torch.get_num_threads() == 2 and governor.changes == 2
        Scripted([(2.0, 1.0)]).start().poll()
    assert torch.get_num_threads() == 2  # stopping restores the ceiling


def test_governor_never_exceeds_its_ceiling_and_a_new_one_starts_where_the_last_looked(two_threads):
    torch.set_num_threads(1)
    with Scripted([(0.0, 0.0)], ceiling=None, cores=4) as governor:
        assert governor.ceiling == 1 and governor.poll() == 1
    torch.set_num_threads(2)
    with Scripted([(2.0, 1.0)]) as governor:
        assert governor.poll() == 1
    with Scripted([(2.0, 2.0)]) as governor:
        assert torch.get_num_threads() == 1  # what the last look saw, until its own first look
        assert governor.poll() == 2


def test_a_crowded_run_queue_drops_a_thread_before_the_first_look_at_the_machine(two_threads, monkeypatch):
    monkeypatch.setattr(threads, "WAIT_INTERVAL", 0.0)  # every poll looks at the run queue
    # 20 ms windows: a blip of 2 ms waited is noise; 13 ms (two threads beside one busy process wait a
    # third of the time each) is crowding
    with Scripted([], waits=[0.002, 0.013], interval=60.0) as governor:
        governor._next = float("inf")  # no /proc/stat look in this test
        assert governor.poll() == 2
        assert governor.poll() == 1 and governor.changes == 1
        assert governor.poll() == 1  # one thread never waits: nothing more to drop


def test_the_run_queue_wait_of_this_process_is_read_where_linux_has_schedstat():
    first = threads._run_queue_wait()
    if first is None:
        pytest.skip("no /proc/self/task/*/schedstat on this system")
    end = time.monotonic() + 0.05
    while time.monotonic() < end:
        pass
    assert threads._run_queue_wait() >= first >= 0.0


def test_fixed_threads_are_left_alone(two_threads, monkeypatch):
    monkeypatch.setenv(threads.ENV, "fixed")
    governor = ThreadGovernor().start()
    assert not governor.enabled and governor.poll() == 2
    assert threads.settings()["governor"] == "fixed"


def test_busy_seconds_count_this_process_spinning():
    cpus = set(range(64))
    before, own_before = threads._busy_seconds(cpus), time.process_time()
    end = time.monotonic() + 10.0  # spin for 0.3 CPU seconds, however busy the machine is
    while time.process_time() - own_before < 0.3 and time.monotonic() < end:
        pass
    busy, own = threads._busy_seconds(cpus) - before, time.process_time() - own_before
    assert busy >= 0.5 * own > 0.1


def test_worker_processes_report_the_wait_policy_and_threads_they_run_with(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.setenv(threads.ENV, "fixed")
    tiny = ["--population", "2", "--generations", "0", "--epochs", "1",
            "--set", "genotype.nodes=[10, 16]", "--set", "genotype.erdos-renyi.width=[8, 16]"]
    assert main(["evolve", "--runs", str(tmp_path), "--name", "w", "--workers", "2", "--quiet", *tiny]) == 0
    with RunStore.open(tmp_path / "w") as store:
        workers = [c.metrics["worker"] for c in store.candidates()]
    assert len(workers) == 2
    for worker in workers:
        assert worker["started"] > 1e9 and worker["seconds"] > 0  # when and how long, for profiles
        assert worker["threads"]["OMP_WAIT_POLICY"] == "PASSIVE"
        assert worker["threads"]["governor"] == "fixed"
        assert worker["threads"]["torch_threads"] == threads_per_worker(2)


def test_workers_share_the_cores_and_never_exceed_omp_num_threads(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert [threads_per_worker(n) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    for value, expected in (("2", [2, 2, 2, 1]), ("3,1", [3, 3, 2, 1]), ("0", [8, 4, 2, 1]), ("many", [8, 4, 2, 1])):
        monkeypatch.setenv("OMP_NUM_THREADS", value)
        assert [threads_per_worker(n) for n in (1, 2, 3, 8)] == expected, value


FORKS = """
import json, os
from structsearch.search.executors import LocalExecutor

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "imports.txt"), "a") as log:
    log.write(__name__ + "\\n")  # each import of this script, and as what

def one_worker(*calls):
    executor = LocalExecutor(1)
    try:
        return [executor._pool().submit(*call).result(timeout=120) for call in calls]
    finally:
        executor.close()

if __name__ == "__main__":
    seen = []
    for name, value in (("STRUCTSEARCH_PROBE", "first"), ("STRUCTSEARCH_PROBE", "second"),
                        ("GOMP_SPINCOUNT", "12345")):
        os.environ[name] = value
        seen.append(one_worker((os.getppid,), (os.getenv, name)))
    print(json.dumps({"pid": os.getpid(), "seen": seen}))
"""


def test_workers_fork_from_one_server_and_run_with_their_pools_environment(tmp_path):
    """Every pool of a process forks its workers from one server that loaded torch and the main
    script once; a worker runs with the environment of its pool, not of the server; a load-time
    variable changed since the server started (OpenMP reads it when it loads) gets spawned workers
    instead, which see it."""
    import json
    import subprocess
    import sys

    (tmp_path / "forks.py").write_text(FORKS)
    done = subprocess.run([sys.executable, str(tmp_path / "forks.py")], capture_output=True, text=True, timeout=300,
                          env={name: value for name, value in os.environ.items() if name != "GOMP_SPINCOUNT"})
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.splitlines()[-1])
    (server, first), (again, second), (spawner, spin) = report["seen"]
    assert server != report["pid"] and (first, again, second) == ("first", server, "second")
    assert (spawner, spin) == (report["pid"], "12345")
    # the script ran once as itself, once in the server (not in each worker forked from it), and once
    # in the spawned worker, as multiprocessing imports the main script of a worker's parent
    assert (tmp_path / "imports.txt").read_text().split() == ["__main__", "__mp_main__", "__mp_main__"]
