"""Compiled CPU kernels for :class:`~structsearch.nn.sparse_linear.SparseLinear`.

``torch.sparse`` (MKL on the CPU, cuSPARSE on CUDA) is always there; on the CPU a small C++
extension (``csrc/sparse_kernels.cpp``) is about twice as fast for the products a sparse layer
needs.  It is compiled on first use for this machine (``-march=native``, about 20 s, cached under
``~/.cache/structsearch/kernels``).  Where it cannot be built the torch kernels are used, with one
warning.  ``STRUCTSEARCH_KERNELS=torch`` selects the torch kernels without trying.

The float32 kernels are written once (``csrc/vector_kernels.h``, against a small vector-traits
struct) and compiled for AVX-512, for AVX2 with FMA and as generic loops in the same module; the
best the processor runs is used (:func:`isa`), and :func:`using_isa` picks another, so that the
tests compare every path this processor can run with the reference.

Several processes (the workers of a search, parallel studies) may ask for the kernels at once.
One builds while the others wait on an OS file lock (``flock``, released by the kernel when its
holder dies, even by ``kill -9``), then they load the finished module.  torch's own build lock
file is a plain file that a killed build leaves behind, after which every later build waits
forever; whoever holds the ``flock`` knows no build is running, so it removes such a leftover.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import warnings
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import torch

SOURCE = Path(__file__).parent / "csrc" / "sparse_kernels.cpp"
HEADERS = (Path(__file__).parent / "csrc" / "vector_kernels.h",)  # included by SOURCE: part of its key
ENV = "STRUCTSEARCH_KERNELS"
DEBUG_ENV = "STRUCTSEARCH_KERNELS_DEBUG"


def build_directory() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "structsearch" / "kernels"
    return base


@cache
def compiled():
    """The compiled module, or ``None`` when it is switched off or cannot be built."""
    choice = os.environ.get(ENV, "auto")
    if choice == "torch":
        return None
    if choice not in ("auto", "compiled"):
        warnings.warn(f"{ENV}={choice!r} is not one of auto, compiled, torch; using auto", stacklevel=2)
    # one build per source, torch version and processor (-march=native code is not portable) and per
    # checkout: torch's builder rebuilds when the source's path changes, so two checkouts sharing one
    # build would rebuild it (20 s) each time the other had used it
    key = hashlib.sha256(
        SOURCE.read_bytes() + b"".join(h.read_bytes() for h in HEADERS) + torch.__version__.encode()
        + platform.machine().encode() + torch.backends.cpu.get_cpu_capability().encode()
        + str(SOURCE.resolve()).encode()
    ).hexdigest()[:12]
    debug = os.environ.get(DEBUG_ENV) == "1"  # bounds checks inside the kernels (slow; for tests)
    name = f"structsearch_kernels_{key}" + ("_debug" if debug else "")
    try:
        return build(name, SOURCE, ["-O3", "-march=native", "-fopenmp"] + (["-DSTRUCTSEARCH_DEBUG"] if debug else []))
    except Exception as error:  # no compiler, no ninja, unsupported platform: fall back
        if choice == "compiled":
            raise
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        warnings.warn(f"structsearch: using torch.sparse kernels ({first_line})", stacklevel=2)
        return None


def build(name: str, source: Path, cflags: list[str]):
    """The torch extension ``name`` compiled from ``source`` into ``build_directory() / name``, or its
    earlier build: one process builds while the others wait on the directory's lock, then load it."""
    from torch.utils.cpp_extension import load  # the builder: only where a build may happen

    directory = build_directory() / name
    directory.mkdir(parents=True, exist_ok=True)
    with _build_lock(directory):
        (directory / "lock").unlink(missing_ok=True)  # torch's baton, left by a killed build
        if not any(directory.glob("*.so")):
            print("structsearch: compiling the sparse CPU kernels (once, about 20 s)…", file=sys.stderr)
        return load(name=name, sources=[str(source)], build_directory=str(directory), extra_cflags=cflags,
                    extra_ldflags=["-fopenmp"], verbose=False)


@contextmanager
def _build_lock(directory: Path):
    """An exclusive lock on ``directory`` held by one process at a time (none where there is no flock)."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no concurrent-build protection
        yield
        return
    with open(directory / "build.flock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def isas() -> list[str]:
    """The instruction sets of the float32 kernels this processor runs (``generic``, ``avx2``,
    ``avx512``); empty without the compiled kernels."""
    module = compiled()
    return list(module.isas()) if module is not None else []


def isa() -> str | None:
    """The instruction set the float32 kernels use: the best in :func:`isas` unless
    :func:`using_isa` chose another; None without the compiled kernels."""
    module = compiled()
    return module.isa() if module is not None else None


@contextmanager
def using_isa(name: str):
    """Run the float32 kernels with the instruction set ``name`` inside the block (tests compare
    every path the processor runs; benchmarks time them)."""
    module = compiled()
    if module is None or name not in module.isas():
        raise ValueError(f"the compiled kernels cannot run {name!r} here (they run {isas()})")
    before = module.isa()
    module.set_isa(name)
    try:
        yield
    finally:
        module.set_isa(before)


def usable(*tensors: torch.Tensor) -> bool:
    """Whether the compiled kernels apply: CPU tensors of float32 or float64."""
    first = tensors[0]
    return (
        first.device.type == "cpu"
        and first.dtype in (torch.float32, torch.float64)
        and compiled() is not None
    )
