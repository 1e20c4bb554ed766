"""Streaming memory and parallel scaling of ``Tokenizer`` (the bundled GPT-2 by default).

Three measurements, each checked for identical ids:

1. ``encode_iterable`` over a large file read line by line, against ``encode`` of the
   whole file read into one string: peak RSS of each, in a fresh child process per
   mode (``resource.getrusage(...).ru_maxrss``), next to the RSS of a child that only
   imports alignkit and loads the tokenizer. The ids are not kept: each child hashes
   them (BLAKE2b over 32-bit ids, in blocks of 64K) and reports the count and digest.
2. ``encode_batch(texts, num_proc=2)`` and ``encode_batch_arrays`` against ``num_proc=1`` on
   the first ``--batch-mb`` MB, cut into texts of about ``--doc-kb`` KB at blank lines (the
   novels are only 38 documents in 32 MB): wall time (what parallelism buys), the CPU of this
   process and of its workers, ids compared; each call starts with a fresh tokenizer (empty
   piece cache), numpy is imported before any clock. Two controls at the same moment say
   what this machine allows: the **co-run control** (2 independent processes, each with its
   own tokenizer, encoding half of the batch, started together, vs one encoding all of it:
   the ceiling for THIS workload, shared caches and memory bandwidth included) and the
   spin-loop control (a CPU-only Python loop in 2 processes vs 1).
3. ``encode_file(path, num_proc=2)`` against ``num_proc=1`` on the whole file (``--file-rounds``
   alternated rounds, fresh tokenizer per call): wall time, CPU of this process and of its
   workers, both results checked equal to one ``encode_into`` of the whole text (no cuts).

    python benchmarks/bench_stream.py                          # en_novels (64 MB), batch 32 MB
    python benchmarks/bench_stream.py --corpus stdlib --sizes 0 --batch-mb 0   # 32 MB of source code
    python benchmarks/bench_stream.py --skip-memory --batch-mb 64 --rounds 3   # batches only
    python benchmarks/bench_stream.py --skip-memory --batch-mb 0 --file-rounds 3  # encode_file only

``--sizes`` streams the first N MB (whole lines, read into a list first) and the whole
file (0, read from the open file); a measurement that runs past ``--timeout`` is reported
as such (``encode_iterable`` cuts only after a lone newline followed by a letter or digit:
text whose paragraphs are separated by blank lines has no such cut and is buffered whole).

Run it with the COMPILED build (a venv with ``pip install .``), from the repository root.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import resource
import subprocess
import sys
import sysconfig
import tempfile
import time
from array import array
from itertools import islice
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EOT = "<|endoftext|>"
BLOCK = 1 << 16


def _digest(ids: object) -> tuple[int, str]:
    """Count and BLAKE2b digest of an iterable of ids, consumed in blocks (no list kept)."""
    h = hashlib.blake2b(digest_size=16)
    it = iter(ids)  # type: ignore[call-overload]
    count = 0
    while True:
        block = array("I", islice(it, BLOCK))
        if not block:
            return count, h.hexdigest()
        count += len(block)
        h.update(block.tobytes())


def _lines(path: str, limit: int) -> list[str] | None:
    """The first ``limit`` characters of the file as whole lines (None: the whole file)."""
    if limit <= 0:
        return None
    out: list[str] = []
    size = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            if size >= limit:
                break
            out.append(line)
            size += len(line)
    return out


def child(mode: str, path: str, limit: str) -> None:
    """One measurement in this (fresh) process; print a JSON line."""
    from alignkit.bpe.tokenizer import load_default

    tok = load_default()
    tok.encode("warm up the tokenizer's lazy parts")
    lines = _lines(path, int(float(limit) * 1e6))
    c0, w0 = time.process_time(), time.perf_counter()
    if mode == "stream":
        if lines is not None:
            count, digest = _digest(tok.encode_iterable(iter(lines)))
        else:
            with open(path, encoding="utf-8") as f:
                count, digest = _digest(tok.encode_iterable(f))
    elif mode == "whole":
        text = Path(path).read_text(encoding="utf-8") if lines is None else "".join(lines)
        del lines
        ids = tok.encode(text)
        del text
        count, digest = _digest(ids)
    else:  # "base": import + load only
        count, digest = 0, ""
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"mode": mode, "ids": count, "digest": digest, "cpu": cpu, "wall": wall,
                      "peak_rss_mb": rss_kb / 1024}))


def run_child(mode: str, path: Path, limit_mb: float, timeout: float) -> dict[str, object] | None:
    """Run one measurement in a fresh process; None if it ran past ``timeout`` seconds."""
    try:
        out = subprocess.run([sys.executable, __file__, "--child", mode, str(path), str(limit_mb)],
                             capture_output=True, text=True, check=True, timeout=timeout).stdout
    except subprocess.TimeoutExpired:
        return None
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def memory(path: Path, sizes: list[float], timeout: float) -> bool:
    """Stream vs whole string at each size (0 = the whole file)."""
    base_row = run_child("base", path, 0, timeout)
    assert base_row is not None
    base = float(base_row["peak_rss_mb"])  # type: ignore[arg-type]
    print(f"import + load_default(): peak RSS {base:.1f} MB")
    ok = True
    for size in sizes:
        rows = {m: run_child(m, path, size, timeout) for m in ("stream", "whole")}
        label = f"{size:g} MB" if size else f"whole file ({path.stat().st_size / 1e6:.1f} MB)"
        for m in ("stream", "whole"):
            r = rows[m]
            if r is None:
                print(f"{label:>24} {m:6}: did not finish in {timeout:.0f} s", flush=True)
                continue
            print(f"{label:>24} {m:6}: {r['ids']} ids, peak RSS {r['peak_rss_mb']:7.1f} MB "
                  f"(+{float(r['peak_rss_mb']) - base:6.1f} MB), "  # type: ignore[arg-type]
                  f"CPU {r['cpu']:.2f} s, wall {r['wall']:.2f} s", flush=True)
        s, w = rows["stream"], rows["whole"]
        if s is not None and w is not None:
            same = s["digest"] == w["digest"] and s["ids"] == w["ids"]
            print(f"{label:>24} stream ids identical to whole-string ids: {'yes' if same else 'NO'}")
            ok = ok and same
    return ok


def split_docs(text: str, doc_chars: int) -> list[str]:
    """Documents (split on ``<|endoftext|>``), each cut at blank lines into texts of ~``doc_chars``."""
    out: list[str] = []
    for doc in text.split(EOT):
        start = 0
        while start < len(doc):
            end = doc.find("\n\n", start + doc_chars) if doc_chars > 0 else -1
            end = len(doc) if end < 0 else end + 2
            out.append(doc[start:end])
            start = end
    return [d for d in out if d]


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i & 7
    return total


def machine_ceiling(procs: int, work: int = 20_000_000) -> float:
    """Wall-time speed-up of ``procs`` processes over one on a fixed CPU-only loop.

    The control for the batch figure: on a shared or hyper-threaded machine two
    processes do not get two free cores, and no encoder can scale past this.
    """
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(procs) as pool:
        list(pool.map(_spin, [1000] * procs))  # start the workers first
        w0 = time.perf_counter()
        list(pool.map(_spin, [work // procs] * procs))
        many = time.perf_counter() - w0
    w0 = time.perf_counter()
    _spin(work)
    one = time.perf_counter() - w0
    return one / many


_CORUN: list[list[str]] = []  # the documents a forked co-run process inherits


def _corun_child(start: int, stop: int, go: Any, conn: Any) -> None:
    """Encode documents ``start:stop`` with a fresh tokenizer once ``go`` is set; send (wall, CPU)."""
    from librt.vecs import vec
    from mypy_extensions import i32

    from alignkit.bpe.tokenizer import load_default

    tok = load_default()
    tok.encode("warm up")
    docs = _CORUN[0]
    go.wait()
    w0, c0 = time.perf_counter(), time.process_time()
    ids = vec[i32]()
    for k in range(start, stop):
        ids = tok.encode_into(docs[k], ids)
    conn.send((time.perf_counter() - w0, time.process_time() - c0))


def corun_ceiling(docs: list[str], procs: int) -> tuple[float, list[tuple[float, float]], tuple[float, float]]:
    """The machine's ceiling for THIS workload: ``procs`` independent processes vs one.

    ``procs`` forked processes, each with its own fresh tokenizer, encode contiguous parts
    of ``docs`` (balanced by characters) started together; one more encodes all of them
    alone. No pipes, no shared work: what two encoders side by side can do here.
    Returns (one alone wall / slowest co-run wall, per co-run (wall, CPU), alone (wall, CPU)).
    """
    import multiprocessing

    from alignkit.bpe._fork_batch import balanced_ranges

    ctx = multiprocessing.get_context("fork")
    _CORUN[:] = [docs]

    def run(ranges: list[tuple[int, int]]) -> list[tuple[float, float]]:
        go = ctx.Event()
        pipes = [ctx.Pipe(duplex=False) for _ in ranges]
        kids = [ctx.Process(target=_corun_child, args=(a, b, go, w)) for (a, b), (_, w) in zip(ranges, pipes)]
        for kid in kids:
            kid.start()
        time.sleep(0.5)  # every child has loaded its tokenizer
        go.set()
        out = [r.recv() for r, _ in pipes]
        for kid in kids:
            kid.join()
        return out

    many = run(balanced_ranges(docs, procs))
    alone = run([(0, len(docs))])[0]
    _CORUN.clear()
    return alone[0] / max(w for w, _ in many), many, alone


def _timed(tok: Any, docs: list[str], n: int, arrays: bool) -> tuple[Any, float, float, float]:
    """One batch call: (result, wall, this process's CPU, children's CPU)."""
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0, p0 = time.perf_counter(), time.process_time()
    result = tok.encode_batch_arrays(docs, num_proc=n) if arrays else tok.encode_batch(docs, num_proc=n)
    wall, cpu = time.perf_counter() - w0, time.process_time() - p0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return result, wall, cpu, c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime


def parallel(text: str, procs: int, doc_chars: int, rounds: int = 1) -> bool:
    """``encode_batch`` / ``encode_batch_arrays`` with ``procs`` processes vs 1, and both controls.

    Every call starts from a fresh tokenizer (empty piece cache); numpy is imported before
    any clock starts. Per call: wall time, this process's CPU and its workers' CPU
    (``RUSAGE_CHILDREN``). With ``rounds > 1`` the modes alternate and the fastest wall
    time of each is kept.
    """
    import numpy  # noqa: F401  (imported before the clocks: encode_batch_arrays uses it)

    from alignkit.bpe.tokenizer import load_default

    docs = split_docs(text, doc_chars)
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    mb = sum(len(d.encode("utf-8")) for d in docs) / 1e6
    expected: list[int] | None = None
    best: dict[tuple[str, int], float] = {}
    same = True
    for _ in range(max(1, rounds)):
        for arrays in (False, True):
            kind = "encode_batch_arrays" if arrays else "encode_batch"
            for n in (1, procs):
                tok = load_default()  # a fresh tokenizer each time: every side starts cold
                tok.encode("warm up")
                result, wall, cpu, kids = _timed(tok, docs, n, arrays)
                flat = result[0].tolist() if arrays else [i for doc in result for i in doc]
                if arrays:
                    same = same and result[1].tolist()[-1] == len(flat)
                if expected is None:
                    expected = flat
                same = same and flat == expected
                del result, flat
                key = (kind, n)
                best[key] = min(best.get(key, wall), wall)
                print(f"{kind} num_proc={n}: {len(docs)} docs, {mb:.1f} MB, wall {wall:.2f} s"
                      f" = {mb / wall:.1f} MB/s; CPU: this process {cpu:.2f} s, workers {kids:.2f} s;"
                      f" load {os.getloadavg()[0]:.2f}", flush=True)
    for kind in ("encode_batch", "encode_batch_arrays"):
        print(f"scaling of {kind} num_proc={procs} vs 1: {best[(kind, 1)] / best[(kind, procs)]:.2f}x"
              f" (wall, fastest of {max(1, rounds)})")
    ratio, many, alone = corun_ceiling(docs, procs)
    print(f"co-run control ({procs} independent processes each encoding 1/{procs} of the batch, started"
          f" together, vs one encoding all): {ratio:.2f}x; co-run wall/CPU "
          + ", ".join(f"{w:.2f}/{c:.2f} s" for w, c in many) + f"; alone {alone[0]:.2f}/{alone[1]:.2f} s")
    ceiling = machine_ceiling(procs)
    print(f"ids identical for every call: {'yes' if same else 'NO'}")
    print(f"spin-loop control (a CPU-only loop in {procs} processes vs 1, same moment): {ceiling:.2f}x"
          f" on {os.cpu_count()} cores; load average after: {os.getloadavg()[0]:.2f}")
    return same


def file_scaling(path: Path, procs: int, rounds: int) -> bool:
    """``encode_file(path, num_proc=procs)`` vs ``num_proc=1``, alternated; ids checked against one encode."""
    import numpy as np
    from librt.vecs import vec
    from mypy_extensions import i32

    from alignkit.bpe.tokenizer import load_default

    tok = load_default()
    expected = np.frombuffer(memoryview(tok.encode_into(path.read_text(encoding="utf-8"), vec[i32]())), np.int32)
    mb = path.stat().st_size / 1e6
    best: dict[int, float] = {}
    same = True
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for _ in range(max(1, rounds)):
        for n in (1, procs):
            tok = load_default()  # fresh: every call starts with an empty piece cache
            tok.encode("warm up")
            c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            w0, p0 = time.perf_counter(), time.process_time()
            ids = tok.encode_file(path, num_proc=n)
            wall, cpu = time.perf_counter() - w0, time.process_time() - p0
            c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            kids = c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime
            same = same and bool(np.array_equal(ids, expected))
            best[n] = min(best.get(n, wall), wall)
            print(f"encode_file num_proc={n}: {mb:.1f} MB, {len(ids)} ids ({ids.dtype}), wall {wall:.2f} s"
                  f" = {mb / wall:.1f} MB/s; CPU: this process {cpu:.2f} s, workers {kids:.2f} s;"
                  f" load {os.getloadavg()[0]:.2f}", flush=True)
    print(f"scaling of encode_file num_proc={procs} vs 1: {best[1] / best[procs]:.2f}x"
          f" (wall, fastest of {max(1, rounds)}); ids identical to one encode of the whole text:"
          f" {'yes' if same else 'NO'}")
    print(f"spin-loop control ({procs} processes vs 1, same moment): {machine_ceiling(procs):.2f}x")
    return same


def write_stdlib(path: Path, limit: int) -> None:
    """Concatenate this interpreter's standard-library sources (sorted) into ``path``."""
    total = 0
    with open(path, "w", encoding="utf-8") as dst:
        for src in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
            if "site-packages" in src.parts or total >= limit:
                continue
            text = src.read_text(encoding="utf-8", errors="replace")
            dst.write(text)
            total += len(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--child", nargs=3, metavar=("MODE", "PATH", "MB"), help=argparse.SUPPRESS)
    ap.add_argument("--bench-dir", type=Path, default=SHARED / "bench")
    ap.add_argument("--corpus", default="en_novels", help="en_novels, multi_novels (bench folder) or stdlib")
    ap.add_argument("--stdlib-mb", type=float, default=32, help="MB of stdlib source for --corpus stdlib")
    ap.add_argument("--batch-mb", type=float, default=32, help="MB of documents for encode_batch (0: skip)")
    ap.add_argument("--num-proc", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1, help="alternating rounds of the batch calls (fastest kept)")
    ap.add_argument("--doc-kb", type=float, default=64, help="cut documents into texts of about this size (0: whole)")
    ap.add_argument("--sizes", default="0.5,1,2,0", help="MB of the file (whole lines) to stream; 0: all")
    ap.add_argument("--timeout", type=float, default=120, help="seconds per measurement before giving up")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--file-rounds", type=int, default=1, help="alternated rounds of encode_file (0: skip)")
    args = ap.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    import alignkit

    print(f"alignkit {alignkit.__version__} compiled={alignkit.COMPILED}; Python {sys.version.split()[0]}")
    ok = True
    with tempfile.TemporaryDirectory(prefix="alignkit-stream-") as tmp:
        plain = Path(tmp) / f"{args.corpus}.txt"
        if args.corpus == "stdlib":
            write_stdlib(plain, int(args.stdlib_mb * 1e6))
        else:
            with gzip.open(args.bench_dir / f"{args.corpus}.txt.gz", "rb") as src, open(plain, "wb") as dst:
                while chunk := src.read(1 << 24):
                    dst.write(chunk)
        if not args.skip_memory:
            ok = memory(plain, [float(x) for x in args.sizes.split(",")], args.timeout) and ok
        if args.batch_mb > 0:
            text = plain.read_text(encoding="utf-8")[: int(args.batch_mb * 1e6)]
            ok = parallel(text, args.num_proc, int(args.doc_kb * 1000), args.rounds) and ok
        if args.file_rounds > 0:
            ok = file_scaling(plain, args.num_proc, args.file_rounds) and ok
    if not ok:
        print("FAILED: ids differ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
