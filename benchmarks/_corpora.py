"""Corpora the benchmarks build at run time (shared by ``bench_encode.py`` and ``bench_whole.py``)."""

from __future__ import annotations

import sysconfig
from pathlib import Path


def stdlib_source(limit: int) -> str:
    """The first ``limit`` characters of this Python's standard-library ``*.py`` files, in path order.

    The "source code" corpus: the same text on every run with the same Python.
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    parts: list[str] = []
    total = 0
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        parts.append(path.read_text(encoding="utf-8", errors="replace"))
        total += len(parts[-1])
        if total >= limit:
            break
    return "".join(parts)[:limit]
