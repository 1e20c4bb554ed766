"""The chunk results of the input files, in input order, in this process or in workers.

Each file is cut into chunks of :data:`CHUNK_LINES` lines (:class:`~alignkit.worker.Chunk`)
and each chunk becomes a :class:`~alignkit.worker.ChunkResult` (:func:`~alignkit.worker.process_chunk`).
With ``num_proc > 1``, where ``fork`` exists, plain files are cut into byte ranges of whole
lines (:mod:`alignkit.line_ranges`), shorter towards the end, and ``num_proc - 1`` forked
workers (:class:`~alignkit.range_workers.RangeJob`) inherit the encoder, read their own
ranges and hand their columns back through in-memory files (:mod:`alignkit.result_files`):
no line and no column is pickled. This process takes ranges too, between handing out the
results finished so far, so ``num_proc`` processes encode while the output is written. A
range's lines are numbered from 1 where it is processed; the line numbers of its rejects
are moved when it is handed out, in order (so nobody counts lines ahead). Elsewhere
(spawn, or a file that must be streamed) a process pool is sent chunks of lines. Results
come back in input order either way, so the output is byte-identical for any ``num_proc``.

    >>> results = file_results(config, ["a.jsonl"], [("sft", 1)], {}, num_proc=2)  # doctest: +SKIP
"""

from __future__ import annotations

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
#: Full-length byte ranges per process (the last ones are shorter: see
#: :class:`~alignkit.line_ranges.RangeSizes`); a 48 MB file, 2 processes: ~1.5 MB (~0.04 s) each.
_RANGES_PER_PROC = 16


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
#: At most this many in-memory result files per run (each mapped one holds a descriptor until
#: its results are dropped); ranges beyond them send their columns pickled.
_MAX_RESULT_FILES = 128
_HASH_BLOCK = 1 << 22


def file_results(config: TokenizeConfig, paths: list[str], kinds: list[tuple[str | None, int]],
                  hashes: dict[str, tuple[str, int]], num_proc: int) -> Generator[ChunkResult, None, None]:
    """The chunk results of every file, in input order, in this process and ``num_proc - 1`` workers.

    With ``fork``, consecutive plain files are cut into byte ranges (:mod:`alignkit.line_ranges`)
    shared by this process and forked workers, whoever is free first
    (:class:`~alignkit.range_workers.RangeJob`): workers read their own ranges (no line crosses
    a pipe); this process hashes the files and the tokenizer, then takes ranges itself, and
    between them hands out the results finished so far, in order, so that the output is
    written while the rest is encoded. The ranges shorten towards the end of the input, so
    that the processes finish together. Elsewhere (spawn) ``num_proc`` workers are sent
    chunks of lines; a file that must be streamed is sent in chunks to ``num_proc - 1``
    workers, with every ``num_proc``-th chunk processed here.
    """
    import multiprocessing

    if num_proc <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        yield from _results(config, chunks(paths, kinds, hashes), num_proc)
        return
    from alignkit.line_ranges import RangeSizes, cut_file

    sizes = RangeSizes(sum(_size(p) for p in paths), num_proc, _RANGES_PER_PROC)
    job = _Job(config, num_proc, hashes)
    for path, (kind, kind_line) in zip(paths, kinds):
        cuts = cut_file(path, 0, sizes)
        if cuts is not None:
            job.add(path, kind, kind_line, cuts.size, cuts.spans())
            continue
        sizes.take(_size(path))
        yield from job.run()  # the plain files before this one
        with _pool(multiprocessing.get_context("fork"), config, num_proc - 1) as pool:
            yield from _pooled(pool, chunks([path], [(kind, kind_line)], hashes), num_proc, num_proc)
    yield from job.run()


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


class _Job:
    """Consecutive plain files' ranges, run together by :class:`~alignkit.range_workers.RangeJob`."""

    def __init__(self, config: TokenizeConfig, num_proc: int, hashes: dict[str, tuple[str, int]]) -> None:
        self.config = config
        self.num_proc = num_proc
        self.hashes = hashes
        self.ranges: list[LineRange] = []
        self.file_of: list[int] = []  # the index in ``files`` of each range's file
        self.files: list[tuple[str, int]] = []  # path, size
        self.warm = self.described = False
        self.slots = _MAX_RESULT_FILES  # in-memory result files left to this run

    def add(self, path: str, kind: str | None, kind_line: int, size: int, spans: list[tuple[int, int]]) -> None:
        """Add a file's ranges (its lines numbered from 1 in each range: moved when handed out)."""
        from alignkit.line_ranges import LineRange

        label = input_label(path)
        for start, stop in spans:
            self.ranges.append(LineRange(path, label, kind, kind_line, start, stop, 1, CHUNK_LINES))
            self.file_of.append(len(self.files))
        self.files.append((path, size))

    def run(self) -> Iterator[ChunkResult]:
        """The results of the files added so far, in order; then the job is empty again."""
        from alignkit.line_ranges import process_line_range
        from alignkit.range_workers import RangeJob

        ranges, file_of, files = self.ranges, self.file_of, self.files
        self.ranges, self.file_of, self.files = [], [], []
        if not ranges:
            for path, size in files:  # files without a line (empty)
                self.hashes[path] = (_file_sha256(path, size), size)
            return
        if not self.warm:  # before the fork: the workers inherit the warm chunk path
            self.warm = _warm_up(ranges[0])
        slots = min(len(ranges), self.slots)
        self.slots -= slots
        with RangeJob(ranges, self.num_proc - 1, slots) as job:
            for path, size in files:
                self.hashes[path] = (_file_sha256(path, size), size)
            if not self.described:  # the manifest's tokenizer hash (cached; ~0.04 s for a 150K vocab)
                self.described = bool(init_worker(self.config).describe_tokenizer())
            own: dict[int, tuple[list[ChunkResult], int]] = {}
            first_line = [1] * len(files)  # the line the next range of each file starts at
            out = 0  # the next range to hand out
            while out < len(ranges):
                while out < len(ranges) and (out in own or job.ready(out)):
                    results, count = own.pop(out) if out in own else job.take(out)
                    at = file_of[out]
                    _move_lines(results, first_line[at] - 1)
                    first_line[at] += count
                    yield from results
                    out += 1
                if out == len(ranges):
                    break
                k = job.claim_here() if _PARENT_TAKES else -1
                if k >= 0:  # not taken by a worker yet: take it here
                    own[k] = process_line_range(ranges[k])
                else:
                    job.wait(out)


def _move_lines(results: list[ChunkResult], by: int) -> None:
    """Number the rejects of a range's results from the range's first line (they count from 1)."""
    if by:
        for result in results:
            for reject in result.rejects:
                reject["line"] = int(str(reject["line"])) + by


def _file_sha256(path: str, size: int) -> str:
    """The sha256 of a plain file's first ``size`` bytes (the bytes its ranges were cut from).

    Raises:
        OSError: the file shrank.
    """
    import hashlib

    from alignkit.line_ranges import read_span

    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY)
    try:
        for at in range(0, size, _HASH_BLOCK):
            digest.update(read_span(fd, at, min(size, at + _HASH_BLOCK), input_label(path)))
    finally:
        os.close(fd)
    return digest.hexdigest()


def _warm_up(first: LineRange) -> bool:
    """Process a few of the first lines here and drop the result, before the workers fork.

    The chunk path imports its modules (pydantic, the fast chunk paths) and fills caches on
    first use: done once here, the forked workers inherit them instead of each paying for
    them (measured: about 0.25 s of CPU per worker on the CLI's cold start).
    """
    from alignkit.bpe._fork_batch import read_at
    from alignkit.io.whole_file import split_lines

    fd = os.open(first.path, os.O_RDONLY)
    try:
        data = read_at(fd, first.start, min(first.stop, first.start + (1 << 16)))
    finally:
        os.close(fd)
    head = data[: data.rfind(b"\n") + 1]  # the whole lines of the range's first 64 KiB
    lines = split_lines(head)[:16] if head else []
    numbered = list(zip(range(1, 1 + len(lines)), lines))
    process_chunk(Chunk(first.label, first.kind, first.kind_line, numbered, []))
    return True
