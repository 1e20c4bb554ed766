"""Batch encoding shared between this process and forked workers (no texts pickled).

:class:`ForkedBatch` parks the job (tokenizer, texts, contiguous ranges of texts) in a
module global, then forks ``num_proc - 1`` workers, which inherit it: no text is
pickled. The caller and the workers claim ranges from one shared counter until none is
left, so whoever is faster takes more. A worker encodes a range into a native
``vec[i32]`` and writes it, with the range's per-text lengths, to an anonymous in-memory
file opened before the fork (``memfd``; an unnamed temporary file elsewhere); the caller
reads it straight into its numpy output, or turns it into lists through a table of
shared int objects. Only ``fork`` can do this; :mod:`alignkit.bpe._parallel` decides.

Example:
    >>> with ForkedBatch(tok, texts, "all", num_proc=2) as job:  # doctest: +SKIP
    ...     k = job.claim()  # a range to encode here, or -1 when none is left
"""

from __future__ import annotations

import bisect
import multiprocessing
import os
from array import array
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Final

from librt.vecs import vec
from mypy_extensions import i32

from alignkit.bpe._fd import memory_file, read_at, write_at
from alignkit.bpe._parent import end_with_parent

if TYPE_CHECKING:
    from alignkit.bpe.tokenizer import SpecialSet, Tokenizer

#: Ranges per process: enough for the last ones to even out the finish, few enough to be cheap.
RANGES_PER_PROC: Final = 16
#: At most this many ranges (each holds one open in-memory file during the batch).
MAX_RANGES: Final = 256

#: The job a forked worker inherits (set before the fork, cleared after the batch).
_JOB: list[ForkedBatch] = []


def balanced_ranges(texts: Sequence[str], parts: int) -> list[tuple[int, int]]:
    """Contiguous, non-empty ``[start, stop)`` ranges of ``texts`` with about equal characters.

    Example:
        >>> balanced_ranges(["aaaa", "b", "c", "dddd"], 2)
        [(0, 2), (2, 4)]
    """
    cum = [0]
    for t in texts:
        cum.append(cum[-1] + len(t))
    total = cum[-1]
    cuts = [0]
    for j in range(1, parts):
        k = bisect.bisect_left(cum, total * j / parts)  # first text end reaching the target
        if cuts[-1] < k < len(texts):
            cuts.append(k)
    cuts.append(len(texts))
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if a < b]


def encode_range(tok: Tokenizer, texts: Sequence[str], start: int, stop: int,
                 allowed: SpecialSet) -> tuple[vec[i32], array[int]]:
    """The ids of ``texts[start:stop]`` in one native vector, and each text's id count."""
    ids = vec[i32]()
    lengths = array("i")
    for k in range(start, stop):
        before = len(ids)
        ids = tok.encode_into(texts[k], ids, allowed_special=allowed)
        lengths.append(len(ids) - before)
    return ids, lengths


def _write_all(fd: int, data: memoryview) -> int:
    """Write ``data`` at the file's current end; return the new end."""
    return write_at(fd, data, os.fstat(fd).st_size)


def _drain(_: int) -> int:
    """A worker's whole task: encode claimed ranges into their files until none is left."""
    job = _JOB[0]
    count = 0
    k = job.claim()
    while k >= 0:
        start, stop = job.ranges[k]
        ids, lengths = encode_range(job.tok, job.texts, start, stop, job.allowed)
        fd = job.files[k]
        _write_all(fd, memoryview(lengths).cast("B"))
        _write_all(fd, memoryview(ids).cast("B"))
        job.done[k] = 1  # after the writes: the caller reads the file only once this is set
        count += 1
        k = job.claim()
    return count


class ForkedBatch:
    """One batch encoded by this process and ``num_proc - 1`` forked workers (a context manager).

    Use it where the ``fork`` start method is safe (no other thread running). Inside the
    ``with`` block, call :meth:`claim` and encode the range yourself until it gives -1,
    collecting finished worker ranges with :meth:`ready` / :meth:`read` as you go; then
    :meth:`wait` and collect the rest.
    """

    def __init__(self, tok: Tokenizer, texts: Sequence[str], allowed: SpecialSet, num_proc: int) -> None:
        self.tok = tok
        self.texts = texts
        self.allowed = allowed
        self.num_proc = num_proc
        self.ranges = balanced_ranges(texts, min(MAX_RANGES, num_proc * RANGES_PER_PROC))
        ctx = multiprocessing.get_context("fork")
        self._ctx = ctx
        self._lock = ctx.Lock()
        self._next = ctx.RawValue("q", 0)
        self.done = ctx.RawArray("b", len(self.ranges))
        self.files: list[int] = []
        self.mine: set[int] = set()  # ranges this process encoded itself
        self.collected: set[int] = set()
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[Future[int]] = []

    def __enter__(self) -> ForkedBatch:
        try:
            self.files = [memory_file() for _ in self.ranges]
            _JOB[:] = [self]
            workers = min(self.num_proc, len(self.ranges)) - 1  # no more processes than ranges
            if workers > 0:
                self._pool = ProcessPoolExecutor(workers, mp_context=self._ctx, initializer=end_with_parent,
                                                 initargs=(os.getpid(),))
                self._futures = [self._pool.submit(_drain, w) for w in range(workers)]
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is not None:
            self._stop()
        self._close()

    def claim(self) -> int:
        """The index of the next unclaimed range (marked as this caller's), or -1."""
        with self._lock:
            k = int(self._next.value)
            if k >= len(self.ranges):
                return -1
            self._next.value = k + 1
        self.mine.add(k)  # (in a worker: its own copy of the set, never read)
        return k

    def ready(self) -> list[int]:
        """Worker ranges finished and not collected yet (in order)."""
        return [k for k in range(len(self.ranges))
                if self.done[k] and k not in self.collected and k not in self.mine]

    def size(self, k: int) -> int:
        """The number of texts in range ``k``."""
        start, stop = self.ranges[k]
        return stop - start

    def read(self, k: int) -> bytes:
        """A worker range's packed result: its texts' int32 id counts, then its int32 ids.

        The range's file is emptied (its memory freed) once read.
        """
        self.collected.add(k)
        fd = self.files[k]
        size = os.fstat(fd).st_size
        data = read_at(fd, 0, size)
        if len(data) < size:
            raise OSError(f"batch result file of range {k} ended at byte {len(data)} of {size}")
        os.ftruncate(fd, 0)
        return data

    def run(self, encode_here: Callable[[int], None], collect: Callable[[int], None]) -> None:
        """The batch: ``encode_here(k)`` for each range this process claims, ``collect(k)``
        for each worker range once it is finished (between own ranges, then after
        :meth:`wait`), each range exactly once."""
        k = self.claim()
        while k >= 0:
            encode_here(k)
            for r in self.ready():
                collect(r)
            k = self.claim()
        self.wait()
        for r in self.ready():
            collect(r)

    def wait(self) -> None:
        """Wait for the workers; re-raise the first error one of them met."""
        for f in self._futures:
            f.result()
        missing = [k for k in range(len(self.ranges)) if k not in self.mine and not self.done[k]]
        if missing:
            raise RuntimeError(f"batch ranges {missing[:5]} were claimed but never finished")

    def _stop(self) -> None:
        """Let no worker claim another range (the batch failed here)."""
        with self._lock:
            self._next.value = len(self.ranges)

    def _close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        for fd in self.files:
            os.close(fd)
        self.files = []
        if _JOB and _JOB[0] is self:
            _JOB.clear()
