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
import sys
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


def input_labels(paths: list[str]) -> dict[str, str]:
    """Each input's label (:func:`input_label`), made unique among ``paths``: an absolute path
    outside the working folder gets as many of its last parts as tell it apart from the others
    (still never absolute, so outputs hold no machine path).

        >>> input_labels(["/data/a/train.jsonl", "/data/b/train.jsonl", "/x/eval.jsonl"])
        {'/data/a/train.jsonl': 'a/train.jsonl', '/data/b/train.jsonl': 'b/train.jsonl', '/x/eval.jsonl': 'eval.jsonl'}
    """
    labels = {p: input_label(p) for p in paths}
    parts = {p: Path(p).parts[1:] for p in paths if Path(p).is_absolute() and labels[p] == Path(p).name}
    depth = dict.fromkeys(parts, 1)
    while True:
        by_label: dict[str, set[str]] = {}
        for p, label in labels.items():
            by_label.setdefault(label, set()).add(os.path.realpath(p))
        grow = [p for p in parts if len(by_label[labels[p]]) > 1 and depth[p] < len(parts[p])]
        if not grow:
            return labels
        for p in grow:
            depth[p] += 1
            labels[p] = "/".join(parts[p][-depth[p]:])


def chunks(paths: list[str], kinds: list[tuple[str | None, int]],
            hashes: dict[str, tuple[str, int]] | None = None,
            labels: dict[str, str] | None = None) -> Iterator[Chunk]:
    """Chunks of the files' lines; the sha256 and size of each file read whole go to ``hashes``.

    ``labels``: how each path is named (default :func:`input_labels` of ``paths``).
    """
    from alignkit.io.jsonl import Line, read_lines
    from alignkit.io.whole_file import read_blocks

    labels = labels or input_labels(paths)
    for path, (kind, kind_line) in zip(paths, kinds):
        label = labels[path]
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


def can_fork() -> bool:
    """Whether worker processes can be forked: what ``"fork" in
    multiprocessing.get_all_start_methods()`` says, without multiprocessing's imports (7+ ms of a
    run's start-up; they are needed only for a pool)."""
    return hasattr(os, "fork") and sys.platform != "win32"


def _results(config: TokenizeConfig, chunks: Iterator[Chunk], num_proc: int) -> Iterator[ChunkResult]:
    """Chunk results in input order; with ``num_proc > 1`` at most ``4 * num_proc`` chunks in flight.

    (``Pool.imap`` would read the whole input ahead into its task queue.)
    """
    if num_proc <= 1:
        for chunk in chunks:
            yield process_chunk(chunk)
        return
    import multiprocessing

    with _pool(multiprocessing.get_context("fork" if can_fork() else "spawn"), config, num_proc) as pool:
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

    pool = ProcessPoolExecutor(num_proc, mp_context=ctx, initializer=_init_pool_worker,
                               initargs=(config, os.getpid()))
    try:
        yield pool
    except BrokenProcessPool as err:
        raise AlignkitError(
            "a worker process stopped abruptly (killed by the system, out of memory?); nothing was"
            " written: rerun with a smaller --num-proc"
        ) from err
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _init_pool_worker(config: TokenizeConfig, parent: int) -> None:
    """A pool worker's start: it ends with this process (:mod:`alignkit.bpe._parent`), then
    builds its encoder."""
    from alignkit.bpe._parent import end_with_parent

    end_with_parent(parent)
    init_worker(config)


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


def file_results(config: TokenizeConfig, paths: list[str], kinds: list[tuple[str | None, int]],
                  hashes: dict[str, tuple[str, int]], num_proc: int,
                  labels: dict[str, str] | None = None) -> Generator[ChunkResult, None, None]:
    """The chunk results of every file, in input order, in this process and ``num_proc - 1`` workers.

    With ``fork``, consecutive plain files are cut into byte ranges (:mod:`alignkit.line_ranges`)
    shared by this process and forked workers, whoever is free first
    (:class:`~alignkit.forked_files.ForkedFiles`): workers read their own ranges (no line crosses
    a pipe); this process hashes the files and the tokenizer, then takes ranges itself, and
    between them hands out the results finished so far, in order, so that the output is
    written while the rest is encoded. The ranges shorten towards the end of the input, so
    that the processes finish together. Elsewhere (spawn) ``num_proc`` workers are sent
    chunks of lines; a file that must be streamed is sent in chunks to ``num_proc - 1``
    workers, with every ``num_proc``-th chunk processed here.
    """
    labels = labels or input_labels(paths)
    if num_proc <= 1 or not can_fork():
        yield from _results(config, chunks(paths, kinds, hashes, labels), num_proc)
        return
    from alignkit.forked_files import ForkedFiles
    from alignkit.line_ranges import RangeSizes, cut_file

    sizes = RangeSizes(sum(_size(p) for p in paths), num_proc, _RANGES_PER_PROC)
    job = ForkedFiles(config, num_proc, hashes, CHUNK_LINES)
    for path, (kind, kind_line) in zip(paths, kinds):
        cuts = cut_file(path, 0, sizes)
        if cuts is not None:
            job.add(path, labels[path], kind, kind_line, cuts.size, cuts.spans())
            continue
        sizes.take(_size(path))
        yield from job.run()  # the plain files before this one
        import multiprocessing

        with _pool(multiprocessing.get_context("fork"), config, num_proc - 1) as pool:
            yield from _pooled(pool, chunks([path], [(kind, kind_line)], hashes, labels), num_proc, num_proc)
    yield from job.run()


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
