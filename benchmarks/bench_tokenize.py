"""Benchmark: end-to-end ``alignkit tokenize`` vs raw encode vs the transformers path.

Builds 10k+ real SFT conversations at run time from the shared data folder
(GSM8K train + test, Super-NI, FastChat, and the chosen dialogues of HH-RLHF
helpful-base; nothing is copied into the repository), then times, on the same
conversations and with one thread each (``RAYON_NUM_THREADS=1``):

1. raw encode: ``Tokenizer.encode_ordinary`` over every turn's text (the floor);
2. ``alignkit tokenize`` end to end (a fresh process: read, validate, render,
   encode, truncate, write Arrow + manifest), ``--num-proc 1`` and ``2``; next to the
   ``--num-proc 2`` speedup, the machine's ceiling measured in the same rounds: two raw
   encode processes started together vs one (what any 2-process split could gain here);
3. transformers: ``apply_chat_template(..., tokenize=True, return_dict=True)``
   plus assistant masks by re-rendering each prefix (the usual recipe), with
   Qwen3's fast tokenizer (``tokenizer.json``).

Each phase runs in its own child process, which reports its own peak RSS
(``ru_maxrss``, children included for ``--num-proc 2``).

alignkit's tokenizer cache (``alignkit.bpe.loaders._cache``) lives in the run's temporary
folder: the first startup measured fills it (cold, as a tokenizer's first run ever), every
later phase finds it (warm, as every later run). Both startups are printed.

``--large`` makes the input big enough that startup (interpreter, imports, tokenizer
load: about 0.3 s, serial) does not dominate the ``--num-proc`` comparison. It adds,
all read at run time from the shared folders and never copied into the repository:
the chosen AND rejected transcripts of the four HH-RLHF test splits, LIMA's training
conversations (non-commercial licence: read, never stored), the self-instruct seed and
user-oriented tasks (instruction + input as the user turn, output as the assistant's),
and ``--novel-mb`` MB of conversations cut from the novels in ``../shared/bench``
(a paragraph as the user turn, the next paragraphs, up to ~4 KB, as the answer).
The summary line then also gives the CPU of the ``--num-proc 2`` run's parent and
workers (``RUSAGE_CHILDREN`` of the CLI process) next to the ``--num-proc 1`` run's.

Usage (run it against the compiled build)::

    python benchmarks/bench_tokenize.py [--data ../shared/data] [--limit-hf N]
    python benchmarks/bench_tokenize.py --large --novel-mb 32 --limit-hf -1 --repeat 3
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


def _jsonl(path: Path) -> list[dict[str, object]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
        return [json.loads(line) for line in handle if line.strip()]


def _hh_turns(dialogue: str) -> list[dict[str, str]]:
    turns: list[dict[str, str]] = []
    for block in dialogue.split("\n\nHuman: ")[1:]:
        parts = block.split("\n\nAssistant: ")
        turns.append({"role": "user", "content": parts[0].strip()})
        for answer in parts[1:]:
            turns.append({"role": "assistant", "content": answer.strip()})
    return turns


def build_conversations(data: Path, extra: list[list[dict[str, str]]] | None = None) -> list[dict[str, object]]:
    """Real conversations as alignkit SFT records (invalid ones left out); ``extra`` appended."""
    from alignkit.records import ChatExample

    raw: list[list[dict[str, str]]] = []
    for name in ("train.jsonl", "test.jsonl"):
        for row in _jsonl(data / "alignment/sft/gsm8k" / name):
            raw.append([{"role": "user", "content": str(row["question"])},
                        {"role": "assistant", "content": str(row["answer"])}])
    for row in _jsonl(data / "alignment/sft/super_ni/super_ni_data_1000.jsonl"):
        raw.append([{"role": str(m["role"]), "content": str(m["content"])} for m in row["messages"]])  # type: ignore[attr-defined]
    roles = {"human": "user", "gpt": "assistant"}
    for row in json.loads((data / "alignment/sft/fastchat/dummy_conversation.json").read_text()):
        raw.append([{"role": roles[m["from"]], "content": m["value"]} for m in row["conversations"]])
    for row in _jsonl(data / "alignment/preference/hh-rlhf/helpful-base/test.jsonl.gz"):
        raw.append(_hh_turns(str(row["chosen"])))
    raw.extend(extra or [])
    out = []
    for turns in raw:
        try:
            ChatExample.model_validate({"turns": turns})
        except ValueError:
            continue
        if turns[-1]["role"] == "assistant":
            out.append({"turns": turns})
    return out


def _self_instruct(row: dict[str, object]) -> list[list[dict[str, str]]]:
    out = []
    for inst in row["instances"]:  # type: ignore[attr-defined]
        prompt = str(row["instruction"]) + (f"\n\n{inst['input']}" if inst["input"] else "")
        out.append([{"role": "user", "content": prompt}, {"role": "assistant", "content": str(inst["output"])}])
    return out


def _novel_conversations(bench: Path, mb: float) -> list[list[dict[str, str]]]:
    """About ``mb`` MB of two-turn conversations cut from the English novels, in order."""
    out: list[list[dict[str, str]]] = []
    if mb <= 0:
        return out
    limit, size = int(mb * 1e6), 0
    with gzip.open(bench / "en_novels.txt.gz", "rt", encoding="utf-8") as f:
        paragraphs = (p.strip() for p in f.read(limit * 2).split("\n\n"))
        question: str | None = None
        answer: list[str] = []
        for para in paragraphs:
            if size >= limit:
                break
            if not para or "<|endoftext|>" in para:
                continue
            if question is None:
                question = para
            elif sum(map(len, answer)) < 4000:
                answer.append(para)
            else:
                out.append([{"role": "user", "content": question},
                            {"role": "assistant", "content": "\n\n".join(answer)}])
                size += len(question) + sum(map(len, answer))
                question, answer = para, []
    return out


def build_large_extra(data: Path, bench: Path, novel_mb: float) -> list[list[dict[str, str]]]:
    """The ``--large`` additions (see the module docstring), as lists of turns."""
    raw: list[list[dict[str, str]]] = []
    hh = data / "alignment/preference/hh-rlhf"
    for split in ("harmless-base", "helpful-base", "helpful-online", "helpful-rejection-sampled"):
        for row in _jsonl(hh / split / "test.jsonl.gz"):
            raw.append(_hh_turns(str(row["chosen"])))
            raw.append(_hh_turns(str(row["rejected"])))
    for row in _jsonl(data / "alignment/sft/lima/lima_train.jsonl"):
        conv = [str(c) for c in row["conversations"]]  # type: ignore[attr-defined]
        raw.append([{"role": "user" if k % 2 == 0 else "assistant", "content": c} for k, c in enumerate(conv)])
    for name in ("seed_tasks.jsonl", "user_oriented_instructions.jsonl"):
        for row in _jsonl(data / "alignment/sft/self-instruct" / name):
            raw.extend(_self_instruct(row))
    raw.extend(_novel_conversations(bench, novel_mb))
    return raw


def _peak_mib(children: bool = False) -> float:
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


def phase_raw(src: Path, tok_dir: Path) -> dict[str, object]:
    from alignkit.bpe.loaders import load_tokenizer

    tok = load_tokenizer(str(tok_dir))
    texts = [t["content"] for row in _jsonl(src) for t in row["turns"]]  # type: ignore[union-attr,index]
    start, cpu = time.perf_counter(), time.process_time()
    n = sum(len(tok.encode_ordinary(t)) for t in texts)
    secs = time.perf_counter() - start
    return {"seconds": secs, "cpu": time.process_time() - cpu, "tokens": n, "peak_mib": _peak_mib()}


#: ``python -m alignkit`` that also writes its own CPU and its workers' to stderr, last line,
#: then ends as the command line does (``cli.quick_exit``: no interpreter teardown).
_CLI = ("import json, resource, sys\nfrom alignkit.cli import main, quick_exit\ncode = main(sys.argv[1:])\n"
        "me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))\n"
        "print(json.dumps([me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime]), file=sys.stderr)\n"
        "quick_exit(code) if code == 0 else sys.exit(code)\n")


def phase_alignkit(src: Path, tok_dir: Path, out: Path, num_proc: int) -> dict[str, object]:
    cmd = [sys.executable, "-c", _CLI, "tokenize", str(src), "-o", str(out),
           "--tokenizer", str(tok_dir), "--template", "qwen3", "--max-seq-len", "0",
           "--num-proc", str(num_proc), "--report", "json"]
    start = time.perf_counter()
    # run outside the repository: `-m alignkit` from its root would import the source tree
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=out.parent)
    secs = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the CLI and its workers
    parent_cpu, workers_cpu = json.loads(proc.stderr.strip().splitlines()[-1])
    report = json.loads(proc.stdout)
    return {"seconds": secs, "cpu": usage.ru_utime + usage.ru_stime, "tokens": report["tokens"]["total"],
            "written": report["counts"]["written"], "peak_mib": _peak_mib(children=True),
            "parent_cpu": parent_cpu, "workers_cpu": workers_cpu}


def phase_inproc(src: Path, tok_dir: Path, out: Path) -> dict[str, object]:
    """The pipeline's own work: tokenizer, template and libraries loaded before the clock starts."""
    import numpy  # noqa: F401
    import pyarrow  # noqa: F401
    import tqdm  # noqa: F401

    import alignkit.io.reader  # noqa: F401  (pydantic models)
    from alignkit.pipeline import tokenize_files
    from alignkit.worker import TokenizeConfig, init_worker

    config = TokenizeConfig(tokenizer=str(tok_dir), template="qwen3", max_seq_len=0)
    init_worker(config).describe_tokenizer()  # the content hash is cached on the tokenizer
    start, cpu = time.perf_counter(), time.process_time()
    report = tokenize_files([src], out, config)
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
            "tokens": report.stats.total_tokens, "peak_mib": _peak_mib()}


def phase_load(tok_dir: Path) -> dict[str, object]:
    """Startup cost alone: import alignkit and load the tokenizer and template (subtracted)."""
    start = time.perf_counter()
    from alignkit.encoder import build_encoder
    from alignkit.worker import TokenizeConfig

    build_encoder(TokenizeConfig(tokenizer=str(tok_dir), template="qwen3"))
    usage = resource.getrusage(resource.RUSAGE_SELF)  # interpreter start included
    return {"seconds": time.perf_counter() - start, "cpu": usage.ru_utime + usage.ru_stime,
            "peak_mib": _peak_mib()}


def phase_hf(src: Path, tok_dir: Path, limit: int) -> dict[str, object]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tok_dir))
    rows = _jsonl(src)
    rows = rows[:limit] if limit > 0 else rows
    start, cpu = time.perf_counter(), time.process_time()
    n = 0
    for row in rows:
        msgs = row["turns"]
        full = tok.apply_chat_template(msgs, tokenize=True, return_dict=True)
        ids = full["input_ids"]
        labels = [-100] * len(ids)
        for i, m in enumerate(msgs):  # type: ignore[arg-type]
            if m["role"] != "assistant":
                continue
            lo = len(tok.apply_chat_template(msgs[:i], tokenize=True, add_generation_prompt=True,  # type: ignore[index]
                                             return_dict=True)["input_ids"])
            hi = len(tok.apply_chat_template(msgs[: i + 1], tokenize=True, return_dict=True)["input_ids"])  # type: ignore[index]
            labels[lo:hi] = ids[lo:hi]
        n += len(ids)
    secs = time.perf_counter() - start
    return {"seconds": secs, "cpu": time.process_time() - cpu, "tokens": n, "rows": len(rows),
            "peak_mib": _peak_mib()}


_ENV = dict(os.environ, RAYON_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")


def _child(phase: str, *args: str) -> dict[str, object]:
    proc = subprocess.run([sys.executable, __file__, "--phase", phase, *args], env=_ENV,
                          check=True, capture_output=True, text=True)
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def co_run(src: Path, tok_dir: Path) -> dict[str, object]:
    """The machine's ceiling: two raw-encode processes started together (each encodes all).

    ``seconds`` is the slower one's encode time; two of them together did twice the work,
    so ``2 * single / seconds`` is the most any 2-process split of that work could gain here.
    """
    cmd = [sys.executable, __file__, "--phase", "raw", str(src), str(tok_dir)]
    procs = [subprocess.Popen(cmd, env=_ENV, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError("a co-run raw encode process failed")
    return {"seconds": max(float(o["seconds"]) for o in outs), "cpu": sum(float(o["cpu"]) for o in outs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--limit-hf", type=int, default=0,
                        help="conversations for the (slow) transformers path; 0: all; -1: skip it")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of the raw encode and alignkit phases (alternating --num-proc 1"
                        " and 2); the fastest of each by wall time is reported")
    parser.add_argument("--large", action="store_true",
                        help="add HH-RLHF chosen+rejected (4 test splits), LIMA, self-instruct and"
                        " --novel-mb MB of novel conversations (read at run time, never stored)")
    parser.add_argument("--novel-mb", type=float, default=16,
                        help="MB of conversations cut from ../shared/bench/en_novels with --large")
    parser.add_argument("--bench", default=str(REPO.parent / "shared" / "bench"))
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.phase:
        a = ns.args
        funcs = {
            "raw": lambda: phase_raw(Path(a[0]), Path(a[1])),
            "load": lambda: phase_load(Path(a[0])),
            "inproc": lambda: phase_inproc(Path(a[0]), Path(a[1]), Path(a[2])),
            "alignkit": lambda: phase_alignkit(Path(a[0]), Path(a[1]), Path(a[2]), int(a[3])),
            "hf": lambda: phase_hf(Path(a[0]), Path(a[1]), int(a[2])),
        }
        print(json.dumps(funcs[ns.phase]()))
        return
    import alignkit

    data = Path(ns.data)
    work = Path(tempfile.mkdtemp(prefix="alignkit-bench-"))
    _ENV["ALIGNKIT_CACHE_DIR"] = str(work / "cache")  # this run's own tokenizer cache, empty
    try:
        tok_dir = work / "qwen3"
        shutil.copytree(data / "tokenizers/qwen3", tok_dir)
        with gzip.open(tok_dir / "tokenizer.json.gz") as fin, open(tok_dir / "tokenizer.json", "wb") as fout:
            shutil.copyfileobj(fin, fout)
        (tok_dir / "tokenizer.json.gz").unlink()
        extra = build_large_extra(data, Path(ns.bench), ns.novel_mb) if ns.large else None
        convs = build_conversations(data, extra)
        src = work / "conversations.jsonl"
        src.write_text("".join(json.dumps(c) + "\n" for c in convs))
        print(f"alignkit {alignkit.__version__}, compiled: {alignkit.COMPILED}; python {platform.python_version()};"
              f" {platform.machine()} {os.cpu_count()} cpus; {len(convs)} conversations,"
              f" {src.stat().st_size / 1e6:.1f} MB", flush=True)
        print(f"load average at the start: {os.getloadavg()}", flush=True)
        cold = _child("load", str(tok_dir))  # fills the tokenizer cache
        load = _child("load", str(tok_dir))
        runs: dict[str, list[dict[str, object]]] = {"raw": [], "1": [], "2": [], "in": [], "co": []}
        for k in range(max(1, ns.repeat)):
            # the floor is timed in every round too and picked by the same rule (fastest)
            runs["raw"].append(_child("raw", str(src), str(tok_dir)))
            runs["co"].append(co_run(src, tok_dir))
            for procs in ("1", "2"):
                shutil.rmtree(work / f"o{procs}", ignore_errors=True)
                runs[procs].append(_child("alignkit", str(src), str(tok_dir), str(work / f"o{procs}"), procs))
            shutil.rmtree(work / "o3", ignore_errors=True)
            runs["in"].append(_child("inproc", str(src), str(tok_dir), str(work / "o3")))
            print(f"round {k + 1}: raw encode {float(runs['raw'][-1]['seconds']):.2f} s /"
                  f" CPU {float(runs['raw'][-1]['cpu']):.2f} s;"
                  f" wall 1 proc {float(runs['1'][-1]['seconds']):.2f} s,"
                  f" 2 procs {float(runs['2'][-1]['seconds']):.2f} s, pipeline alone"
                  f" {float(runs['in'][-1]['seconds']):.2f} s / CPU {float(runs['in'][-1]['cpu']):.2f} s;"
                  f" two raw encodes together {float(runs['co'][-1]['seconds']):.2f} s;"
                  f" load {os.getloadavg()[0]:.2f}", flush=True)
        fastest = lambda rs: min(rs, key=lambda r: float(r["seconds"]))  # noqa: E731
        raw, ak1, ak2, net1 = fastest(runs["raw"]), fastest(runs["1"]), fastest(runs["2"]), fastest(runs["in"])
        co = fastest(runs["co"])
        hf = _child("hf", str(src), str(tok_dir), str(ns.limit_hf)) if ns.limit_hf >= 0 else raw
        same = (work / "o1/manifest.json").read_bytes() == (work / "o2/manifest.json").read_bytes()
        rate = lambda r, key: float(r["tokens"]) / float(r[key])  # noqa: E731
        hf_name = f"transformers apply_chat_template + masks ({hf['rows']} convs)" if "rows" in hf else ""
        rows = [
            ("raw encode_ordinary (floor)", raw),
            ("alignkit tokenize --num-proc 1 (whole run, startup included)", ak1),
            ("alignkit pipeline alone (in process, after startup)", net1),
            ("alignkit tokenize --num-proc 2 (whole run, startup included)", ak2),
        ]
        if hf_name:
            rows.append((hf_name, hf))
        print("| path | tokens | wall s | tokens/s (wall) | CPU s | tokens/CPU-s | peak RSS MiB |")
        print("|---|---|---|---|---|---|---|")
        for name, r in rows:
            peak = r.get("peak_mib")
            print(f"| {name} | {r['tokens']} | {float(r['seconds']):.2f} | {rate(r, 'seconds'):,.0f} |"
                  f" {float(r['cpu']):.2f} | {rate(r, 'cpu'):,.0f} |"
                  f" {'' if peak is None else f'{float(peak):.0f}'} |")
        print(f"\nstartup (interpreter, imports, tokenizer + template load): {float(load['seconds']):.3f} s"
              f" wall, {float(load['cpu']):.3f} s CPU; a tokenizer's first run (cache cold):"
              f" {float(cold['seconds']):.3f} s wall, {float(cold['cpu']):.3f} s CPU")
        for key, what in (("cpu", "CPU time"), ("seconds", "wall time")):
            vs_hf = (f"; pipeline alone / transformers = {rate(net1, key) / rate(hf, key):.1f}x;"
                     f" whole run / transformers = {rate(ak1, key) / rate(hf, key):.1f}x") if hf_name else ""
            print(f"by {what}: whole run (--num-proc 1) / raw encode = {rate(ak1, key) / rate(raw, key):.2f};"
                  f" pipeline alone / raw encode = {rate(net1, key) / rate(raw, key):.2f}{vs_hf}")
        print(f"--num-proc 2 vs 1: wall {float(ak1['seconds']) / float(ak2['seconds']):.2f}x,"
              f" CPU {float(ak2['cpu']) / float(ak1['cpu']):.2f}x of 1; identical manifests: {same};"
              f" the machine's ceiling in this run (two raw encodes started together vs one):"
              f" {2 * float(raw['seconds']) / float(co['seconds']):.2f}x, so --num-proc 2 gets"
              f" {float(ak1['seconds']) / float(ak2['seconds']) / (2 * float(raw['seconds']) / float(co['seconds'])):.0%}"
              " of what two processes can gain here")
        print(f"CPU of the fastest runs: --num-proc 1 {float(ak1['cpu']):.2f} s; --num-proc 2: CLI process"
              f" {float(ak2['parent_cpu']):.2f} s + workers {float(ak2['workers_cpu']):.2f} s"
              f" (startup {float(str(load['cpu'])):.2f} s of each)")
        print(f"load average at the end: {os.getloadavg()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
