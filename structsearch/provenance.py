"""Where a figure came from: the machine, the commit and the command, written beside the figure.

Every benchmark or experiment whose figures the documentation quotes writes a *record* (a JSON
file under ``docs/results/data/``) with :func:`write_record`; the documentation's results pages and
the README's results table are rendered from those records only
(``structsearch.commands._reference``).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from structsearch.limits import available_cores, physical_memory

RECORD_KEYS = ("title", "command", "commit", "date", "machine", "conditions", "figures")


def machine() -> dict[str, Any]:
    """The CPU model, its cores and vector extensions, the memory and the OS of this machine."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    simd = [name for name, flag in (("AVX-512", "avx512f"), ("AVX2", "avx2"), ("FMA", "fma")) if flag in flags]
    memory = physical_memory()
    return {"cpu": model, "cores": available_cores(), "simd": simd,
            "memory_gb": None if memory is None else round(memory / 2**30, 1),
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version()}


def describe_machine(info: dict[str, Any]) -> str:
    """``AMD EPYC 7B13, 2 cores, AVX2 FMA, 23.5 GB`` from :func:`machine`'s dict (or a string as is)."""
    if isinstance(info, str):
        return info
    simd = " ".join(info.get("simd") or []) or "no AVX2"
    memory = f", {info['memory_gb']} GB" if info.get("memory_gb") else ""
    return f"{info.get('cpu', '?')}, {info.get('cores', '?')} cores, {simd}{memory}"


def commit(folder: str | os.PathLike | None = None) -> str:
    """The checkout's short commit, with ``+changes`` when its tracked files differ from it;
    ``unknown`` outside a git checkout."""
    where = Path(folder) if folder is not None else Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=where, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def command_line(argv: list[str] | None = None, drop: tuple[str, ...] = ("--record",)) -> str:
    """The command as a user would type it again (``python benchmarks/x.py --seeds 5``), without
    the options in ``drop`` and their values."""
    argv = list(sys.argv if argv is None else argv)
    words, skip = [], False
    for word in argv[1:]:
        if skip:
            skip = False
            continue
        if word in drop:
            skip = True
            continue
        if any(word.startswith(option + "=") for option in drop):
            continue
        words.append(word)
    program = argv[0] if argv else "?"
    if program.endswith(".py"):
        program = f"python {os.path.relpath(program)}"
    return " ".join([program, *words])


def make_record(title: str, figures: dict[str, Any], conditions: dict[str, Any] | None = None,
                command: str | None = None, **extra: Any) -> dict[str, Any]:
    """A record of ``figures`` with the command, commit, date and machine they were measured with."""
    return {"title": title, "command": command or command_line(), "commit": commit(),
            "date": datetime.datetime.now(datetime.UTC).date().isoformat(), "machine": machine(),
            "conditions": conditions or {}, "figures": figures, **extra}


def write_record(path: str | os.PathLike, record: dict[str, Any]) -> Path:
    """Write ``record`` as indented JSON at ``path`` (its folder made if needed)."""
    missing = [key for key in RECORD_KEYS if key not in record]
    if missing:
        raise ValueError(f"a record needs {', '.join(missing)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


__all__ = ["command_line", "commit", "describe_machine", "machine", "make_record", "write_record"]
