"""Long-run benchmark: a megabyte of one character, alignkit against tiktoken.

Such a text is one pre-tokenized piece (or a few) far over ``_HEAP_MIN`` bytes, so it
times ``BPECore._merge_long`` (the heap merge), not the piece cache. For each vocabulary
(GPT-2/r50k, cl100k, o200k, from the shared rank files) and each character (``a``,
space, ``1``, newline), one round encodes the run with alignkit then tiktoken
(``encode_ordinary``, CPU time of this process, the two alternated); the table gives
the median over the rounds and the ratio alignkit / tiktoken. tiktoken 0.14 panics on
some of them (o200k on a megabyte of spaces: a stack overflow in its regex): the row
says so. The ids are compared wherever tiktoken gives any (the run fails otherwise).

    python benchmarks/bench_long_runs.py                          # 3 rounds, table
    python benchmarks/bench_long_runs.py --rounds 1 --json a.jsonl   # append the times
    python benchmarks/bench_long_runs.py --report before.jsonl after.jsonl   # side by side
    python benchmarks/bench_long_runs.py --novels-mb 8            # ordinary text (cl100k)

``--json`` appends one line per round to a file, so that runs of two builds (two venvs)
can be alternated and then put side by side with ``--report`` (the medians over all the
rounds in each file). ``--novels-mb N`` times ``encode_ordinary`` of the first N MB of
``../shared/bench/en_novels.txt.gz`` with cl100k instead (a new tokenizer, then the
same again: cold and warm piece cache), to check that ordinary text is not slower.

Run it with the COMPILED build (see ``benchmarks/README.md``); it prints which it imported.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

os.environ.setdefault("RUST_BACKTRACE", "0")  # tiktoken panics on some runs: the message, not a backtrace

import tiktoken
from tiktoken.load import load_tiktoken_bpe

import alignkit
from alignkit.bpe import load_tokenizer
from alignkit.bpe.loaders.tiktoken_file import ENCODINGS

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
VOCABS = {"gpt2": "r50k_base", "cl100k": "cl100k_base", "o200k": "o200k_base"}
UNITS = {"a": "a", "space": " ", "1": "1", "newline": "\n"}
SIZE = 1 << 20


def _rank_file(data_dir: Path, name: str) -> Path:
    return data_dir / "tokenizers" / "tiktoken" / f"{name}.tiktoken"


def _tiktoken(data_dir: Path, name: str) -> Any:
    enc = ENCODINGS[name]
    ranks = load_tiktoken_bpe(str(_rank_file(data_dir, name)))
    return tiktoken.Encoding(name, pat_str=enc.pattern, mergeable_ranks=ranks, special_tokens=enc.specials)


def _cpu(fn: Any, text: str) -> tuple[float, Any]:
    t = time.process_time()
    ids = fn(text)
    return time.process_time() - t, ids


def run_round(data_dir: Path) -> dict[str, dict[str, float | None]]:
    """One round: every vocabulary and character, alignkit then tiktoken."""
    out: dict[str, dict[str, float | None]] = {}
    for vocab, name in VOCABS.items():
        ours = load_tokenizer(_rank_file(data_dir, name))
        ref = _tiktoken(data_dir, name)
        for unit_name, unit in UNITS.items():
            text = unit * SIZE
            t_ours, got = _cpu(ours.encode_ordinary, text)
            try:
                t_ref, want = _cpu(ref.encode_ordinary, text)
            except BaseException as exc:  # pyo3's PanicException derives from BaseException
                if isinstance(exc, KeyboardInterrupt):
                    raise
                t_ref, want = None, None
            if want is not None and list(want) != got:
                sys.exit(f"{vocab} x {SIZE} {unit_name!r}: alignkit and tiktoken ids differ")
            out[f"{vocab}/{unit_name}"] = {"alignkit": t_ours, "tiktoken": t_ref}
    return out


def _medians(rounds: list[dict[str, dict[str, float | None]]]) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for case in rounds[0]:
        row: dict[str, float | None] = {}
        for side in ("alignkit", "tiktoken"):
            values = [r[case][side] for r in rounds]
            known = [v for v in values if v is not None]
            row[side] = median(known) if len(known) == len(values) else None
        out[case] = row
    return out


def _fmt(v: float | None) -> str:
    return "panics" if v is None else f"{v:.3f}"


def print_table(rounds: list[dict[str, dict[str, float | None]]]) -> None:
    print(f"| 1 MiB run | alignkit s | tiktoken s | alignkit / tiktoken |  (median of {len(rounds)}, CPU)")
    print("|---|---:|---:|---:|")
    for case, row in _medians(rounds).items():
        a, t = row["alignkit"], row["tiktoken"]
        ratio = "-" if a is None or t is None else f"{a / t:.2f}"
        print(f"| {case} | {_fmt(a)} | {_fmt(t)} | {ratio} |")


def _load(path: Path) -> list[dict[str, dict[str, float | None]]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def print_report(before_path: Path, after_path: Path) -> None:
    before, after = _load(before_path), _load(after_path)
    mb, ma = _medians(before), _medians(after)
    print(f"medians of {len(before)} (before) and {len(after)} (after) rounds, CPU seconds")
    print("| 1 MiB run | before | after | after / before | tiktoken | before / tiktoken | after / tiktoken |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for case in mb:
        b, a = mb[case]["alignkit"], ma[case]["alignkit"]
        ticks = [r[case]["tiktoken"] for r in before + after]
        known = [v for v in ticks if v is not None]
        t = median(known) if len(known) == len(ticks) else None
        assert a is not None and b is not None
        rb = "-" if t is None else f"{b / t:.2f}"
        ra = "-" if t is None else f"{a / t:.2f}"
        print(f"| {case} | {b:.3f} | {a:.3f} | {a / b:.2f} | {_fmt(t)} | {rb} | {ra} |")


def novels(bench_dir: Path, mb: int, data_dir: Path) -> None:
    with gzip.open(bench_dir / "en_novels.txt.gz", "rb") as f:
        text = f.read(mb * 1_000_000).decode("utf-8", "ignore")
    tok = load_tokenizer(_rank_file(data_dir, "cl100k_base"))
    cold, ids = _cpu(tok.encode_ordinary, text)
    warm, _ = _cpu(tok.encode_ordinary, text)
    print(json.dumps({"novels_mb": mb, "tokens": len(ids), "cold": round(cold, 4), "warm": round(warm, 4)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="append each round's times to this file")
    parser.add_argument("--report", type=Path, nargs=2, metavar=("BEFORE", "AFTER"))
    parser.add_argument("--novels-mb", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=SHARED / "data")
    parser.add_argument("--bench-dir", type=Path, default=SHARED / "bench")
    args = parser.parse_args()
    if args.report:
        print_report(*args.report)
        return
    core = sys.modules[type(load_tokenizer()._core).__module__]
    print(
        f"compiled={alignkit.COMPILED} core={core.__file__} python={platform.python_version()} "
        f"tiktoken={tiktoken.__version__ if hasattr(tiktoken, '__version__') else '?'}",
        file=sys.stderr,
    )
    if args.novels_mb:
        novels(args.bench_dir, args.novels_mb, args.data_dir)
        return
    rounds = []
    for _ in range(args.rounds):
        r = run_round(args.data_dir)
        rounds.append(r)
        if args.json:
            with args.json.open("a") as f:
                f.write(json.dumps(r) + "\n")
    print_table(rounds)


if __name__ == "__main__":
    main()
