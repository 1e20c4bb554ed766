"""Benchmark BPE training: alignkit vs Hugging Face ``BpeTrainer`` vs ``rustbpe``.

Each measurement runs in a fresh subprocess, which reports the time inside the
training call (wall, and CPU summed over threads and worker processes), and its
peak RSS (``ru_maxrss``; for alignkit also the largest counting worker's: the
workers live only while counting, before the merge loop allocates). Same corpus, same vocabulary size, same
thread count (``RAYON_NUM_THREADS`` for the Rust trainers, ``num_proc`` for
alignkit), GPT-2 pre-tokenization everywhere, ``<|endoftext|>`` as the special
token (alignkit and BpeTrainer; rustbpe has no special tokens, so it gets one
more merge instead).

Run it against the COMPILED build (a private venv with ``pip install .``)::

    python benchmarks/bench_train.py --prefix-mb 5.5 --vocab 10000 --threads 1 2
    python benchmarks/bench_train.py --vocab 10000 32000 --threads 2   # all 64 MB

The corpus defaults to ``../shared/bench/en_novels.txt.gz``, decompressed to a
temporary folder (``--prefix-mb`` keeps only its first megabytes).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

EOT = "<|endoftext|>"
HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE.parent.parent / "shared" / "bench" / "en_novels.txt.gz"


def _documents(path: str) -> Iterator[str]:
    """The corpus as documents (split at EOT), read in 1 MiB blocks."""
    carry = ""
    with open(path, encoding="utf-8") as f:
        while block := f.read(1 << 20):
            parts = (carry + block).split(EOT)
            carry = parts.pop()
            yield from parts
    if carry:
        yield carry


def _peak_kib() -> int:
    """This process's peak RSS: VmHWM (``ru_maxrss`` would include the parent's RSS from before exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _run_one(peer: str, corpus: str, vocab: int, threads: int) -> dict[str, object]:
    """Train once in this process; return timings, peak memory and a result summary."""
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    info: dict[str, object] = {}
    if peer == "alignkit":
        import alignkit
        from alignkit.bpe.train import train_bpe_detailed

        result = train_bpe_detailed(corpus, vocab, [EOT], num_proc=threads)
        info = {
            "merges": len(result.merges),
            "compiled": alignkit.COMPILED,
            "count_s": round(result.count_seconds, 3),
            "merge_s": round(result.merge_seconds, 3),
            "distinct_pretokens": result.distinct_pretokens,
        }
    elif peer == "hf":
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab,
            special_tokens=[EOT],
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
        tok.train([corpus], trainer)
        info = {"merges": tok.get_vocab_size() - 257}
    elif peer == "rustbpe":
        import rustbpe  # type: ignore[import-not-found]

        from_gpt2 = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
        tok = rustbpe.Tokenizer()
        tok.train_from_iterator(_documents(corpus), vocab - 1, pattern=from_gpt2)
        info = {"merges": tok.vocab_size - 256}
    else:
        raise SystemExit(f"unknown peer {peer}")
    wall = time.perf_counter() - start_wall
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # alignkit's counting workers
    cpu = time.process_time() - start_cpu + children.ru_utime + children.ru_stime
    self_kib = _peak_kib()
    child_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"peer": peer, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "rss_mib": self_kib // 1024,
            "worker_rss_mib": child_kib // 1024, **info}


def _measure(peer: str, corpus: str, vocab: int, threads: int) -> dict[str, object]:
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true")
    cmd = [sys.executable, __file__, "--one", peer, "--corpus", corpus, "--vocab", str(vocab),
           "--threads", str(threads)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"peer": peer, "error": out.stderr.strip().splitlines()[-1:] or ["failed"]}
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _prepare(source: str, prefix_mb: float | None, folder: str) -> str:
    """Decompress the corpus (or its first MB, cut at a character boundary), in blocks."""
    path = Path(folder) / "corpus.txt"
    opener = gzip.open if source.endswith(".gz") else open
    with opener(source, "rb") as src, open(path, "wb") as dst:
        if prefix_mb:
            data = src.read(int(prefix_mb * 1e6))
            dst.write(data[: len(data.decode("utf-8", "ignore").encode("utf-8"))])
        else:
            shutil.copyfileobj(src, dst, 1 << 20)
    return str(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    ap.add_argument("--prefix-mb", type=float, default=None, help="use only the first MB of the corpus")
    ap.add_argument("--vocab", type=int, nargs="+", default=[10000])
    ap.add_argument("--threads", type=int, nargs="+", default=[2])
    ap.add_argument("--peers", nargs="+", default=["alignkit", "hf", "rustbpe"])
    ap.add_argument("--repeat", type=int, default=1, help="runs per cell; the fastest is kept")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(_run_one(args.one, args.corpus, args.vocab[0], args.threads[0])))
        return
    with tempfile.TemporaryDirectory() as folder:
        corpus = _prepare(args.corpus, args.prefix_mb, folder)
        size = os.path.getsize(corpus)
        print(f"corpus: {args.corpus} ({size:,} bytes{', prefix' if args.prefix_mb else ''}); "
              f"python {sys.version.split()[0]}; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}")
        print("| vocab | threads | trainer | wall s | CPU s | peak RSS MiB | worker RSS MiB | merges | "
              "wall vs alignkit | notes |")
        print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---|")
        for vocab in args.vocab:
            for threads in args.threads:
                rows = []
                for peer in args.peers:
                    runs = [_measure(peer, corpus, vocab, threads) for _ in range(args.repeat)]
                    good = [r for r in runs if "error" not in r]
                    rows.append(min(good, key=lambda r: float(r["wall_s"])) if good else runs[0])  # type: ignore[arg-type]
                base = next((float(r["wall_s"]) for r in rows if r["peer"] == "alignkit" and "wall_s" in r), None)  # type: ignore[arg-type]
                for r in rows:
                    if "error" in r:
                        print(f"| {vocab} | {threads} | {r['peer']} | error: {r['error']} |")
                        continue
                    ratio = f"{float(r['wall_s']) / base:.2f}×" if base else "-"  # type: ignore[arg-type]
                    notes = {k: v for k, v in r.items() if k in ("compiled", "count_s", "merge_s", "distinct_pretokens")}
                    print(f"| {vocab} | {threads} | {r['peer']} | {r['wall_s']} | {r['cpu_s']} | {r['rss_mib']} | "
                          f"{r['worker_rss_mib']} | {r['merges']} | {ratio} | {notes or ''} |")
                sys.stdout.flush()


if __name__ == "__main__":
    main()
