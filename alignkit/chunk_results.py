"""The chunk results of the input files, in input order, in this process or in workers.

Each file is cut into chunks of :data:`CHUNK_LINES` lines (:class:`~alignkit.worker.Chunk`)
and each chunk becomes a :class:`~alignkit.worker.ChunkResult` (:func:`~alignkit.worker.process_chunk`).
With ``num_proc > 1``, where ``fork`` exists, forked workers inherit the encoder, read
their own byte ranges of each plain file (:mod:`alignkit.line_ranges`) and hand their
columns back through in-memory files (:mod:`alignkit.result_files`): no line and no column
is pickled. Elsewhere (spawn, or a file that must be streamed) a process pool is sent
chunks of lines. Results come back in input order either way, so the output is
byte-identical for any ``num_proc``.

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
#: Byte ranges per worker process for a plain file (few: each is one task and one result).
_RANGES_PER_PROC = 8
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
    from alignkit.io.whole_file import read_whole

    for path, (kind, kind_line) in zip(paths, kinds):
        label = input_label(path)
        whole = read_whole(path)
        if whole is not None:  # one read for the lines and the input hash
            if hashes is not None:
                hashes[path] = (whole.sha256, whole.size)
            raws = whole.lines
            for start in range(0, len(raws), CHUNK_LINES):
                part = raws[start : start + CHUNK_LINES]
                yield Chunk(label, kind, kind_line, list(zip(range(start + 1, start + 1 + len(part)), part)), [])
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


def _pooled(pool: ProcessPoolExecutor, chunks: Iterator[Chunk], num_proc: int) -> Iterator[ChunkResult]:
    """Results of ``chunks`` processed in ``pool``, in order, a bounded number in flight."""
    from collections import deque

    pending: deque[Future[ChunkResult]] = deque()
    for chunk in chunks:
        pending.append(pool.submit(process_chunk, chunk))
        if len(pending) >= _IN_FLIGHT_PER_PROC * num_proc:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def file_results(config: TokenizeConfig, paths: list[str], kinds: list[tuple[str | None, int]],
                  hashes: dict[str, tuple[str, int]], num_proc: int) -> Generator[ChunkResult, None, None]:
    """The chunk results of every file, in input order, in this process or ``num_proc`` workers.

    With ``fork``, workers read their own byte ranges of each plain file
    (:mod:`alignkit.line_ranges`): no line crosses a pipe, and this process hashes the file
    while they work. Elsewhere (spawn, or a file that must be streamed) chunks of lines are
    sent to the workers.
    """
    import multiprocessing

    if num_proc <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        yield from _results(config, chunks(paths, kinds, hashes), num_proc)
        return
    import hashlib

    from alignkit.bpe._fork_batch import memory_file
    from alignkit.line_ranges import plan_line_ranges, process_line_range
    from alignkit.result_files import restore

    # in-memory files for the workers' columns, opened before the fork (unused ones closed)
    slots = [memory_file() for _ in range(min(_MAX_RESULT_FILES, len(paths) * num_proc * _RANGES_PER_PROC))]
    unclosed = set(slots)
    warm = described = False
    try:
        # forked at the first submit: after this process built its encoder (init_worker then
        # returns it at once) and warmed up the chunk path (each worker would import it again)
        with _pool(multiprocessing.get_context("fork"), config, num_proc) as pool:
            for path, (kind, kind_line) in zip(paths, kinds):
                label = input_label(path)
                plan = plan_line_ranges(path, label, kind, kind_line, CHUNK_LINES, num_proc * _RANGES_PER_PROC)
                if plan is None:
                    yield from _pooled(pool, chunks([path], [(kind, kind_line)], hashes), num_proc)
                    continue
                if not warm and plan.ranges:
                    warm = _warm_up(plan.ranges[0], plan.data)
                fds = [slots.pop() if slots else -1 for _ in plan.ranges]
                pending = [pool.submit(process_line_range, r, fd) for r, fd in zip(plan.ranges, fds)]
                hashes[path] = (hashlib.sha256(plan.data).hexdigest(), len(plan.data))  # while they work
                del plan
                if not described:  # the manifest's tokenizer hash (cached; ~0.3 s for a 150K vocab)
                    described = bool(init_worker(config).describe_tokenizer())
                for fd, result in zip(fds, pending):
                    results = result.result()
                    if fd >= 0:
                        unclosed.discard(fd)
                        restore(results, fd)  # closes fd
                    yield from results
    finally:
        for fd in unclosed:
            os.close(fd)


def _warm_up(first: LineRange, data: bytes) -> bool:
    """Process a few of the first lines here and drop the result, before the workers fork.

    The chunk path imports its modules (pydantic, numpy, the fast chunk paths) and fills
    caches on first use: done once here, the forked workers inherit them instead of each
    paying for them (measured: about 0.25 s of CPU per worker on the CLI's cold start).
    """
    head = data[first.start : min(first.stop, first.start + (1 << 16))].split(b"\n")[:-1][:16]
    lines = [line[:-1] if line.endswith(b"\r") else line for line in head]
    numbered = list(zip(range(first.first_line, first.first_line + len(lines)), lines))
    process_chunk(Chunk(first.label, first.kind, first.kind_line, numbered, []))
    return True
