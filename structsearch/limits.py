"""Memory estimates: a genotype or model too large for the machine is refused before it is built.

Sizes come from files, TOML and options, so ``nodes = [32, 1000000000000]`` or ``--architecture
64-100000000-10`` are one typo away.  Every builder estimates its memory from its sizes and density
first (:func:`genotype_bytes`, :func:`model_bytes`) and calls :func:`check_memory`, which refuses
with one line naming the estimate and the limit.  The limit is the memory available when it is
checked, unless ``--max-memory`` or ``$STRUCTSEARCH_MAX_MEMORY`` (which carries it to worker
processes, and which library users may set) names another.

The per-item costs are deliberately generous upper bounds of what this code allocates; they are for
refusing what cannot fit, not for accounting.
"""

from __future__ import annotations

import json
import os
import re
import stat

from structsearch.errors import ConfigError, DataError

MEMORY_ENV = "STRUCTSEARCH_MAX_MEMORY"
# a genotype while it is drawn: networkx adjacency dicts of the graph priors (~150 B an edge, ~500 B
# a node), then the edge arrays, layering and repair (int64 copies)
GRAPH_BYTES_PER_EDGE = 200
GRAPH_BYTES_PER_NODE = 600
# a sparse layer's connection: value, gradient and two optimizer moments (float32), three int32
# index arrays, and the int64 (row, col) pairs and sort buffers used while it is built
MODEL_BYTES_PER_CONNECTION = 64
# a neuron: bias, its gradient and moments, and activations of one batch in the forward and backward
MODEL_BYTES_PER_NEURON_AND_SAMPLE = 16
# an individual of a search: the object, its key, features (~50 floats), metrics and curves as dicts
INDIVIDUAL_BYTES = 16 * 2**10
_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_size(text: str) -> int:
    """Bytes of ``512M``, ``8G``, ``1.5GB``, ``2GiB`` or a plain number."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([kmgt]?)(?:i?b)?\s*", str(text), re.IGNORECASE)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"expected a memory size such as 512M or 8G, got {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def format_size(size: float) -> str:
    for unit, scale in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{int(size)} B"


def available_memory() -> int:
    """The memory available to new allocations now (``MemAvailable``), else the physical memory."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return physical_memory() or 2**62


def physical_memory() -> int | None:
    """The machine's physical memory in bytes, where the OS says (None elsewhere)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def memory_limit() -> tuple[int, str]:
    """The limit in bytes, and where it comes from."""
    named = os.environ.get(MEMORY_ENV)
    if named:
        try:
            return parse_size(named), "--max-memory"
        except ValueError:
            raise ConfigError(f"${MEMORY_ENV}: {named!r} is not a memory size such as 8G") from None
    return available_memory(), "the memory available now"


def genotype_bytes(nodes: float, edges: float) -> float:
    return GRAPH_BYTES_PER_NODE * nodes + GRAPH_BYTES_PER_EDGE * edges


def model_bytes(connections: float, neurons: float, batch: int = 256) -> float:
    return MODEL_BYTES_PER_CONNECTION * connections + MODEL_BYTES_PER_NEURON_AND_SAMPLE * neurons * max(batch, 1)


def check_memory(estimate: float, what: str) -> None:
    """A :class:`ConfigError` when ``estimate`` bytes exceed the limit; ``what`` names the object
    (``"a Barabási–Albert genotype of 10¹² nodes"``)."""
    limit, source = memory_limit()
    if estimate > limit:
        raise ConfigError(f"{what} needs about {format_size(estimate)}, more than the limit of "
                          f"{format_size(limit)} ({source}); make it smaller or raise --max-memory")


def available_cores() -> int:
    """The cores this process may run on (its affinity: ``taskset``, a container's CPU set), else
    the machine's."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads_per_worker(workers: int) -> int:
    """Threads for each of ``workers`` processes that share this process's cores: the cores split
    evenly among them, and never more than ``$OMP_NUM_THREADS`` where it is set (the limit a user,
    a job scheduler or a test runner that runs several processes side by side gives every process
    it starts; OpenMP threads beyond the cores spin at each barrier and slow every process)."""
    threads = max(1, available_cores() // max(1, workers))
    first = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return min(threads, int(first)) if first.isdigit() and int(first) > 0 else threads


# ---------------------------------------------------------------------- files: bounded before read

# the largest file of each kind read by default (generous: far above what structsearch writes), and
# the memory one byte of it may cost once parsed; --max-memory (or $STRUCTSEARCH_MAX_MEMORY) sets
# the limit of every kind to that memory divided by the kind's cost instead
FILE_LIMITS: dict[str, tuple[int, int]] = {
    "genotype": (2**30, 4),  # JSON or npz
    "toml": (16 * 2**20, 16),
    "json": (256 * 2**20, 8),  # a stored configuration, a model card, a motif catalogue
    "table": (4 * 2**30, 4),  # a meta-dataset or a tabular task's CSV/Parquet
    "weights": (4 * 2**30, 2),  # a .safetensors weights file
    "model": (8 * 2**30, 2),  # a model.pt or a .skops predictor
}
# the deepest nesting of JSON and TOML read (structsearch's own files nest a few levels)
MAX_NESTING = 64


def file_limit(kind: str) -> tuple[int, str]:
    """The byte limit for a file of ``kind`` and where it comes from."""
    default, cost = FILE_LIMITS[kind]
    if os.environ.get(MEMORY_ENV):
        limit, _ = memory_limit()
        return max(limit // cost, 1), "--max-memory"
    return default, "the default"


def check_file(path, kind: str) -> int:
    """The size of ``path`` if it is a regular file within the limit of its ``kind``; otherwise a
    one-line :class:`~structsearch.errors.DataError` naming it (a FIFO, a device or a folder is
    refused at once, before anything is read)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read ({(error.strerror or str(error)).lower()})") from None
    if not stat.S_ISREG(info.st_mode):
        what = ("a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode)
                else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
        raise DataError(f"{path}: {what}, not a regular file; give a {kind} file")
    limit, source = file_limit(kind)
    if info.st_size > limit:
        raise DataError(f"{path}: {format_size(info.st_size)}, more than the {format_size(limit)} a {kind} file may "
                        f"have ({source}; a larger --max-memory raises it)")
    return info.st_size


def read_bounded(path, kind: str) -> bytes:
    """The bytes of ``path``, checked by :func:`check_file` first and never read past its limit."""
    check_file(path, kind)
    limit, _ = file_limit(kind)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise DataError(f"{path}: cannot read ({(error.strerror or str(error)).lower()})") from None
    if len(data) > limit:
        raise DataError(f"{path}: grew past the {format_size(limit)} a {kind} file may have while it was read")
    return data


def nesting(value, limit: int = MAX_NESTING) -> int:
    """The nesting depth of parsed JSON or TOML (lists and tables), counted up to ``limit + 1``."""
    if not isinstance(value, dict | list):
        return 0
    depth, level = 0, [(value, 1)]
    while level:
        item, d = level.pop()
        depth = max(depth, d)
        if depth > limit:
            return depth
        children = item.values() if isinstance(item, dict) else item
        level.extend((child, d + 1) for child in children if isinstance(child, dict | list))
    return depth


def parse_json(raw: bytes | str, path) -> object:
    """JSON text as Python, or a one-line DataError naming ``path``: not JSON, or nested deeper than
    :data:`MAX_NESTING`."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise DataError(f"{path}: JSON nested too deeply (more than {MAX_NESTING} levels)") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not valid JSON ({_first_line(error)})") from None
    if nesting(data) > MAX_NESTING:
        raise DataError(f"{path}: JSON nested too deeply (more than {MAX_NESTING} levels)")
    return data


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__.lower()
