"""Compiled CPU kernels for :class:`~structsearch.nn.sparse_linear.SparseLinear`.

``torch.sparse`` (MKL on the CPU, cuSPARSE on CUDA) is always there; on the CPU a small C++
extension (``csrc/sparse_kernels.cpp``) is about twice as fast for the products a sparse layer
needs.  It is compiled on first use for this machine (``-march=native``, about 25 s, cached under
``~/.cache/structsearch/kernels``).  Where it cannot be built the torch kernels are used, with one
warning.  ``STRUCTSEARCH_KERNELS=torch`` selects the torch kernels without trying.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import warnings
from functools import cache
from pathlib import Path

import torch

SOURCE = Path(__file__).parent / "csrc" / "sparse_kernels.cpp"
ENV = "STRUCTSEARCH_KERNELS"


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
    from torch.utils.cpp_extension import load

    # one build per source, torch version and processor: -march=native code is not portable
    key = hashlib.sha256(
        SOURCE.read_bytes() + torch.__version__.encode() + platform.machine().encode()
        + torch.backends.cpu.get_cpu_capability().encode()
    ).hexdigest()[:12]
    name = f"structsearch_kernels_{key}"
    directory = build_directory() / name
    directory.mkdir(parents=True, exist_ok=True)
    if not any(directory.glob("*.so")):
        print("structsearch: compiling the sparse CPU kernels (once, about 25 s)…", file=sys.stderr)
    try:
        return load(
            name=name, sources=[str(SOURCE)], build_directory=str(directory),
            extra_cflags=["-O3", "-march=native", "-fopenmp"], extra_ldflags=["-fopenmp"],
            verbose=False,
        )
    except Exception as error:  # no compiler, no ninja, unsupported platform: fall back
        if choice == "compiled":
            raise
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        warnings.warn(f"structsearch: using torch.sparse kernels ({first_line})", stacklevel=2)
        return None


def usable(*tensors: torch.Tensor) -> bool:
    """Whether the compiled kernels apply: CPU tensors of float32 or float64."""
    first = tensors[0]
    return (
        first.device.type == "cpu"
        and first.dtype in (torch.float32, torch.float64)
        and compiled() is not None
    )
