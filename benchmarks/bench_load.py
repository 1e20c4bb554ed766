"""Tokenizer load benchmark: alignkit's loaders against the reference libraries' own loaders.

For every real tokenizer file (the bundled GPT-2, tiktoken rank files, Hugging Face
``tokenizer.json`` files, GPT-2 ``vocab.json`` + ``merges.txt``, model folders) one
run measures, alternating alignkit and the reference in the same process:

- **load**: CPU seconds (``time.process_time``) from the path to a ready tokenizer;
  for alignkit that is :func:`alignkit.bpe.load_tokenizer`, for the reference
  ``tiktoken.load.load_tiktoken_bpe`` + ``tiktoken.Encoding(...)`` (rank files) or
  ``tokenizers.Tokenizer.from_file`` (``from_str`` after gunzip for ``.gz``;
  ``models.BPE.from_file`` + the pre-tokenizer for ``vocab.json`` + ``merges.txt``);
- **first encode** / **first decode**: the first call on a fresh tokenizer (so any
  work a loader leaves for later is counted), on a short mixed-language text;
- **of which BPECore**: building the compiled core alone from the finished rank
  table (``alignkit.bpe._core``), the part of the load that is not the loader's;
- **content hash**: alignkit's first ``Tokenizer.hash`` on the fresh tokenizer (what
  ``alignkit tokenize`` writes in the manifest; the reference libraries have none);
- **cache warm**: alignkit's load + content hash when its tokenizer cache holds the
  source (``alignkit.bpe.loaders._cache``; every later run of a tokenizer). The other
  alignkit columns are measured with the cache off.

The best of ``--repeat`` rounds is reported, with the ratio reference / alignkit
(> 1: alignkit loads faster). The ids of the sample must equal the reference's
(the script exits 1 otherwise). Run it with the COMPILED build, from the repository
root (see benchmarks/README.md)::

    python benchmarks/bench_load.py --repeat 5
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # HF tokenizers: one thread, like the others
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["ALIGNKIT_CACHE_DIR"] = ""  # alignkit's tokenizer cache off, except for the cache-warm column

import tiktoken  # noqa: E402
import tokenizers  # noqa: E402
from tiktoken.load import load_tiktoken_bpe  # noqa: E402
from tokenizers import Regex, models, normalizers, pre_tokenizers  # noqa: E402

import alignkit  # noqa: E402
from alignkit.bpe import load_tokenizer  # noqa: E402
from alignkit.bpe._core import BPECore  # noqa: E402
from alignkit.bpe.loaders.tiktoken_file import ENCODINGS  # noqa: E402
from alignkit.bpe.patterns import QWEN  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SAMPLE = (
    "Hello world! The quick brown fox jumps over the lazy dog, 1234567 times.\n"
    "Größenordnung, naïve café — 日本語のテキスト, 한국어 텍스트, русский текст. "
    "def f(x):\n    return x ** 2  # comment\n" * 3
)

Loader = Callable[[], Any]


def _tiktoken(path: Path, key: str) -> Loader:
    enc = ENCODINGS[key]

    def load() -> Any:
        ranks = load_tiktoken_bpe(str(path))
        return tiktoken.Encoding(key, pat_str=enc.pattern, mergeable_ranks=ranks, special_tokens=enc.specials)

    return load


def _hf_json(path: Path) -> Loader:
    if path.name.endswith(".gz"):
        return lambda: tokenizers.Tokenizer.from_str(gzip.decompress(path.read_bytes()).decode("utf-8"))

    def load() -> Any:
        tok = tokenizers.Tokenizer.from_file(str(path))
        tok.no_truncation()  # the GPT-2 copy carries max_length 50 (alignkit never truncates in the tokenizer)
        return tok

    return load


def _hf_pair(folder: Path, pattern: str | None, nfc: bool, config: Path | None) -> Loader:
    """``models.BPE.from_file`` wired like the matching tokenizer.json (GPT-2 or Qwen)."""

    def load() -> Any:
        tok = tokenizers.Tokenizer(models.BPE.from_file(str(folder / "vocab.json"), str(folder / "merges.txt")))
        if nfc:
            tok.normalizer = normalizers.NFC()
        if pattern is None:
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        else:
            tok.pre_tokenizer = pre_tokenizers.Sequence(
                [pre_tokenizers.Split(Regex(pattern), "isolated"), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
            )
        tok.decoder = tokenizers.decoders.ByteLevel()
        if config is not None:
            added = json.loads(config.read_text())["added_tokens_decoder"]
            tok.add_special_tokens([tokenizers.AddedToken(v["content"], special=True) for _, v in sorted(added.items(), key=lambda kv: int(kv[0]))])
        return tok

    return load


def cases(data: Path, tmp: Path) -> list[tuple[str, str, Loader]]:
    """(label, alignkit spec, reference loader) for every real tokenizer file."""
    tok = data / "tokenizers"
    tt = tok / "tiktoken"
    out: list[tuple[str, str, Loader]] = [("gpt2 (bundled) vs tiktoken r50k", "gpt2", _tiktoken(tt / "r50k_base.tiktoken", "r50k_base"))]
    for key in ("r50k_base", "p50k_base", "cl100k_base", "o200k_base"):
        out.append((f"{key}.tiktoken", str(tt / f"{key}.tiktoken"), _tiktoken(tt / f"{key}.tiktoken", key)))
    out.append(("llama3 tokenizer.model", str(tok / "llama3" / "tokenizer.model"), _tiktoken(tok / "llama3" / "tokenizer.model", "llama3")))
    llama = tmp / "Meta-Llama-3-8B-Instruct"
    llama.mkdir()
    os.symlink(tok / "llama3" / "tokenizer.model", llama / "tokenizer.model")
    os.symlink(tok / "llama3" / "Meta-Llama-3-8B-Instruct" / "tokenizer_config.json", llama / "tokenizer_config.json")
    out.append(("llama3 folder (.model + config)", str(llama), _tiktoken(tok / "llama3" / "tokenizer.model", "llama3")))
    for label, path in (
        ("qwen3 tokenizer.json.gz", tok / "qwen3" / "tokenizer.json.gz"),
        ("claude-legacy tokenizer.json", tok / "claude-legacy" / "tokenizer.json"),
        ("gpt2 tokenizer.json", tok / "gpt2" / "tokenizer.resaved-truncation50.json"),
    ):
        out.append((label, str(path), _hf_json(path)))
    out.append(("qwen3 folder (tokenizer.json.gz)", str(tok / "qwen3"), _hf_json(tok / "qwen3" / "tokenizer.json.gz")))
    out.append(("gpt2 vocab.json + merges.txt", str(tok / "gpt2" / "vocab.json"), _hf_pair(tok / "gpt2", None, False, None)))
    qwen = tmp / "qwen3-pair"
    qwen.mkdir()
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        os.symlink(tok / "qwen3" / name, qwen / name)
    out.append(("qwen3 folder (vocab + merges)", str(qwen), _hf_pair(tok / "qwen3", QWEN, True, tok / "qwen3" / "tokenizer_config.json")))
    return out



def _encode(tok: Any, text: str) -> list[int]:
    if isinstance(tok, tiktoken.Encoding):
        return tok.encode(text, allowed_special="all")
    if isinstance(tok, tokenizers.Tokenizer):
        return list(tok.encode(text, add_special_tokens=False).ids)
    return list(tok.encode(text))


def _decode(tok: Any, ids: list[int]) -> object:
    return tok.decode(ids)


def core_seconds(spec: str) -> float:
    """CPU seconds of building the compiled ``BPECore`` alone (part of alignkit's load)."""
    tok = load_tokenizer(spec)
    ranks = dict(zip(tok._tokens, tok._ids if tok._remap is None else range(len(tok._ids))))
    gc.collect()
    t0 = time.process_time()
    BPECore(ranks, tok.pattern)
    return time.process_time() - t0


def cached_seconds(spec: str, cache: Path) -> float:
    """CPU seconds of a load + content hash with alignkit's tokenizer cache holding ``spec``."""
    os.environ["ALIGNKIT_CACHE_DIR"] = str(cache)
    try:
        load_tokenizer(spec)  # fills the cache
        gc.collect()
        t0 = time.process_time()
        load_tokenizer(spec).hash  # noqa: B018
        return time.process_time() - t0
    finally:
        os.environ["ALIGNKIT_CACHE_DIR"] = ""


def measure(load: Loader, text: str) -> tuple[float, float, float, float, list[int]]:
    """(load s, first encode s, first decode s, content hash s (alignkit; else 0), ids), CPU time."""
    gc.collect()
    t0 = time.process_time()
    tok = load()
    t1 = time.process_time()
    ids = _encode(tok, text)
    t2 = time.process_time()
    _decode(tok, ids)
    t3 = time.process_time()
    if hasattr(tok, "hash") and hasattr(tok, "_hash"):
        tok.hash  # noqa: B018 (the first call computes it)
    t4 = time.process_time()
    return t1 - t0, t2 - t1, t3 - t2, t4 - t3, ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (alternating alignkit/reference); best is reported")
    parser.add_argument("--only", default="", help="run only cases whose label contains this text")
    args = parser.parse_args()
    print(f"alignkit compiled={alignkit.COMPILED} ({Path(alignkit.__file__).parent}); python {platform.python_version()}; "
          f"tiktoken {tiktoken.__version__}, tokenizers {tokenizers.__version__}; {platform.machine()} {os.cpu_count()} cpus; "
          f"load average {os.getloadavg()[0]:.2f}")
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for label, spec, ref in cases(args.data_dir, Path(tmp)):
            if args.only not in label:
                continue
            best_a = [9e9, 9e9, 9e9, 9e9]
            best_r = [9e9, 9e9, 9e9, 9e9]
            ids_a: list[int] = []
            ids_r: list[int] = []
            for _ in range(args.repeat):
                *times, ids_a = measure(lambda: load_tokenizer(spec), SAMPLE)
                best_a = [min(a, b) for a, b in zip(best_a, times)]
                *times, ids_r = measure(ref, SAMPLE)
                best_r = [min(a, b) for a, b in zip(best_r, times)]
            same = ids_a == ids_r
            failed |= not same
            core = min(core_seconds(spec) for _ in range(args.repeat))
            warm = min(cached_seconds(spec, Path(tmp) / "cache") for _ in range(args.repeat))
            rows.append((label, best_a, best_r, same, core, warm))
            print(f"  {label}: alignkit {best_a[0]:.3f} s (cache warm, with hash: {warm:.3f} s), reference {best_r[0]:.3f} s,"
                  f" ids {'identical' if same else 'DIFFER'}", flush=True)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}; best of {args.repeat} rounds, CPU time\n")
    print("| tokenizer file | alignkit load (s) | of which BPECore (s) | reference load (s) | reference / alignkit "
          "| first encode alignkit / ref (ms) | first decode alignkit / ref (ms) | alignkit content hash (ms) "
          "| alignkit load + hash, cache warm (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, a, r, same, core, warm in rows:
        print(f"| {label} | {a[0]:.3f} | {core:.3f} | {r[0]:.3f} | {r[0] / a[0]:.2f}x | {a[1] * 1e3:.2f} / {r[1] * 1e3:.2f} | "
              f"{a[2] * 1e3:.2f} / {r[2] * 1e3:.2f} | {a[3] * 1e3:.2f} | {warm:.3f} |{'' if same else ' IDS DIFFER'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
