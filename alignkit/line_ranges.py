"""Byte ranges of whole lines of an input file: planned by the parent, read by each worker.

With forked workers, the tokenize pipeline sends no lines through pipes: the parent cuts
each file at line starts into ranges (:func:`cut_file`: a few small reads near each cut;
:class:`RangeSizes` says how long), and each process reads the ranges it takes itself and
splits them into the same lines as :func:`alignkit.io.whole_file.read_whole` would
(``\\n`` only, one ``\\r`` before it dropped, the UTF-8 byte-order mark of line 1 skipped, a
last line without ``\\n`` kept), in chunks of ``chunk_lines`` from the range's start,
numbered from the range's ``first_line`` (:func:`process_line_range` also says how many
lines the range held, so the numbers can be moved later). Every line is processed on its
own and results are merged in line order, so the output does not depend on where ranges
or chunks are cut: it is the same for any number of processes.

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

from alignkit._records import Frozen
from alignkit.bpe._fd import read_at
from alignkit.io.jsonl import DEFAULT_MAX_LINE_BYTES, first_line_start
from alignkit.io.whole_file import read_plain, split_lines
from alignkit.worker import Chunk, ChunkResult, process_chunk

#: Files larger than this are streamed (the limit :func:`~alignkit.io.whole_file.read_whole` uses).
WHOLE_FILE_LIMIT = DEFAULT_MAX_LINE_BYTES


class LineRange(Frozen):
    """Lines ``first_line, first_line + 1, ...`` of ``path``: bytes ``[start, stop)``."""

    __slots__ = ("path", "label", "kind", "kind_line", "start", "stop", "first_line", "chunk_lines")
    path: str
    label: str
    kind: str | None
    kind_line: int
    start: int
    stop: int
    first_line: int
    chunk_lines: int

    def __init__(self, path: str, label: str, kind: str | None, kind_line: int, start: int, stop: int,
                 first_line: int, chunk_lines: int) -> None:
        super().__init__(path, label, kind, kind_line, start, stop, first_line, chunk_lines)


class LinePlan(Frozen):
    """A file's line ranges, and its bytes (for its hash) read once."""

    __slots__ = ("ranges", "data")
    ranges: list[LineRange]
    data: bytes

    def __init__(self, ranges: list[LineRange], data: bytes) -> None:
        super().__init__(ranges, data)


class FileCuts(Frozen):
    """Where a plain file is cut into ranges of whole lines: ``cuts[k]`` to ``cuts[k + 1]``.

    Found with a few small reads near each cut (the file itself is not read here).
    ``cuts[0]`` is the first line's start (after a UTF-8 byte-order mark).
    """

    __slots__ = ("path", "size", "cuts")
    path: str
    size: int
    cuts: list[int]

    def __init__(self, path: str, size: int, cuts: list[int]) -> None:
        super().__init__(path, size, cuts)

    def spans(self) -> list[tuple[int, int]]:
        """The ``[start, stop)`` byte spans of the ranges (a file that is only a BOM: one empty span)."""
        pairs = list(zip(self.cuts, self.cuts[1:]))
        return [(a, b) for a, b in pairs if a < b] or ([pairs[0]] if self.size and pairs else [])


_PROBE = 1 << 16


class RangeSizes:
    """Range lengths for a job of ``total`` bytes shared by ``procs`` processes.

    Ranges of ``total / (procs * per_proc)`` bytes, tapering at the end of the job (each at
    most ``1 / (2 * procs)`` of the bytes left, down to an eighth of the full length), so
    that the processes finish close together: the last ranges are short.

        >>> sizes = RangeSizes(1600, 2, 4)
        >>> [sizes.take(sizes.next()) for _ in range(3)], sizes.next()
        ([200, 200, 200], 200)
        >>> sizes.left = 300
        >>> sizes.next()
        75
    """

    def __init__(self, total: int, procs: int, per_proc: int) -> None:
        self.left = total
        self.procs = max(1, procs)
        self.full = max(1, -(-total // (self.procs * max(1, per_proc))))
        self.least = max(1, self.full // 8)

    def next(self) -> int:
        """The length of the next range (before it is cut at a line end)."""
        return min(self.full, max(self.least, self.left // (2 * self.procs)))

    def take(self, length: int) -> int:
        """Count ``length`` bytes as cut; return it."""
        self.left -= length
        return length


def cut_file(path: str, parts: int, sizes: RangeSizes | None = None) -> FileCuts | None:
    """Cut a plain file into spans of whole lines; ``None``: stream it.

    Without ``sizes``: at most ``parts`` spans of about equal bytes. With ``sizes``: spans of
    the lengths it gives (it counts the file's bytes as cut).

    Gzip files, pipes and files over :data:`WHOLE_FILE_LIMIT` give ``None``.

    Raises:
        UsageError: the file cannot be opened, or is UTF-16.
    """
    import gzip
    import stat

    from alignkit.io.jsonl import open_binary

    handle = open_binary(path)
    try:
        if isinstance(handle, gzip.GzipFile):
            return None
        fd = handle.fileno()
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > WHOLE_FILE_LIMIT:
            return None
        size = info.st_size
        head = os.pread(fd, 4, 0)
        begin = len(head) - len(first_line_start(head, path))
        cuts = [begin]  # each span starts at a line start at or after its target
        if sizes is not None:
            while cuts[-1] < size:
                at = _next_newline(fd, cuts[-1] + max(1, sizes.next()) - 1, size)
                cuts.append(size if at < 0 else at + 1)
                sizes.take(cuts[-1] - cuts[-2])
            if len(cuts) == 1:
                cuts.append(size)
            return FileCuts(path, size, cuts)
        for k in range(1, max(1, parts)):
            at = _next_newline(fd, max(cuts[-1], begin + (size - begin) * k // parts), size)
            if at < 0 or at + 1 >= size:
                break
            if at + 1 > cuts[-1]:
                cuts.append(at + 1)
        cuts.append(size)
        return FileCuts(path, size, cuts)
    except OSError:
        return None  # the streaming reader reports it, with its line number
    finally:
        handle.close()


def _next_newline(fd: int, at: int, size: int) -> int:
    """The offset of the first ``\n`` at or after ``at``, or -1."""
    while at < size:
        block = os.pread(fd, min(_PROBE, size - at), at)
        if not block:
            return -1
        k = block.find(b"\n")
        if k >= 0:
            return at + k
        at += len(block)
    return -1


def read_span(fd: int, start: int, stop: int, label: str) -> bytes:
    """Bytes ``[start, stop)`` of file ``fd``, all of them.

    Raises:
        OSError: the file ended before ``stop`` (it shrank while being read).
    """
    data = read_at(fd, start, stop)
    if len(data) < stop - start:
        raise OSError(f"{label}: the file shrank while being read (at byte {start + len(data)})")
    return data


def plan_line_ranges(path: str, label: str, kind: str | None, kind_line: int,
                     chunk_lines: int, parts: int) -> LinePlan | None:
    """Cut a plain file into at most ``parts`` ranges of whole lines, numbered; ``None``: stream it.

    The whole file is read once (its bytes come back for the hash); the tokenize pipeline
    uses :func:`cut_file` and numbers the ranges as it reads them instead.

    Raises:
        UsageError: the file cannot be opened, or is UTF-16.
    """
    plan = cut_file(path, parts)
    data = read_plain(path, WHOLE_FILE_LIMIT) if plan is not None else None
    if plan is None or data is None or len(data) != plan.size:
        return None
    ranges: list[LineRange] = []
    line = 1
    for start, stop in plan.spans():
        ranges.append(LineRange(path, label, kind, kind_line, start, stop, line, chunk_lines))
        line += data.count(b"\n", start, stop)
    return LinePlan(ranges, data)


def read_range_lines(r: LineRange) -> list[bytes]:
    """The lines of range ``r``, read from its file (line endings removed)."""
    fd = os.open(r.path, os.O_RDONLY)
    try:
        data = read_span(fd, r.start, r.stop, r.label)  # (empty: a lone BOM's empty line)
    finally:
        os.close(fd)
    return split_lines(data)


def process_line_range(r: LineRange) -> tuple[list[ChunkResult], int]:
    """Read range ``r`` and process its chunks; also return how many lines it holds.

    Its lines are numbered from ``r.first_line`` (a process that does not know where the
    range starts numbers them from 1, and the line numbers of its rejects are moved later).
    """
    lines = read_range_lines(r)
    out: list[ChunkResult] = []
    for start in range(0, len(lines), r.chunk_lines):
        part = lines[start : start + r.chunk_lines]
        first = r.first_line + start
        out.append(process_chunk(Chunk(r.label, r.kind, r.kind_line, list(zip(range(first, first + len(part)), part)), [])))
    return out, len(lines)
