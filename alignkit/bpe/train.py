"""Train a byte-level BPE tokenizer (the CS336 algorithm, exactly).

``train_bpe(input_path, vocab_size, special_tokens)`` returns
``(vocab, merges)``:

- pre-tokenization with the GPT-2 split pattern; special tokens split the
  corpus (no merge crosses them) and are removed before pre-tokenization;
- the most frequent adjacent pair wins; ties go to the lexicographically
  greater pair ``(left_bytes, right_bytes)``;
- vocabulary ids: the special tokens first (0..k-1, in the given order), then
  the 256 single bytes in GPT-2's byte-to-unicode order (printable bytes
  first, as in CS336's reference vocabulary), then one id per merge in order;
- when no pair is left before ``vocab_size`` is reached, training stops, a
  :class:`TrainingStoppedEarly` warning says so, and what was learned is
  returned (:func:`train_bpe_detailed` reports it as ``stopped_early``).

Counting streams the corpus in blocks and runs over processes
(:mod:`alignkit.bpe.train_corpus`); the merge loop is compiled
(:mod:`alignkit.bpe._train`).
"""

from __future__ import annotations

import gc
import os
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_all_start_methods, get_context
from typing import Union

from alignkit.bpe._fileio import bytes_to_unicode
from alignkit.bpe._train import MergeTrainer
from alignkit.bpe.patterns import GPT2, KNOWN_PATTERNS, resolve_pattern
from alignkit.bpe import train_corpus
from alignkit.bpe.train_corpus import count_ranges, find_chunk_boundaries, init_worker
from alignkit.errors import UsageError

PathArg = Union[str, "os.PathLike[str]"]

#: ``progress(stage, done, total)``: stage "count" (bytes read) or "merge" (merges learned).
ProgressFn = Callable[[str, int, int], None]

#: Below this many corpus bytes, counting runs in-process (starting workers costs more).
PARALLEL_MIN_BYTES = 4 << 20

_MERGE_BATCH = 64


class TrainingStoppedEarly(UserWarning):
    """No pair was left to merge before the requested vocabulary size."""


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_bpe_detailed` learned, with a few facts about the run.

    ``requested_merges`` is ``vocab_size - 256 - len(special_tokens)``;
    ``stopped_early`` says fewer were learned because no pair was left;
    ``corpus_bytes`` is the size of the input files (compressed size for ``.gz``);
    ``distinct_pretokens`` the number of distinct pre-tokens counted.
    """

    vocab: dict[int, bytes]
    merges: list[tuple[bytes, bytes]]
    special_tokens: list[str]
    requested_merges: int
    stopped_early: bool
    corpus_bytes: int
    distinct_pretokens: int
    count_seconds: float
    merge_seconds: float


def gpt2_byte_order() -> list[int]:
    """Byte values in GPT-2's byte-to-unicode order (printable ones first).

    Example:
        >>> order = gpt2_byte_order()
        >>> order[0], order[187], order[188], order[255]
        (33, 255, 0, 173)
    """
    return list(bytes_to_unicode())


def build_vocab(special_tokens: Sequence[str], merges: Sequence[tuple[bytes, bytes]]) -> dict[int, bytes]:
    """The vocabulary layout: specials, then the 256 bytes (GPT-2 order), then merges.

    Example:
        >>> vocab = build_vocab(["<|endoftext|>"], [(b"t", b"h")])
        >>> vocab[0], vocab[1], vocab[257], len(vocab)
        (b'<|endoftext|>', b'!', b'th', 258)
    """
    tokens = [s.encode("utf-8") for s in special_tokens]
    tokens += [bytes([b]) for b in gpt2_byte_order()]
    tokens += [left + right for left, right in merges]
    return dict(enumerate(tokens))


def _check_args(paths: list[str], vocab_size: int, special_tokens: list[str]) -> int:
    """Validate arguments; return the total corpus size in bytes."""
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
        raise UsageError(f"vocab_size must be an integer, got {vocab_size!r}")
    for s in special_tokens:
        if not isinstance(s, str) or not s:
            raise UsageError(f"special tokens must be non-empty strings, got {s!r}")
    seen: set[str] = set()
    for s in special_tokens:
        if s in seen:
            raise UsageError(f"special token {s!r} is given twice; list each special token once")
        seen.add(s)
    floor = 256 + len(special_tokens)
    if vocab_size < floor:
        raise UsageError(
            f"vocab_size {vocab_size} is too small: the {len(special_tokens)} special token(s) and the "
            f"256 single bytes already take {floor} ids; use a vocab_size of at least {floor}"
        )
    if not paths:
        raise UsageError("no corpus file given; pass at least one text file")
    total = 0
    for path in paths:
        try:
            with open(path, "rb") as f:
                f.read(1)
            total += os.path.getsize(path)
        except OSError as err:
            raise UsageError(
                f"cannot read corpus {path}: {err.strerror or err}; check the path and its permissions"
            ) from None
    if total == 0:
        raise UsageError(f"the corpus is empty ({', '.join(paths)}); give a file that contains text")
    return total


def _check_something_matched(
    paths: list[str], specials: list[str], pattern: str, num_proc: int | None
) -> None:
    """Refuse a split pattern that found no pre-token in a corpus that has text.

    A corpus of special tokens only is no error (the known patterns match every
    character, so that is the only way they find nothing): it trains no merge and
    stops early, as ``train-tokenizer`` reports it. A custom pattern that matches none
    of the text is refused here instead of training nothing.
    """
    if pattern in KNOWN_PATTERNS.values() or not count_pretokens(paths, specials, num_proc=num_proc):
        return
    raise UsageError(
        f"the split pattern {pattern!r} matched nothing in {', '.join(paths)}"
        + (" (outside the special tokens)" if specials else "")
        + f", so there is nothing to train on; check the pattern, or give a known name: {', '.join(KNOWN_PATTERNS)}"
    )


def usable_cpus() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


def count_pretokens(
    paths: Sequence[str],
    special_tokens: Sequence[str] = (),
    *,
    num_proc: int | None = None,
    pattern: str = GPT2,
    progress: ProgressFn | None = None,
) -> dict[bytes, int]:
    """Pre-token counts (UTF-8 bytes -> count) of the corpus files, in parallel when large.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        ...     _ = f.write("the cat<|endoftext|>the hat")
        >>> sorted(count_pretokens([f.name], ["<|endoftext|>"]).items())
        [(b' cat', 1), (b' hat', 1), (b'the', 2)]
    """
    sizes = [os.path.getsize(p) for p in paths]
    total = sum(sizes)
    procs = num_proc if num_proc is not None else usable_cpus()
    if procs <= 1 or total < PARALLEL_MIN_BYTES:
        read = [0]

        def hook(n: int) -> None:
            read[0] += n
            if progress is not None:
                progress("count", min(read[0], total), total)

        train_corpus.progress_hook = hook
        try:
            counts = count_ranges([(p, 0, n) for p, n in zip(paths, sizes)], special_tokens, pattern)
        finally:
            train_corpus.progress_hook = None
        if progress is not None:
            progress("count", total, total)
        return counts
    work: list[list[tuple[str, int, int]]] = [[] for _ in range(procs)]
    load = [0] * procs
    ranges: list[tuple[str, int, int]] = []
    for path, size in zip(paths, sizes):
        pieces = 1 if path.endswith(".gz") else max(1, round(procs * 2 * size / total))
        bounds = [0, size] if pieces == 1 else find_chunk_boundaries(path, pieces, special_tokens, pattern)
        ranges += [(path, bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
    for task in sorted(ranges, key=lambda r: r[2] - r[1], reverse=True):
        k = load.index(min(load))
        work[k].append(task)
        load[k] += task[2] - task[1]
    # fork: no re-import of the caller's __main__ (scripts without a main guard work) and a fast start.
    ctx = get_context("fork" if "fork" in get_all_start_methods() else "spawn")
    counter = ctx.Value("q", 0)
    results: list[dict[bytes, int]] = []
    with ProcessPoolExecutor(procs, mp_context=ctx, initializer=init_worker,
                             initargs=(counter, os.getpid())) as pool:
        futures: list[Future[dict[bytes, int]]] = [
            pool.submit(count_ranges, tasks, list(special_tokens), pattern) for tasks in work if tasks
        ]
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
            if progress is not None:
                progress("count", min(counter.value, total), total)
            for fut in futures:
                if fut.done() and fut.exception() is not None:
                    raise fut.exception()  # type: ignore[misc]
        results = [fut.result() for fut in futures]
    counts = results[0]
    for other in results[1:]:
        for word, n in other.items():
            counts[word] = counts.get(word, 0) + n
    return counts


def learn_merges(
    words: dict[bytes, int], num_merges: int, progress: ProgressFn | None = None
) -> tuple[list[tuple[bytes, bytes]], bool]:
    """Learn up to ``num_merges`` merges from pre-token counts; returns (merges, stopped_early).

    Example:
        >>> learn_merges({b"low": 5, b"lower": 2, b"newest": 6, b"widest": 3}, 3)
        ([(b's', b't'), (b'e', b'st'), (b'o', b'w')], False)
    """
    return _learn(words, num_merges, progress, consume=False)


def _learn(
    words: dict[bytes, int], num_merges: int, progress: ProgressFn | None, consume: bool
) -> tuple[list[tuple[bytes, bytes]], bool]:
    """:func:`learn_merges`; with ``consume`` the counts are cleared once loaded (lower peak memory)."""
    # The loop makes no reference cycles; the cyclic GC would only re-scan its many lists.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        trainer = MergeTrainer(list(words.keys()), list(words.values()))
        if consume:
            words.clear()
        done = 0
        while done < num_merges:
            learned = trainer.train(min(_MERGE_BATCH, num_merges - done))
            done += learned
            if progress is not None:
                progress("merge", done, num_merges)
            if trainer.exhausted:
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    tb = trainer.token_bytes
    merges = [(tb[trainer.merges_left[i]], tb[trainer.merges_right[i]]) for i in range(done)]
    return merges, trainer.exhausted and done < num_merges


def train_bpe_detailed(
    input_path: PathArg | Sequence[PathArg],
    vocab_size: int,
    special_tokens: Sequence[str] | None = None,
    *,
    num_proc: int | None = None,
    pattern: str = GPT2,
    progress: ProgressFn | None = None,
) -> TrainResult:
    """Like :func:`train_bpe`, returning a :class:`TrainResult` and never warning.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        ...     _ = f.write("ab ab")
        >>> r = train_bpe_detailed(f.name, 300)
        >>> r.merges, r.stopped_early
        ([(b'a', b'b'), (b' ', b'ab')], True)
    """
    if isinstance(input_path, (str, os.PathLike)):
        paths = [os.fspath(input_path)]
    else:
        paths = [os.fspath(p) for p in input_path]
    specials = list(special_tokens or [])
    total = _check_args(paths, vocab_size, specials)
    pattern = resolve_pattern(pattern)
    t0 = time.perf_counter()
    words = count_pretokens(paths, specials, num_proc=num_proc, pattern=pattern, progress=progress)
    t1 = time.perf_counter()
    requested = vocab_size - 256 - len(specials)
    distinct = len(words)
    if not distinct:
        _check_something_matched(paths, specials, pattern, num_proc)
    merges, stopped = _learn(words, requested, progress, consume=True)
    t2 = time.perf_counter()
    return TrainResult(
        vocab=build_vocab(specials, merges),
        merges=merges,
        special_tokens=specials,
        requested_merges=requested,
        stopped_early=stopped,
        corpus_bytes=total,
        distinct_pretokens=distinct,
        count_seconds=t1 - t0,
        merge_seconds=t2 - t1,
    )


def train_bpe(
    input_path: PathArg | Sequence[PathArg],
    vocab_size: int,
    special_tokens: Sequence[str] | None = None,
    *,
    num_proc: int | None = None,
    pattern: str = GPT2,
    progress: ProgressFn | None = None,
) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    """Train byte-level BPE on text file(s); returns ``(vocab, merges)``.

    Args:
        input_path: a UTF-8 text file, or several (no merge crosses files).
        vocab_size: final vocabulary size, specials and the 256 bytes included.
        special_tokens: strings that split the corpus; they get ids 0..k-1.
        num_proc: processes for counting (default: the usable CPUs; small
            corpora are counted in-process).
        pattern: the pre-tokenizer split pattern: a name of
            :data:`~alignkit.bpe.patterns.KNOWN_PATTERNS` (``"gpt2"``, ``"cl100k"``, ...,
            as ``train-tokenizer --pattern``), else a regex (default GPT-2's).
        progress: optional ``progress(stage, done, total)`` callback.

    Raises:
        UsageError: bad arguments (a regex that does not compile), an unreadable, empty
            or non-UTF-8 corpus, or a pattern that matches none of the corpus's text
            (a corpus of special tokens only trains no merge and stops early).

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        ...     _ = f.write("low low low lower newest newest<|endoftext|>widest")
        >>> vocab, merges = train_bpe(f.name, 260, ["<|endoftext|>"])
        >>> merges
        [(b'o', b'w'), (b'l', b'ow'), (b's', b't')]
        >>> vocab[0], vocab[259]
        (b'<|endoftext|>', b'st')
    """
    result = train_bpe_detailed(
        input_path, vocab_size, special_tokens, num_proc=num_proc, pattern=pattern, progress=progress
    )
    if result.stopped_early:
        warnings.warn(
            f"BPE training stopped early: no pair left to merge after {len(result.merges)} of "
            f"{result.requested_merges} merges (vocabulary {len(result.vocab)} < {vocab_size}); "
            "give a larger corpus or a smaller vocab_size",
            TrainingStoppedEarly,
            stacklevel=2,
        )
    return result.vocab, result.merges
