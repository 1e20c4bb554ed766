"""Encode/decode benchmark: alignkit's BPE core against tiktoken and Hugging Face tokenizers.

One run measures every peer on the same text and prints MB/s and RATIOS, and checks
that the ids are identical on the whole corpus (the run fails otherwise).

    python benchmarks/bench_encode.py                       # all tokenizers, all corpora
    python benchmarks/bench_encode.py --tokenizers gpt2 --corpora en_novels --limit-mb 8

Run it with the COMPILED build (``pip install .`` into a separate venv, then run
this file with that venv's python from the repository root): the script prints
whether the core it imported is compiled.

Measures, per tokenizer and corpus, one thread each:
- cold: build the encoder from the already-parsed rank table, then encode the whole
  corpus once (piece-cache warm-up included) -- the "whole process" cost; ``--cold-runs``
  such runs per side (default 3), alternated, each with a new encoder: the row gives the
  ratio of the medians and the range of the per-pair ratios;
- warm: encode the whole corpus again with the same encoder (also printed: the same into
  a native ``vec[i32]`` from UTF-8 bytes, ``encode_bytes_into``, i.e. without the list);
- decode: ``decode_bytes`` of all the ids;
- Hugging Face ``tokenizers`` (GPT-2, Qwen): per document on the first ``--hf-mb`` MB
  (it is ~10x slower), compared with alignkit on the same documents.
Times are CPU times of this process (``time.process_time``), which the other jobs of
a shared machine disturb less than wall time; wall time is printed too.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import unicodedata
from statistics import median
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # HF tokenizers: one thread, like the others
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import tiktoken  # noqa: E402
from librt.vecs import vec  # noqa: E402
from mypy_extensions import i32  # noqa: E402
from tiktoken.load import load_tiktoken_bpe  # noqa: E402

import alignkit  # noqa: E402
from alignkit.bpe import _core, patterns  # noqa: E402
from alignkit.bpe._fileio import UNICODE_TO_BYTE  # noqa: E402
from _corpora import stdlib_source  # noqa: E402  (benchmarks/, the script's folder)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EOT = "<|endoftext|>"


def load_tokenizers(data: Path) -> dict[str, dict[str, Any]]:
    tok = data / "tokenizers"
    out: dict[str, dict[str, Any]] = {
        "gpt2": {"ranks": tok / "tiktoken" / "r50k_base.tiktoken", "pattern": patterns.GPT2,
                 "hf": tok / "gpt2" / "tokenizer.resaved-truncation50.json"},
        "cl100k": {"ranks": tok / "tiktoken" / "cl100k_base.tiktoken", "pattern": patterns.CL100K},
        "o200k": {"ranks": tok / "tiktoken" / "o200k_base.tiktoken", "pattern": patterns.O200K},
        "llama3": {"ranks": tok / "llama3" / "tokenizer.model", "pattern": patterns.LLAMA3},
        "qwen": {"vocab": tok / "qwen3" / "vocab.json", "pattern": patterns.QWEN,
                 "hf": tok / "qwen3" / "tokenizer.json.gz", "nfc": True},
    }
    return out


def read_ranks(spec: dict[str, Any]) -> dict[bytes, int]:
    if "ranks" in spec:
        return load_tiktoken_bpe(str(spec["ranks"]))
    decoder = UNICODE_TO_BYTE
    vocab = json.loads(Path(spec["vocab"]).read_text(encoding="utf-8"))
    return {bytes(decoder[c] for c in token): rank for token, rank in vocab.items()}


def hf_tokenizer(path: Path, tmp: Path) -> Any:
    from tokenizers import Tokenizer

    if path.suffix == ".gz":
        plain = tmp / path.stem
        if not plain.exists():
            plain.write_bytes(gzip.decompress(path.read_bytes()))
        path = plain
    tok = Tokenizer.from_file(str(path))
    tok.no_truncation()
    tok.no_padding()
    return tok


def corpus_text(name: str, bench: Path, tmp: Path, limit: int) -> str:
    if name == "stdlib":
        return stdlib_source(limit)
    plain = tmp / f"{name}.txt"
    if not plain.exists():
        with gzip.open(bench / f"{name}.txt.gz", "rb") as src, open(plain, "wb") as dst:
            while chunk := src.read(1 << 24):
                dst.write(chunk)
    text = plain.read_text(encoding="utf-8")
    return text[:limit] if limit else text


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    return time.process_time() - c0, time.perf_counter() - w0, result


def machine() -> str:
    model = ""
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model or platform.processor()}), Python {platform.python_version()}"


def bench_one(name: str, spec: dict[str, Any], text: str, label: str, args: argparse.Namespace,
              tmp: Path) -> list[str]:
    rows: list[str] = []
    ranks = read_ranks(spec)
    pattern = spec["pattern"]
    mb = len(text.encode("utf-8")) / 1e6
    if spec.get("nfc"):
        norm: Callable[[str], str] = lambda s: unicodedata.normalize("NFC", s)  # noqa: E731
    else:
        norm = lambda s: s  # noqa: E731
    # Against tiktoken, both encode the same (already normalized) text: normalization
    # belongs to the facade, not to the core being compared. HF normalizes inside its
    # encode, so in the HF comparison alignkit's time includes ``norm`` too.
    text = norm(text)

    # tiktoken: build + first encode (cold), then a second encode (warm)
    def tk_cold() -> tuple[Any, list[int]]:
        enc = tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
        return enc, enc.encode_ordinary(text)

    def ak_cold() -> tuple[_core.BPECore, list[int]]:
        core = _core.BPECore(ranks, pattern)
        return core, core.encode_ordinary(text)

    # Cold runs alternate (tiktoken, alignkit, tiktoken, ...), each with a new encoder;
    # the median of each side is reported, so one run disturbed by a neighbour's job
    # does not decide the ratio.
    tk_runs: list[tuple[float, float]] = []
    ak_runs: list[tuple[float, float]] = []
    for _ in range(args.cold_runs):
        enc = core = None
        tk_ids = ak_ids = []
        c, w, (enc, tk_ids) = timed(tk_cold)
        tk_runs.append((c, w))
        c, w, (core, ak_ids) = timed(ak_cold)
        ak_runs.append((c, w))
    tk_c, tk_cw = median(t[0] for t in tk_runs), median(t[1] for t in tk_runs)
    ak_c, ak_cw = median(t[0] for t in ak_runs), median(t[1] for t in ak_runs)
    spread = sorted(t[0] / a[0] for t, a in zip(tk_runs, ak_runs))
    tk_w, _, _ = timed(lambda: enc.encode_ordinary(text))
    ak_w, _, ak_ids2 = timed(lambda: core.encode_ordinary(text))
    utf8 = text.encode("utf-8")
    ak_v, _, _ = timed(lambda: core.encode_bytes_into(utf8, vec[i32]()))  # native ids, no list
    del utf8
    same = ak_ids == tk_ids and ak_ids2 == tk_ids
    if not same:
        first = next((i for i, (a, b) in enumerate(zip(ak_ids, tk_ids)) if a != b), min(len(ak_ids), len(tk_ids)))
        rows.append(f"  !! ids differ from tiktoken at index {first} ({len(ak_ids)} vs {len(tk_ids)} ids)")
    del ak_ids2
    tkd, _, tk_bytes = timed(lambda: enc.decode_bytes(tk_ids))
    akd, _, ak_bytes = timed(lambda: core.decode_bytes(tk_ids))
    dec_same = tk_bytes == ak_bytes
    rows.append(
        f"{name:7} {label:13} {mb:7.1f} MB {len(tk_ids) / 1e6:6.2f} M ids | encode cold: tiktoken "
        f"{mb / tk_c:6.1f} MB/s alignkit {mb / ak_c:6.1f} MB/s = {tk_c / ak_c:4.2f}x "
        f"(wall {tk_cw / ak_cw:4.2f}x; {len(spread)} runs: {spread[0]:4.2f}-{spread[-1]:4.2f}x) | warm: {mb / tk_w:6.1f} vs {mb / ak_w:6.1f} MB/s = {tk_w / ak_w:4.2f}x "
        f"(into a vec from bytes: {mb / ak_v:6.1f} MB/s) "
        f"| decode: {mb / tkd:6.1f} vs {mb / akd:6.1f} MB/s = {tkd / akd:4.2f}x "
        f"| ids identical: {'yes' if same else 'NO'}{'' if dec_same else ' DECODE DIFFERS'}"
    )
    del tk_ids, tk_bytes, ak_bytes, ak_ids
    if "hf" in spec and args.hf_mb > 0:
        hf = hf_tokenizer(Path(spec["hf"]), tmp)
        docs = [d for d in text[: int(args.hf_mb * 1e6)].split(EOT) if d]
        hf_mb = sum(len(d.encode("utf-8")) for d in docs) / 1e6
        hf_t, _, hf_ids = timed(lambda: [hf.encode(d, add_special_tokens=False).ids for d in docs])
        fresh = _core.BPECore(ranks, pattern)
        ak_t, _, ak_docs = timed(lambda: [fresh.encode_ordinary(norm(d)) for d in docs])
        hf_same = hf_ids == ak_docs
        rows.append(
            f"{name:7} {label:13} {hf_mb:7.1f} MB per document vs HF tokenizers: HF {hf_mb / hf_t:5.2f} MB/s, "
            f"alignkit (cold) {hf_mb / ak_t:6.1f} MB/s = {hf_t / ak_t:5.1f}x | ids identical: "
            f"{'yes' if hf_same else 'NO'}"
        )
        if not hf_same:
            same = False
    if not (same and dec_same):
        args.failed = True
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench-dir", type=Path, default=SHARED / "bench", help="folder of *.txt.gz (default ../shared/bench)")
    ap.add_argument("--data-dir", type=Path, default=SHARED / "data", help="shared data folder (tokenizer files)")
    ap.add_argument("--tokenizers", default="gpt2,cl100k,o200k,llama3,qwen")
    ap.add_argument("--corpora", default="en_novels,multi_novels,stdlib")
    ap.add_argument("--limit-mb", type=float, default=0, help="use only the first N MB (chars) of each corpus")
    ap.add_argument("--stdlib-mb", type=float, default=16, help="how much stdlib source to use")
    ap.add_argument("--hf-mb", type=float, default=4, help="MB of each corpus given to HF tokenizers (0: skip)")
    ap.add_argument("--cold-runs", type=int, default=3,
                    help="cold runs per side, alternated; the medians are compared (default 3)")
    args = ap.parse_args(argv)
    args.failed = False
    print(f"alignkit {alignkit.__version__} compiled={alignkit.COMPILED} core={_core.__file__}")
    print(f"tiktoken {tiktoken.__version__}; machine: {machine()}")
    print("ratios > 1: alignkit faster. Times: CPU time of one thread (wall-time ratio of cold in parentheses).")
    specs = load_tokenizers(args.data_dir)
    with tempfile.TemporaryDirectory(prefix="alignkit-bench-") as tmpdir:
        tmp = Path(tmpdir)
        for label in args.corpora.split(","):
            limit = int(args.stdlib_mb * 1e6) if label == "stdlib" else int(args.limit_mb * 1e6)
            text = corpus_text(label, args.bench_dir, tmp, limit)
            for name in args.tokenizers.split(","):
                for row in bench_one(name, specs[name], text, label, args, tmp):
                    print(row, flush=True)
    if args.failed:
        print("FAILED: some ids differ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
