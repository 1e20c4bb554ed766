"""Benchmark: a synthetic 100k-record pool through the LIMA recipe, and near-dedup scaling.

The pool repeats and perturbs the real SFT data of the shared folder (GSM8K,
Super-NI, self-instruct, FastChat dummy, HH-RLHF chosen, LIMA — read at run
time, never stored): copy 0 of a record is verbatim, later copies either repeat
it exactly (every 10th), or lightly edit (2% of words: near duplicates) or
heavily edit (40% of words: new records) its response and tag its prompt.

Each measurement runs in a fresh subprocess so its peak RSS is its own.

    python benchmarks/bench_recipe.py                 # full run + scaling table
    python benchmarks/bench_recipe.py --sizes 5000    # a quick one
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "alignment"
INPUTS = [
    ("sft/gsm8k/train.jsonl", "auto"), ("sft/super_ni/super_ni_data_1000.jsonl", "auto"),
    ("sft/self-instruct/seed_tasks.jsonl", "auto"), ("sft/fastchat/dummy_conversation.json", "auto"),
    ("preference/hh-rlhf/helpful-base/test.jsonl.gz", "hh_rlhf"), ("sft/lima/lima_train.jsonl", "auto"),
]


def build_pool(n: int, out: Path) -> None:
    from alignkit.io.adapters import ConvertOptions, convert_file
    from alignkit.records import ChatExample, PreferenceExample

    base: list[dict[str, object]] = []
    for rel, fmt in INPUTS:
        for res in convert_file(SHARED / rel, fmt, ConvertOptions()):
            rec = res.record
            if isinstance(rec, PreferenceExample):
                rec = ChatExample(turns=rec.chosen_turns())
            if rec is not None:
                base.append({"turns": [t.model_dump(exclude_none=True) for t in rec.turns]})
    rng = random.Random(0)
    vocab = sorted({w for r in base[:3000] for t in r["turns"] for w in str(t["content"]).split()})  # type: ignore[attr-defined]
    with out.open("w", encoding="utf-8") as f:
        for i in range(n):
            copy, rec = divmod(i, len(base))
            turns = [dict(t) for t in base[rec]["turns"]]  # type: ignore[attr-defined]
            if copy and i % 10:
                rate = 0.02 if i % 3 == 0 else 0.4
                ws = str(turns[-1]["content"]).split()
                for j in range(len(ws)):
                    if rng.random() < rate:
                        ws[j] = rng.choice(vocab)
                turns[-1]["content"] = " ".join(ws) or "ok"
                turns[0]["content"] = f"{turns[0]['content']} (variant {copy})"
            f.write(json.dumps({"turns": turns}, ensure_ascii=False) + "\n")


def measure(mode: str, n: int) -> dict[str, object]:
    """Build an ``n``-record pool, then time ``near`` (the near-dedup step alone) or
    ``full`` (the whole LIMA recipe, reading included)."""
    from alignkit.recipes import load_recipe, run_recipe
    from alignkit.recipes.config import InputSpec, NearDedupStep
    from alignkit.recipes.dedup import near_dedup
    from alignkit.recipes.items import Context
    from alignkit.recipes.sources import read_input

    tmp = Path(tempfile.mkdtemp())
    pool = tmp / "pool.jsonl"
    build_pool(n, pool)
    spec = InputSpec(path=str(pool), source="pool", format="alignkit")
    if mode == "near":
        items, _ = read_input(spec, tmp, "sft")
        step = NearDedupStep(type="near_dedup")
        t0, c0 = time.perf_counter(), time.process_time()
        kept, drops, stats = near_dedup(items, step, Context(seed=0))
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
        extra: dict[str, object] = {"kept": len(kept), **stats}
    else:
        recipe = load_recipe(REPO / "recipes" / "lima.toml").model_copy(update={"inputs": [spec]})
        t0, c0 = time.perf_counter(), time.process_time()
        result = run_recipe(recipe, base_dir=tmp)
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
        extra = {"selected": len(result.records),
                 "steps": {s["type"]: s["out"] for s in result.report.data["steps"]}}
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # CPU seconds are the figure to compare: on a shared machine wall time includes waiting.
    return {"mode": mode, "n": n, "wall_s": round(secs, 2), "cpu_s": round(cpu, 2),
            "records_per_cpu_s": round(n / cpu),
            "peak_rss_mib": round(peak_mib), **extra}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[25_000, 50_000, 100_000])
    ap.add_argument("--one", nargs=2, metavar=("MODE", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]))))
        return
    if not SHARED.exists():
        sys.exit(f"needs the shared data folder at {SHARED}")
    rows = []
    for mode, sizes in (("near", args.sizes), ("full", args.sizes[-1:])):
        for n in sizes:
            out = subprocess.run([sys.executable, __file__, "--one", mode, str(n)], check=True,
                                 capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
