"""Benchmark: ``alignkit tokenize`` on preference pairs vs raw encode of the same texts.

Builds real preference pairs at run time from the shared data folder (nothing is
copied into the repository):

- the HH-RLHF test splits of all four subsets (helpful-base, helpful-online,
  helpful-rejection-sampled, harmless-base), converted by ``alignkit convert --from
  hh_rlhf --on-error skip``;
- the Vicuna-bench GPT-4 pairwise reviews, paired by alignkit's own recipe engine
  (``vicuna_reviews`` input, ``best_vs_worst`` pairs: the higher score chosen, ties dropped).

and, for comparison, one SFT conversation per pair (the history and the chosen
response). With Qwen3's tokenizer (a copy of ``tokenizers/qwen3`` with its
``tokenizer.json`` unpacked) and template ``qwen3``, one thread each
(``RAYON_NUM_THREADS=1``), each phase in its own child process, it times:

1. raw encode (preference texts): ``Tokenizer.encode_ordinary`` over every history turn and
   both responses of every pair, each text once (the floor);
2. the preference pipeline alone (``tokenize_files`` in process, tokenizer and libraries
   loaded before the clock starts), by the fast chunk path (:mod:`alignkit.pref_chunk`) and
   by the general path (the fast path switched off in that child only), and by the fast path
   with ``--layout reward`` (whole sequences: the prompt joined to each response);
3. raw encode (SFT texts) and the SFT pipeline alone on the SFT conversations.

Ratios are throughputs (tokens out per CPU second) against the raw encode of the
same texts, read from one run (``--repeat N``: the fastest of N alternating rounds).

Usage (run it against the compiled build, from outside the repository)::

    python benchmarks/bench_tokenize_pref.py [--data ../shared/data] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HH_SUBSETS = ("helpful-base", "helpful-online", "helpful-rejection-sampled", "harmless-base")


def _jsonl(path: Path) -> list[dict[str, object]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def build_pairs(data: Path, work: Path) -> Path:
    """HH-RLHF test pairs (alignkit convert) + Vicuna-bench review pairs (recipe engine)."""
    from alignkit.recipes import parse_recipe, run_recipe

    hh = work / "hh.jsonl"
    inputs = [str(data / "alignment/preference/hh-rlhf" / s / "test.jsonl.gz") for s in HH_SUBSETS]
    subprocess.run([sys.executable, "-m", "alignkit", "convert", "--from", "hh_rlhf", "--on-error", "skip",
                    "--max-errors", "1", "-o", str(hh), *inputs],
                   check=True, capture_output=True, cwd=work)
    folder = data / "alignment/preference/vicuna-bench-gpt4-reviews"
    recipe = parse_recipe(f'''name = "vicuna"
kind = "preference"
seed = 0
[[inputs]]
path = {json.dumps(folder.as_posix())}
source = "vicuna-bench"
format = "vicuna_reviews"
[[steps]]
type = "pairs"
strategy = "best_vs_worst"
''')
    vicuna = [r.model_dump_json(exclude_defaults=True) + "\n" for r in run_recipe(recipe).records]
    src = work / "pairs.jsonl"
    src.write_text(hh.read_text(encoding="utf-8") + "".join(vicuna), encoding="utf-8")
    return src


def build_sft(pairs: Path, work: Path) -> Path:
    """One SFT conversation per pair: the history followed by the chosen response."""
    out = []
    for row in _jsonl(pairs):
        chosen = row["response_a"] if row["chosen"] == "a" else row["response_b"]
        turns = [*row["history"], {"role": "assistant", "content": chosen}]  # type: ignore[misc]
        out.append(json.dumps({"turns": turns}) + "\n")
    src = work / "sft.jsonl"
    src.write_text("".join(out), encoding="utf-8")
    return src


def _texts(src: Path) -> list[str]:
    texts: list[str] = []
    for row in _jsonl(src):
        if "turns" in row:
            texts.extend(str(t["content"]) for t in row["turns"])  # type: ignore[attr-defined]
        else:
            texts.extend(str(t["content"]) for t in row["history"])  # type: ignore[attr-defined]
            texts.extend([str(row["response_a"]), str(row["response_b"])])
    return texts


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_raw(src: Path, tok_dir: Path) -> dict[str, object]:
    from alignkit.bpe.loaders import load_tokenizer

    tok = load_tokenizer(str(tok_dir))
    texts = _texts(src)
    start, cpu = time.perf_counter(), time.process_time()
    n = sum(len(tok.encode_ordinary(t)) for t in texts)
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu, "tokens": n,
            "peak_mib": _peak_mib()}


def phase_inproc(src: Path, tok_dir: Path, out: Path, path: str) -> dict[str, object]:
    """The pipeline's own work; ``path`` ``general`` switches the preference fast path off,
    ``reward`` writes the reward layout."""
    import numpy  # noqa: F401
    import pyarrow  # noqa: F401
    import tqdm  # noqa: F401

    import alignkit.io.reader  # noqa: F401  (pydantic models)
    from alignkit.pipeline import tokenize_files
    from alignkit.worker import TokenizeConfig, init_worker

    if path == "general":
        try:
            import alignkit.pref_chunk as fast
        except ImportError:
            pass
        else:
            fast.pref_plan = lambda encoder, kind: None
    config = TokenizeConfig(tokenizer=str(tok_dir), template="qwen3", max_seq_len=0,
                            layout="reward" if path == "reward" else "dpo")
    init_worker(config).describe_tokenizer()  # the content hash is cached on the tokenizer
    start, cpu = time.perf_counter(), time.process_time()
    report = tokenize_files([src], out, config)
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
            "tokens": report.stats.total_tokens, "written": report.stats.written, "peak_mib": _peak_mib()}


def _child(phase: str, *args: str) -> dict[str, object]:
    env = dict(os.environ, RAYON_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, __file__, "--phase", phase, *args], env=env,
                          check=True, capture_output=True, text=True)
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _rate(r: dict[str, object], key: str) -> float:
    return float(str(r["tokens"])) / float(str(r[key]))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the fastest of each phase by CPU")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.phase:
        a = ns.args
        if ns.phase == "raw":
            print(json.dumps(phase_raw(Path(a[0]), Path(a[1]))))
        else:
            print(json.dumps(phase_inproc(Path(a[0]), Path(a[1]), Path(a[2]), a[3])))
        return
    import alignkit

    data = Path(ns.data).resolve()
    work = Path(tempfile.mkdtemp(prefix="alignkit-bench-pref-"))
    try:
        tok_dir = work / "qwen3"
        shutil.copytree(data / "tokenizers/qwen3", tok_dir)
        with gzip.open(tok_dir / "tokenizer.json.gz") as fin, open(tok_dir / "tokenizer.json", "wb") as fout:
            shutil.copyfileobj(fin, fout)
        (tok_dir / "tokenizer.json.gz").unlink()
        pairs = build_pairs(data, work)
        sft = build_sft(pairs, work)
        n_pairs = sum(1 for _ in open(pairs, encoding="utf-8"))
        print(f"alignkit {alignkit.__version__}, compiled: {alignkit.COMPILED}; python"
              f" {platform.python_version()}; {platform.machine()} {os.cpu_count()} cpus; {n_pairs} pairs"
              f" ({pairs.stat().st_size / 1e6:.1f} MB), {n_pairs} SFT conversations"
              f" ({sft.stat().st_size / 1e6:.1f} MB)", flush=True)
        print(f"load average at the start: {os.getloadavg()}", flush=True)
        names = ("raw_pref", "fast", "general", "reward", "raw_sft", "sft")
        runs: dict[str, list[dict[str, object]]] = {k: [] for k in names}
        for k in range(max(1, ns.repeat)):
            runs["raw_pref"].append(_child("raw", str(pairs), str(tok_dir)))
            for path in ("fast", "general", "reward"):
                shutil.rmtree(work / path, ignore_errors=True)
                runs[path].append(_child("inproc", str(pairs), str(tok_dir), str(work / path), path))
            runs["raw_sft"].append(_child("raw", str(sft), str(tok_dir)))
            shutil.rmtree(work / "sft_out", ignore_errors=True)
            runs["sft"].append(_child("inproc", str(sft), str(tok_dir), str(work / "sft_out"), "fast"))
            print(f"round {k + 1}: CPU s " + ", ".join(f"{n} {float(str(runs[n][-1]['cpu'])):.3f}" for n in names)
                  + f"; load {os.getloadavg()[0]:.2f}", flush=True)
        best = {n: min(runs[n], key=lambda r: float(str(r["cpu"]))) for n in names}
        same = (work / "fast/manifest.json").read_bytes() == (work / "general/manifest.json").read_bytes()
        rows = [
            ("raw encode_ordinary, preference texts (floor)", best["raw_pref"]),
            ("preference pipeline alone, fast path", best["fast"]),
            ("preference pipeline alone, general path", best["general"]),
            ("preference pipeline alone, fast path, --layout reward", best["reward"]),
            ("raw encode_ordinary, SFT texts (floor)", best["raw_sft"]),
            ("SFT pipeline alone (history + chosen)", best["sft"]),
        ]
        print("| path | tokens | wall s | CPU s | tokens/CPU-s | peak RSS MiB |")
        print("|---|---|---|---|---|---|")
        for name, r in rows:
            print(f"| {name} | {r['tokens']} | {float(str(r['seconds'])):.3f} | {float(str(r['cpu'])):.3f} |"
                  f" {_rate(r, 'cpu'):,.0f} | {float(str(r['peak_mib'])):.0f} |")
        raw_p, raw_s = _rate(best["raw_pref"], "cpu"), _rate(best["raw_sft"], "cpu")
        print(f"\nby CPU time: preference fast / raw = {_rate(best['fast'], 'cpu') / raw_p:.2f};"
              f" preference general / raw = {_rate(best['general'], 'cpu') / raw_p:.2f};"
              f" SFT fast / raw (SFT texts) = {_rate(best['sft'], 'cpu') / raw_s:.2f};"
              f" fast / general = {float(str(best['general']['cpu'])) / float(str(best['fast']['cpu'])):.2f}x;"
              f" reward layout / dpo layout CPU = {float(str(best['reward']['cpu'])) / float(str(best['fast']['cpu'])):.3f}")
        print(f"fast and general manifests identical: {same}; pairs written:"
              f" {best['fast']['written']} / {best['general']['written']}")
        print(f"load average at the end: {os.getloadavg()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
