"""The chunk results of the input files, in input order, in this process or in workers.

Each file is cut into chunks of :data:`CHUNK_LINES` lines (:class:`~alignkit.worker.Chunk`)
and each chunk becomes a :class:`~alignkit.worker.ChunkResult` (:func:`~alignkit.worker.process_chunk`).
With ``num_proc > 1``, where ``fork`` exists, ``num_proc - 1`` forked workers inherit the
encoder, read their own byte ranges of each plain file (:mod:`alignkit.line_ranges`) and
hand their columns back through in-memory files (:mod:`alignkit.result_files`): no line
and no column is pickled. This process takes ranges too, whenever it has nothing of
theirs to hand out, so ``num_proc`` processes encode while the output is written. Elsewhere (spawn, or a file that must be streamed) a process pool is sent
chunks of lines. Results come back in input order either way, so the output is
byte-identical for any ``num_proc``.

    >>> results = file_results(config, ["a.jsonl"], [("sft", 1)], {}, num_proc=2)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alignkit.errors import AlignkitError
from alignkit.worker import (
    Chunk,
    ChunkResult,
    TokenizeConfig,
    init_worker,
    process_chunk,
)

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from alignkit.line_ranges import LineRange

CHUNK_LINES = 256
_IN_FLIGHT_PER_PROC = 4
#: Byte ranges per process for a plain file: each is one task and one result; enough that the
#: processes finish together (a 48 MB file, 2 processes: 32 ranges of ~0.04 s each).
_RANGES_PER_PROC = 16
#: At most this many in-memory result files per run (each mapped one also holds a descriptor);
#: ranges beyond them send their columns pickled.
_MAX_RESULT_FILES = 128


def input_label(path: str | os.PathLike[str]) -> str:
    """How an input is named in outputs: relative to the working folder, never absolute.

        >>> input_label("data/a.jsonl")
        'data/a.jsonl'
    """
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return p.name


def chunks(paths: list[str], kinds: list[tuple[str | None, int]],
            hashes: dict[str, tuple[str, int]] | None = None) -> Iterator[Chunk]:
    """Chunks of the files' lines; the sha256 and size of each file read whole go to ``hashes``."""
    from alignkit.io.jsonl import Line, read_lines
    from alignkit.io.whole_file import read_blocks

    for path, (kind, kind_line) in zip(paths, kinds):
        label = input_label(path)
        blocks = read_blocks(path)
        if blocks is not None:  # read block by block: lines and the input hash from one read
            raws: list[bytes] = []
            number = 1
            for block in blocks:
                raws += block
                while len(raws) >= CHUNK_LINES:
                    part = raws[:CHUNK_LINES]
                    del raws[:CHUNK_LINES]
                    yield Chunk(label, kind, kind_line, list(zip(range(number, number + len(part)), part)), [])
                    number += len(part)
            if raws:
                yield Chunk(label, kind, kind_line, list(zip(range(number, number + len(raws)), raws)), [])
            if hashes is not None:
                hashes[path] = (blocks.sha256, blocks.size)
            continue
        lines: list[tuple[int, bytes]] = []
        errors: list[dict[str, object]] = []
        for item in read_lines(path):
            if isinstance(item, Line):
                lines.append((item.number, item.raw))
            else:
                errors.append(item.to_dict())
            if len(lines) >= CHUNK_LINES:
                yield Chunk(label, kind, kind_line, lines, errors)
                lines, errors = [], []
        if lines or errors:
            yield Chunk(label, kind, kind_line, lines, errors)


def _results(config: TokenizeConfig, chunks: Iterator[Chunk], num_proc: int) -> Iterator[ChunkResult]:
    """Chunk results in input order; with ``num_proc > 1`` at most ``4 * num_proc`` chunks in flight.

    (``Pool.imap`` would read the whole input ahead into its task queue.)
    """
    if num_proc <= 1:
        for chunk in chunks:
            yield process_chunk(chunk)
        return
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    with _pool(multiprocessing.get_context("fork" if "fork" in methods else "spawn"), config, num_proc) as pool:
        yield from _pooled(pool, chunks, num_proc)


@contextmanager
def _pool(ctx: Any, config: TokenizeConfig, num_proc: int) -> Iterator[ProcessPoolExecutor]:
    """A process pool whose workers hold the encoder of ``config``.

    Unlike ``multiprocessing.Pool``, a worker killed by the system (out of memory) fails the
    run instead of leaving it waiting forever. On leaving, tasks not started are cancelled.

    Raises:
        AlignkitError: a worker process stopped abruptly.
    """
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(num_proc, mp_context=ctx, initializer=init_worker, initargs=(config,))
    try:
        yield pool
    except BrokenProcessPool as err:
        raise AlignkitError(
            "a worker process stopped abruptly (killed by the system, out of memory?); nothing was"
            " written: rerun with a smaller --num-proc"
        ) from err
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _pooled(pool: ProcessPoolExecutor, chunks: Iterator[Chunk], num_proc: int,
            every: int = 0) -> Iterator[ChunkResult]:
    """Results of ``chunks`` processed in ``pool``, in order, a bounded number in flight.

    With ``every > 0``, each ``every``-th chunk is processed here instead (this process
    would otherwise only wait).
    """
    from collections import deque

    pending: deque[Future[ChunkResult] | ChunkResult] = deque()
    for k, chunk in enumerate(chunks):
        here = every > 0 and k % every == every - 1
        pending.append(process_chunk(chunk) if here else pool.submit(process_chunk, chunk))
        if len(pending) >= _IN_FLIGHT_PER_PROC * num_proc:
            yield _done(pending.popleft())
    while pending:
        yield _done(pending.popleft())


def _done(item: Future[ChunkResult] | ChunkResult) -> ChunkResult:
    return item if isinstance(item, ChunkResult) else item.result()


#: Whether this process takes ranges too on the forked path (tests switch it off to be sure
#: that the workers do all of them).
_PARENT_TAKES = True
#: Shared claim flags of the forked path's ranges (set before the fork; one byte per range).
_CLAIMS: list[Any] = []


def _claim(seq: int) -> bool:
    """Take range ``seq`` for this process: ``False`` when another process took it first."""
    lock, flags = _CLAIMS
    with lock:
        if flags[seq]:
            return False
        flags[seq] = 1
    return True


def _claimed_range(seq: int, r: LineRange, fd: int) -> list[ChunkResult] | None:
    """A worker's task: process range ``r`` unless the parent took it (``None`` then)."""
    from alignkit.line_ranges import process_line_range

    if not _claim(seq):
        return None
    return process_line_range(r, fd)


def file_results(config: TokenizeConfig, paths: list[str], kinds: list[tuple[str | None, int]],
                  hashes: dict[str, tuple[str, int]], num_proc: int) -> Generator[ChunkResult, None, None]:
    """The chunk results of every file, in input order, in this process and ``num_proc - 1`` workers.

    With ``fork``, each plain file is cut into byte ranges (:mod:`alignkit.line_ranges`) and
    every range is offered to the workers and to this process, whoever claims it first
    (shared flags): workers read their own ranges (no line crosses a pipe); this process
    hashes the file and the tokenizer, then takes ranges itself, and between them hands
    out the results finished so far, in order, so that the output is written while the
    rest is encoded. Elsewhere (spawn) ``num_proc`` workers are sent chunks of lines; a
    file that must be streamed is sent in chunks to the workers, with every ``num_proc``-th
    chunk processed here.
    """
    if num_proc <= 1:
        yield from _results(config, chunks(paths, kinds, hashes), num_proc)
        return
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        yield from _results(config, chunks(paths, kinds, hashes), num_proc)
        return
    from alignkit.bpe._fork_batch import memory_file

    ctx = multiprocessing.get_context("fork")
    most = len(paths) * num_proc * _RANGES_PER_PROC
    # in-memory files for the workers' columns, opened before the fork (unused ones closed)
    slots = [memory_file() for _ in range(min(_MAX_RESULT_FILES, most))]
    unclosed = set(slots)
    import mmap

    # one byte per range, in memory the forked workers share (no file descriptor, unlike
    # multiprocessing's RawArray, whose heap keeps its arenas' files open)
    _CLAIMS[:] = [ctx.Lock(), mmap.mmap(-1, max(1, most))]
    state = _ForkState(config, num_proc, slots, unclosed)
    try:
        # forked at the first submit: after this process built its encoder (init_worker then
        # returns it at once) and warmed up the chunk path (each worker would import it again)
        with _pool(ctx, config, num_proc - 1) as pool:
            try:
                for path, (kind, kind_line) in zip(paths, kinds):
                    yield from state.file(pool, path, kind, kind_line, hashes)
            finally:
                lock, flags = _CLAIMS
                with lock:  # workers still holding tasks skip them (on an error)
                    flags[:] = b"\x01" * len(flags)
    finally:
        if _CLAIMS:
            _CLAIMS[1].close()
        _CLAIMS.clear()
        for fd in unclosed:
            os.close(fd)


class _ForkState:
    """The forked path's state across files: result files left, ranges offered so far."""

    def __init__(self, config: TokenizeConfig, num_proc: int, slots: list[int], unclosed: set[int]) -> None:
        self.config = config
        self.num_proc = num_proc
        self.slots = slots
        self.unclosed = unclosed
        self.seq = 0  # claim flags used so far
        self.warm = self.described = False

    def file(self, pool: ProcessPoolExecutor, path: str, kind: str | None, kind_line: int,
             hashes: dict[str, tuple[str, int]]) -> Iterator[ChunkResult]:
        """One file's results in order (see :func:`file_results`).

        The file is cut with a few small reads; the first range goes to the workers at once,
        then this process reads the file range by range (its hash, and the line number each
        next range starts at) and offers each range as soon as it is numbered.
        """
        import hashlib

        from alignkit.line_ranges import LineRange, cut_file, process_line_range, read_span

        label = input_label(path)
        cuts = cut_file(path, self.num_proc * _RANGES_PER_PROC)
        if cuts is None:
            yield from _pooled(pool, chunks([path], [(kind, kind_line)], hashes), self.num_proc, self.num_proc)
            return
        spans = cuts.spans()
        ranges = [LineRange(path, label, kind, kind_line, a, b, 0, CHUNK_LINES) for a, b in spans]
        first = self.seq
        self.seq += len(ranges)
        fds = [self.slots.pop() if self.slots else -1 for _ in ranges]
        pending: list[Future[list[ChunkResult] | None]] = []
        digest = hashlib.sha256()
        line = 1
        fd = os.open(path, os.O_RDONLY)
        try:
            if cuts.cuts[0]:
                digest.update(read_span(fd, 0, cuts.cuts[0], label))  # the byte-order mark
            for k, (start, stop) in enumerate(spans):
                ranges[k] = r = dataclasses.replace(ranges[k], first_line=line)
                data = read_span(fd, start, stop, label)
                if not self.warm:  # before the first submit, which forks the workers
                    self.warm = _warm_up(r, data)
                pending.append(pool.submit(_claimed_range, first + k, r, fds[k]))
                digest.update(data)
                line += data.count(b"\n")
                del data
        finally:
            os.close(fd)
        hashes[path] = (digest.hexdigest(), cuts.size)
        if not self.described:  # the manifest's tokenizer hash (cached; ~0.04 s for a 150K vocab)
            self.described = bool(init_worker(self.config).describe_tokenizer())
        own: dict[int, list[ChunkResult]] = {}
        out = 0  # the next range to hand out
        for k in range(len(ranges)):
            while out < len(ranges) and (out in own or pending[out].done()):
                yield from self._take(out, own, pending[out], fds[out])
                out += 1
            if _PARENT_TAKES and k >= out and _claim(first + k):  # not taken by a worker yet: take it here
                own[k] = process_line_range(ranges[k])
        while out < len(ranges):
            yield from self._take(out, own, pending[out], fds[out])
            out += 1

    def _take(self, k: int, own: dict[int, list[ChunkResult]], future: Future[list[ChunkResult] | None],
              fd: int) -> list[ChunkResult]:
        """Range ``k``'s results: processed here, or by a worker (read from its result file)."""
        if k in own:
            if fd >= 0:  # unused
                self.unclosed.discard(fd)
                os.close(fd)
            return own.pop(k)
        results = future.result()
        if results is None:
            raise AlignkitError(f"range {k} was taken by no process; this is a bug, please report it")
        if fd >= 0:
            from alignkit.result_files import restore

            self.unclosed.discard(fd)
            restore(results, fd)  # closes fd
        return results


def _warm_up(first: LineRange, data: bytes) -> bool:
    """Process a few of the first lines here and drop the result, before the workers fork.

    The chunk path imports its modules (pydantic, numpy, the fast chunk paths) and fills
    caches on first use: done once here, the forked workers inherit them instead of each
    paying for them (measured: about 0.25 s of CPU per worker on the CLI's cold start).
    """
    from alignkit.io.whole_file import split_lines

    head = data[: data.rfind(b"\n", 0, 1 << 16) + 1]  # the whole lines of the range's first 64 KiB
    lines = split_lines(head)[:16] if head else []
    numbered = list(zip(range(first.first_line, first.first_line + len(lines)), lines))
    process_chunk(Chunk(first.label, first.kind, first.kind_line, numbered, []))
    return True
