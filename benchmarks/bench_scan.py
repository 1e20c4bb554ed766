"""Pre-tokenizer alone: alignkit's compiled scanners against ``regex.findall``.

    python benchmarks/bench_scan.py [--mb 8] [--bench-dir ../shared/bench]

For each known split pattern, on the first ``--mb`` MB of ``en_novels`` and of
``multi_novels``: the time of ``regex.findall(pattern, text)`` and of alignkit's scanner
(UTF-8 encode + classify + piece boundaries, as a list of end offsets), CPU time, best of
3, and a check that both give the same pieces. Two more columns isolate the scanner's own
work: ``classify`` alone, and ``piece_count`` (classify + one ``next_end`` per piece, on
bytes, without building a list of a million boxed ints: what an encode pays for
pre-tokenizing). Run it with the compiled build (see ``benchmarks/README.md``).
"""

from __future__ import annotations

import argparse
import gzip
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import regex

import alignkit
from alignkit.bpe import _scan, patterns

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best = float("inf")
    result: Any = None
    for _ in range(repeat):
        start = time.process_time()
        result = fn()
        best = min(best, time.process_time() - start)
    return best, result


def scan(kind: int, text: str) -> list[int]:
    return _scan.piece_ends(kind, text.encode("utf-8"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=8)
    ap.add_argument("--bench-dir", type=Path, default=SHARED / "bench")
    args = ap.parse_args()
    print(f"alignkit compiled={alignkit.COMPILED}; regex {regex.__version__}")
    for corpus in ("en_novels", "multi_novels"):
        with gzip.open(args.bench_dir / f"{corpus}.txt.gz", "rb") as f:
            text = f.read(int(args.mb * 1e6)).decode("utf-8", "ignore")
        mb = len(text.encode("utf-8")) / 1e6
        for name, pattern in patterns.KNOWN_PATTERNS.items():
            compiled = regex.compile(pattern)
            kind = _scan.pattern_kind(pattern)
            t_re, pieces = best_of(lambda: compiled.findall(text))
            t_sc, ends = best_of(lambda: scan(kind, text))
            data = text.encode("utf-8")
            t_cls, _ = best_of(lambda: _scan.classify(data))
            t_cnt, count = best_of(lambda: _scan.piece_count(kind, data))
            same = [data[a:b].decode("utf-8") for a, b in zip([0, *ends], ends)] == pieces and count == len(ends)
            print(
                f"{corpus:13} {name:7} {mb:5.1f} MB: regex.findall {mb / t_re:6.1f} MB/s, "
                f"scanner {mb / t_sc:6.1f} MB/s = {t_re / t_sc:4.1f}x | classify {mb / t_cls:6.1f} MB/s, "
                f"piece_count {mb / t_cnt:6.1f} MB/s | same pieces: {'yes' if same else 'NO'}"
            )


if __name__ == "__main__":
    main()
