"""Whole-process encode: a fresh process per side, import + rank-file load + construction + cold encode.

The strict reading of issue 3's "whole-process and cold" target. For each tokenizer and
corpus, each round starts one child process per side (alternating which side goes first);
the child reads the corpus text (not timed), then measures ``time.process_time()`` from
before the library's import to the end of ``encode_ordinary`` of the whole text:

- alignkit: ``from alignkit.bpe import load_tokenizer``; ``load_tokenizer(rank_file)``;
  ``tok.encode_ordinary(text)``;
- tiktoken: ``import tiktoken, tiktoken.load``; ``load_tiktoken_bpe(rank_file)``;
  ``tiktoken.Encoding(...)`` with the encoding's pattern and special tokens (passed by this
  parent, from alignkit's registry ``alignkit.bpe.loaders.tiktoken_file.ENCODINGS``: the
  child imports nothing else); ``enc.encode_ordinary(text)``.

Nothing is cached on disk between runs (tiktoken's own rank-file cache is switched off with
``TIKTOKEN_CACHE_DIR=""``, so it reads the file itself, as alignkit does). The children
report their CPU time (and its split: import, load + construction, encode), the number of
ids and a CRC of them; the parent checks that both sides give the same ids and prints a
markdown table of the median CPU per side and the ratio (tiktoken / alignkit: > 1 means
alignkit is faster), with the range of the per-round ratios.

    python benchmarks/bench_whole.py                                  # every tokenizer x corpus
    python benchmarks/bench_whole.py --tokenizers o200k --corpora multi_novels --rounds 5

Run it with the COMPILED build's python (see benchmarks/README.md); it prints whether the
alignkit the children import is compiled.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import median

from _corpora import stdlib_source  # benchmarks/, the script's folder

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

#: benchmark name -> (rank file relative to the data folder, alignkit encoding name)
TOKENIZERS: dict[str, tuple[str, str]] = {
    "r50k": ("tokenizers/tiktoken/r50k_base.tiktoken", "r50k_base"),
    "p50k": ("tokenizers/tiktoken/p50k_base.tiktoken", "p50k_base"),
    "cl100k": ("tokenizers/tiktoken/cl100k_base.tiktoken", "cl100k_base"),
    "o200k": ("tokenizers/tiktoken/o200k_base.tiktoken", "o200k_base"),
    "llama3": ("tokenizers/llama3/tokenizer.model", "llama3"),
}

# The children: only ``sys``, ``time`` and ``zlib``/``array`` (after the clock) besides the
# library under test. The text is read before the clock starts.
_PRELUDE = """
import sys, time
text = open(sys.argv[1], encoding="utf-8").read()
rank_file = sys.argv[2]
"""
_REPORT = """
t3 = time.process_time()
import array, zlib
crc = zlib.crc32(array.array("q", ids).tobytes())
print(f"{t3 - t0:.6f} {t1 - t0:.6f} {t2 - t1:.6f} {t3 - t2:.6f} {len(ids)} {crc} {extra}")
"""
ALIGNKIT_CHILD = _PRELUDE + """
name = sys.argv[3]
t0 = time.process_time()
from alignkit.bpe import load_tokenizer
t1 = time.process_time()
tok = load_tokenizer(rank_file + "#" + name)
t2 = time.process_time()
ids = tok.encode_ordinary(text)
""" + _REPORT.replace("{extra}", "{int(__import__('alignkit').COMPILED)}")
TIKTOKEN_CHILD = _PRELUDE + """
import os
name, pattern = sys.argv[3], os.environ["BENCH_WHOLE_PATTERN"]
specials = {}
for line in os.environ["BENCH_WHOLE_SPECIALS"].splitlines():
    token, _, rank = line.rpartition(" ")
    specials[token] = int(rank)
t0 = time.process_time()
import tiktoken
import tiktoken.load
t1 = time.process_time()
ranks = tiktoken.load.load_tiktoken_bpe(rank_file)
enc = tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks, special_tokens=specials)
t2 = time.process_time()
ids = enc.encode_ordinary(text)
""" + _REPORT.replace("{extra}", "0")


def corpus_file(name: str, bench: Path, tmp: Path, stdlib_bytes: int) -> Path:
    """The corpus as a plain UTF-8 file in ``tmp`` (decompressed, or the stdlib's source)."""
    plain = tmp / f"{name}.txt"
    if plain.exists():
        return plain
    if name == "stdlib":  # the same text as bench_encode.py's corpus_text("stdlib")
        plain.write_text(stdlib_source(stdlib_bytes), encoding="utf-8", newline="")
        return plain
    with gzip.open(bench / f"{name}.txt.gz", "rb") as src, open(plain, "wb") as dst:
        while chunk := src.read(1 << 24):
            dst.write(chunk)
    return plain


def run_child(python: str, code: str, text: Path, rank_file: Path, name: str, env: dict[str, str]) -> list[float]:
    """Run one child; its fields: total, import, load, encode CPU seconds, ids, crc, compiled."""
    proc = subprocess.run(
        [python, "-c", code, str(text), str(rank_file), name],
        capture_output=True, text=True, env=env, cwd=tempfile.gettempdir(), check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({name}):\n{proc.stderr}")
    return [float(x) for x in proc.stdout.split()]


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model or platform.processor()}), Python {platform.python_version()}"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def bench_pair(args: argparse.Namespace, tok: str, corpus: str, text: Path) -> tuple[str, bool]:
    """One table row: ``rounds`` alternated runs per side."""
    from alignkit.bpe.loaders.tiktoken_file import ENCODINGS

    rel, name = TOKENIZERS[tok]
    rank_file = args.data_dir / rel
    enc = ENCODINGS[name]
    env = dict(os.environ)
    env["TIKTOKEN_CACHE_DIR"] = ""  # tiktoken reads the file itself (no cached copy)
    env["BENCH_WHOLE_PATTERN"] = enc.pattern
    env["BENCH_WHOLE_SPECIALS"] = "\n".join(f"{s} {i}" for s, i in enc.specials.items())
    ak: list[list[float]] = []
    tk: list[list[float]] = []
    for r in range(args.rounds):
        sides = [("ak", ALIGNKIT_CHILD), ("tk", TIKTOKEN_CHILD)]
        if r % 2:
            sides.reverse()
        for side, code in sides:
            out = run_child(args.python, code, text, rank_file, name, env)
            (ak if side == "ak" else tk).append(out)
    same = all(a[4:6] == t[4:6] for a, t in zip(ak, tk))
    compiled = all(a[6] == 1 for a in ak)
    ratios = sorted(t[0] / a[0] for a, t in zip(ak, tk))
    mb = text.stat().st_size / 1e6

    def med(runs: list[list[float]], k: int) -> float:
        return median(x[k] for x in runs)

    row = (
        f"| {tok} | {corpus} | {mb:.1f} | {int(ak[0][4]):,} | {med(tk, 0):.3f} | {med(ak, 0):.3f} "
        f"| **{med(tk, 0) / med(ak, 0):.2f}x** | {ratios[0]:.2f}-{ratios[-1]:.2f}x "
        f"| {med(tk, 1):.3f} / {med(tk, 2):.3f} / {med(tk, 3):.3f} "
        f"| {med(ak, 1):.3f} / {med(ak, 2):.3f} / {med(ak, 3):.3f} "
        f"| {'yes' if same else 'NO'}{'' if compiled else ' (alignkit NOT compiled)'} |"
    )
    return row, same


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--bench-dir", type=Path, default=SHARED / "bench", help="folder of *.txt.gz (default ../shared/bench)")
    ap.add_argument("--data-dir", type=Path, default=SHARED / "data", help="shared data folder (tokenizer files)")
    ap.add_argument("--tokenizers", default=",".join(TOKENIZERS), help="comma-separated, from " + ",".join(TOKENIZERS))
    ap.add_argument("--corpora", default="multi_novels,en_novels,stdlib")
    ap.add_argument("--stdlib-mb", type=float, default=16, help="how much stdlib source (as bench_encode.py)")
    ap.add_argument("--rounds", type=int, default=3, help="child processes per side, alternated (default 3)")
    ap.add_argument("--python", default=sys.executable, help="interpreter of the children (default: this one)")
    args = ap.parse_args(argv)
    import alignkit
    import tiktoken

    print(f"alignkit {alignkit.__version__} compiled={alignkit.COMPILED} ({alignkit.__file__}); tiktoken {tiktoken.__version__}")
    print(f"machine: {machine()}; load average before: {load_average()}")
    print("CPU seconds per process (median of the rounds), from before the import to the end of encode_ordinary.")
    print()
    print("| tokenizer | corpus | MB | ids | tiktoken s | alignkit s | ratio | per-round | tiktoken import / load+build / encode "
          "| alignkit import / load+build / encode | ids equal |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    with tempfile.TemporaryDirectory(prefix="alignkit-whole-") as tmpdir:
        tmp = Path(tmpdir)
        for corpus in args.corpora.split(","):
            text = corpus_file(corpus, args.bench_dir, tmp, int(args.stdlib_mb * 1e6))
            for tok in args.tokenizers.split(","):
                row, same = bench_pair(args, tok, corpus, text)
                ok = ok and same
                print(row, flush=True)
    print()
    print(f"load average after: {load_average()}")
    if not ok:
        print("FAILED: some ids differ from tiktoken", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
