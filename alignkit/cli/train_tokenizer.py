"""``alignkit train-tokenizer``: train a byte-level BPE tokenizer on text files.

Example::

    alignkit train-tokenizer corpus.txt --vocab-size 10000 \\
        --special-token '<|endoftext|>' -o my_tokenizer.json
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from alignkit.errors import UsageError


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "train-tokenizer",
        help="train a byte-level BPE tokenizer (CS336 algorithm) on UTF-8 text files",
        description=(
            "Train byte-level BPE on UTF-8 text files (.gz accepted). Special tokens split the text "
            "and get the first ids; then come the 256 bytes, then the merges. Ties go to the "
            "lexicographically greater pair, as in CS336."
        ),
    )
    p.add_argument("corpus", nargs="+", metavar="CORPUS", help="UTF-8 text file(s); no merge crosses files")
    p.add_argument("--vocab-size", type=int, required=True, metavar="N", help="final vocabulary size")
    p.add_argument(
        "--special-token",
        action="append",
        default=[],
        metavar="TOKEN",
        help="a special token (repeatable), e.g. '<|endoftext|>'; ids follow the given order",
    )
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="tokenizer file to write (.json or .json.gz)")
    p.add_argument("--num-proc", type=int, default=None, metavar="N", help="counting processes (default: all CPUs)")
    p.add_argument("--pattern", default="gpt2", metavar="NAME", help="split pattern: gpt2 (default), cl100k, o200k, ...")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(run=run)


class _Progress:
    """tqdm bars on stderr for the two stages (counting bytes, learning merges)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.stage = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            tqdm.monitor_interval = 0  # no monitor thread: counting workers are forked
            unit = "B" if stage == "count" else " merges"
            desc = "counting pre-tokens" if stage == "count" else "learning merges"
            self.bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=stage == "count", file=sys.stderr,
                            disable=None)  # no bar lines when stderr is not a terminal (CI logs)
            self.stage = stage
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run(args: argparse.Namespace) -> int:
    from alignkit.bpe.patterns import resolve_pattern
    from alignkit.bpe.tokenizer import Tokenizer
    from alignkit.bpe.train import train_bpe_detailed

    pattern = resolve_pattern(args.pattern, names_only=True)
    if args.num_proc is not None and args.num_proc < 1:
        raise UsageError(f"--num-proc must be at least 1, got {args.num_proc}")
    progress = _Progress(not args.no_progress)
    start = time.perf_counter()
    try:
        result = train_bpe_detailed(
            args.corpus,
            args.vocab_size,
            args.special_token,
            num_proc=args.num_proc,
            pattern=pattern,
            progress=progress,
        )
    finally:
        progress.close()
    tokenizer = Tokenizer(result.vocab, result.merges, result.special_tokens, pattern=pattern)
    tokenizer.save(args.output)
    seconds = time.perf_counter() - start
    print(
        f"trained {len(result.merges)} merges, vocabulary {len(result.vocab)} "
        f"({len(result.special_tokens)} special) from {result.corpus_bytes:,} bytes of input, "
        f"{result.distinct_pretokens:,} distinct pre-tokens in {seconds:.2f} s "
        f"(counting {result.count_seconds:.2f} s, merging {result.merge_seconds:.2f} s); wrote {args.output}"
    )
    if result.stopped_early:
        print(
            f"stopped early: no pair left after {len(result.merges)} of {result.requested_merges} merges; "
            "the vocabulary is smaller than --vocab-size (use a larger corpus or a smaller size)",
            file=sys.stderr,
        )
    return 0
