"""Plain input files' results from this process and forked workers, in input order.

:class:`ForkedFiles` gathers consecutive plain files cut into byte ranges
(:mod:`alignkit.line_ranges`) and runs them as one :class:`~alignkit.range_workers.RangeJob`:
this process forks the workers, hashes the files and the tokenizer while they start, then
takes ranges itself and, between them, hands out the results finished so far, in order,
so that the output is written while the rest is encoded. A range's lines are numbered
from 1 where it is processed; the line numbers of its rejects are moved when it is handed
out (nobody counts lines ahead). See :func:`alignkit.chunk_results.file_results`.

    >>> files = ForkedFiles(config, 2, hashes, 256)  # doctest: +SKIP
    >>> files.add("a.jsonl", "sft", 1, size, spans)  # doctest: +SKIP
    >>> results = list(files.run())  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from alignkit.chunk_results import input_label
from alignkit.worker import (
    Chunk,
    ChunkResult,
    TokenizeConfig,
    init_worker,
    process_chunk,
)

if TYPE_CHECKING:
    from alignkit.line_ranges import LineRange

#: Whether this process takes ranges too on the forked path (tests switch it off to be sure
#: that the workers do all of them).
_PARENT_TAKES = True
#: At most this many in-memory result files per run (each mapped one holds a descriptor until
#: its results are dropped); ranges beyond them send their columns pickled.
_MAX_RESULT_FILES = 128
_HASH_BLOCK = 1 << 22


class ForkedFiles:
    """Consecutive plain files' ranges, run together by a :class:`~alignkit.range_workers.RangeJob`.

    :meth:`add` files (cut into ranges), then :meth:`run` for their results in order.
    """

    def __init__(self, config: TokenizeConfig, num_proc: int, hashes: dict[str, tuple[str, int]],
                 chunk_lines: int) -> None:
        self.config = config
        self.chunk_lines = chunk_lines
        self.num_proc = num_proc
        self.hashes = hashes
        self.ranges: list[LineRange] = []
        self.file_of: list[int] = []  # the index in ``files`` of each range's file
        self.files: list[tuple[str, int]] = []  # path, size
        self.warm = self.described = False
        self.slots = _MAX_RESULT_FILES  # in-memory result files left to this run

    def add(self, path: str, label: str, kind: str | None, kind_line: int, size: int,
            spans: list[tuple[int, int]]) -> None:
        """Add a file's ranges (its lines numbered from 1 in each range: moved when handed out);
        ``label`` names the file in outputs and messages."""
        from alignkit.line_ranges import LineRange

        for start, stop in spans:
            self.ranges.append(LineRange(path, label, kind, kind_line, start, stop, 1, self.chunk_lines))
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
    from alignkit.bpe._fd import read_at
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
