"""Byte ranges of whole lines of an input file: planned by the parent, read by each worker.

With forked workers, the tokenize pipeline sends no lines through pipes: the parent
reads the file once, cuts it at line starts into ranges of about equal bytes, counts
their line numbers, and hands each worker a :class:`LineRange` (a path and two byte
offsets); the worker reads that part itself and splits it into the same lines, with the
same numbers, as :func:`alignkit.io.whole_file.read_whole` would (``\\n`` only, one ``\\r``
before it dropped, the UTF-8 byte-order mark of line 1 skipped, a last line without
``\\n`` kept), in chunks of ``chunk_lines`` from the range's start. Every line is
processed on its own and results are merged in line order, so the output does not
depend on where ranges or chunks are cut: it is the same for any number of processes.

Example:
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
    >>> _ = p.write_bytes(b'{"a": 1}\\r\\n{"b": 2}\\n{"c": 3}')
    >>> plan = plan_line_ranges(str(p), "a.jsonl", None, 0, chunk_lines=2, parts=2)
    >>> [(r.start, r.stop, r.first_line) for r in plan.ranges]
    [(0, 19, 1), (19, 27, 3)]
    >>> read_range_lines(plan.ranges[0])
    [b'{"a": 1}', b'{"b": 2}']
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from alignkit.io.jsonl import DEFAULT_MAX_LINE_BYTES, first_line_start
from alignkit.io.whole_file import read_plain
from alignkit.worker import Chunk, ChunkResult, process_chunk

#: Files larger than this are streamed (the limit :func:`~alignkit.io.whole_file.read_whole` uses).
WHOLE_FILE_LIMIT = DEFAULT_MAX_LINE_BYTES


@dataclass(frozen=True)
class LineRange:
    """Lines ``first_line, first_line + 1, ...`` of ``path``: bytes ``[start, stop)``."""

    path: str
    label: str
    kind: str | None
    kind_line: int
    start: int
    stop: int
    first_line: int
    chunk_lines: int


@dataclass(frozen=True)
class LinePlan:
    """A file's line ranges, and its bytes (for its hash) read once."""

    ranges: list[LineRange]
    data: bytes


def plan_line_ranges(path: str, label: str, kind: str | None, kind_line: int,
                     chunk_lines: int, parts: int) -> LinePlan | None:
    """Cut a plain file into at most ``parts`` ranges of whole lines; ``None``: stream it.

    Gzip files, pipes, files over
    :data:`WHOLE_FILE_LIMIT` and read errors give ``None`` (the streaming reader then
    reports what it finds, with line numbers).

    Raises:
        UsageError: the file cannot be opened, or is UTF-16.
    """
    data = read_plain(path, WHOLE_FILE_LIMIT)
    if data is None:
        return None
    begin = len(data) - len(first_line_start(data, path))
    cuts = [begin]  # each range starts at a line start at or after an equal share of the bytes
    for k in range(1, max(1, parts)):
        at = data.find(b"\n", max(cuts[-1], begin + (len(data) - begin) * k // parts))
        if at < 0 or at + 1 >= len(data):
            break
        if at + 1 > cuts[-1]:
            cuts.append(at + 1)
    cuts.append(len(data))
    ranges: list[LineRange] = []
    line = 1
    for start, stop in zip(cuts, cuts[1:]):
        if start < stop or (data and not ranges and stop == len(data)):  # a lone BOM: one blank line
            ranges.append(LineRange(path, label, kind, kind_line, start, stop, line, chunk_lines))
            line += data.count(b"\n", start, stop)
    return LinePlan(ranges, data)


def read_range_lines(r: LineRange) -> list[bytes]:
    """The lines of range ``r``, read from its file (line endings removed)."""
    fd = os.open(r.path, os.O_RDONLY)
    try:
        parts: list[bytes] = []
        at = r.start
        while at < r.stop:
            part = os.pread(fd, r.stop - at, at)
            if not part:
                raise OSError(f"{r.label}: the file shrank while being read (at byte {at})")
            parts.append(part)
            at += len(part)
    finally:
        os.close(fd)
    data = parts[0] if len(parts) == 1 else b"".join(parts)  # (no part: a lone BOM's empty line)
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    if b"\r" in data:
        for k in range(len(lines)):
            if lines[k].endswith(b"\r"):
                lines[k] = lines[k][:-1]
    return lines


def process_line_range(r: LineRange, fd: int = -1) -> list[ChunkResult]:
    """Read range ``r`` and process its chunks (in a worker; see :func:`alignkit.worker.process_chunk`).

    With a file descriptor ``fd`` (an empty in-memory file the parent opened before the
    fork), the numpy columns go there and the results hold references
    (:func:`alignkit.result_files.stash`); the parent calls ``restore``.
    """
    lines = read_range_lines(r)
    out: list[ChunkResult] = []
    for start in range(0, len(lines), r.chunk_lines):
        part = lines[start : start + r.chunk_lines]
        first = r.first_line + start
        out.append(process_chunk(Chunk(r.label, r.kind, r.kind_line, list(zip(range(first, first + len(part)), part)), [])))
    if fd >= 0:
        from alignkit.result_files import stash

        stash(out, fd)
    return out
