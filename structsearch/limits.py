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

import os
import re

from structsearch.errors import ConfigError

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
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**62


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
