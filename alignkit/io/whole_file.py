"""A JSONL file read in one piece: its lines and its sha256 from one read.

For a plain (not gzipped) regular file no larger than the line limit,
:func:`read_whole` reads the bytes once, hashes them and splits them into the same
lines :func:`alignkit.io.jsonl.read_lines` yields (``\\n`` only, one ``\\r`` before it
dropped, a UTF-8 byte-order mark on line 1 dropped, a last line without ``\\n`` kept).
Such a file cannot hold a line over the limit (a line is never longer than its file),
so the only per-line error of the streaming reader cannot happen, and memory stays
within the same bound (one line's worth, ``max_line_bytes``). Anything else (gzip, a
pipe, a larger file, a read error) gives ``None``: stream it with ``read_lines``.

    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
    >>> _ = p.write_bytes(b'\\xef\\xbb\\xbf{"a": 1}\\r\\n{"b": 2}')
    >>> whole = read_whole(p)
    >>> whole.lines, whole.size
    ([b'{"a": 1}', b'{"b": 2}'], 21)
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
from collections.abc import Iterator
from io import BufferedIOBase

from alignkit._records import Frozen
from alignkit.errors import UsageError

from alignkit.io.jsonl import DEFAULT_MAX_LINE_BYTES, first_line_start, open_binary


class WholeFile(Frozen):
    """The lines of a file (line ``k + 1`` is ``lines[k]``), its sha256 and size in bytes.

    Immutable, equal field by field (:class:`alignkit._records.Frozen`; unhashable in
    practice: ``lines`` is a list).
    """

    __slots__ = ("lines", "sha256", "size")
    lines: list[bytes]
    sha256: str
    size: int

    def __init__(self, lines: list[bytes], sha256: str, size: int) -> None:
        super().__init__(lines, sha256, size)


def read_whole(path: str | os.PathLike[str], max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> WholeFile | None:
    """The file's lines and hash from one read, or ``None`` when it must be streamed.

    Raises:
        UsageError: the file cannot be opened, or is UTF-16 (the messages of ``read_lines``).
    """
    name = os.fspath(path)
    data = read_plain(path, max_line_bytes)
    if data is None:
        return None
    body = first_line_start(data, name)
    digest = hashlib.sha256(data).hexdigest()
    return WholeFile(split_lines(body) if data else [], digest, len(data))


def read_plain(path: str | os.PathLike[str], limit: int) -> bytes | None:
    """The bytes of a plain (not gzip) regular file of at most ``limit`` bytes, else ``None``.

    ``None`` also for a read error: the streaming reader then reports it, with its line number.

    Raises:
        UsageError: the file cannot be opened.
    """
    handle = _regular_file(path, limit)
    if handle is None:
        return None
    try:
        data = handle.read()
    except OSError:
        return None
    finally:
        handle.close()
    return None if len(data) > limit else data  # (it may have grown since fstat)


#: Bytes read at a time by :class:`LineBlocks`.
BLOCK_BYTES = 1 << 20


class LineBlocks:
    """A plain file's lines, block by block, hashed as they are read (see :func:`read_blocks`).

    Iterate it for lists of lines (the same lines, in order, as :func:`read_whole`);
    :attr:`sha256` and :attr:`size` are the whole file's once the iteration is over.
    Only about one block of the file is held at a time.
    """

    def __init__(self, path: str, fd: int, limit: int, block_bytes: int = BLOCK_BYTES) -> None:
        self.path = path
        self.fd = fd
        self.limit = limit
        self.block_bytes = block_bytes
        self.sha256 = ""
        self.size = 0

    def __iter__(self) -> Iterator[list[bytes]]:
        digest = hashlib.sha256()
        rest = b""  # the bytes after the last "\n" so far
        at, last = 0, b""
        try:
            while True:
                try:
                    block = os.pread(self.fd, self.block_bytes, at)
                except OSError as err:
                    raise UsageError(f"{self.path}: cannot read at byte {at}: {err}") from None
                if not block:
                    break
                digest.update(block)
                start = at == 0
                at += len(block)
                if start:
                    block = first_line_start(block, self.path)
                last = block[-1:] or last
                # the block's pieces, the first one after the bytes left over (no block copied)
                lines = block.split(b"\n")
                cr = b"\r" in block or rest.endswith(b"\r")
                if rest:
                    lines[0] = rest + lines[0]
                rest = lines.pop()  # after the block's last "\n": the start of a line
                if lines:
                    if cr:
                        _drop_cr(lines)
                    yield lines
        finally:
            os.close(self.fd)
        self.size = at
        self.sha256 = digest.hexdigest()
        if at > self.limit:
            raise UsageError(f"{self.path}: the file grew over {self.limit} bytes while being read; rerun")
        if at and last != b"\n":  # a last line without "\n" (or a file that is only a BOM)
            yield [rest[:-1] if rest.endswith(b"\r") else rest]


def split_lines(data: bytes) -> list[bytes]:
    """The lines of ``data``: split on ``\\n``, one ``\\r`` before it dropped, a last line
    without ``\\n`` kept, no empty line after a final ``\\n`` (empty ``data`` is one empty
    line: a range or file that is only a byte-order mark).

        >>> split_lines(b'{"a": 1}\\r\\n{"b": 2}')
        [b'{"a": 1}', b'{"b": 2}']
    """
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()  # the empty piece after the last "\n"
    if b"\r" in data:
        _drop_cr(lines)
    return lines


def _drop_cr(lines: list[bytes]) -> None:
    """Drop one ``\\r`` at the end of each line."""
    for k in range(len(lines)):
        if lines[k].endswith(b"\r"):
            lines[k] = lines[k][:-1]


def read_blocks(path: str | os.PathLike[str], max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                block_bytes: int = BLOCK_BYTES) -> LineBlocks | None:
    """The file's lines, read and hashed block by block, or ``None`` when it must be streamed.

    The same lines and hash as :func:`read_whole` (``None`` in the same cases: gzip, not a
    regular file, larger than ``max_line_bytes``), without holding the whole file and all
    its lines at once.

        >>> import pathlib, tempfile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
        >>> _ = p.write_bytes(b'\\xef\\xbb\\xbf{"a": 1}\\r\\n{"b": 2}')
        >>> blocks = read_blocks(p)
        >>> [line for lines in blocks for line in lines], blocks.size
        ([b'{"a": 1}', b'{"b": 2}'], 21)

    Raises:
        UsageError: the file cannot be opened, or is UTF-16 (the messages of ``read_lines``).
    """
    name = os.fspath(path)
    handle = _regular_file(path, max_line_bytes)
    if handle is None:
        return None
    try:
        return LineBlocks(name, os.dup(handle.fileno()), max_line_bytes, block_bytes)
    finally:
        handle.close()


def _regular_file(path: str | os.PathLike[str], limit: int) -> BufferedIOBase | None:
    """``path`` opened, if it is a plain (not gzip) regular file of at most ``limit`` bytes; else ``None``.

    Raises:
        UsageError: the file cannot be opened.
    """
    handle = open_binary(path)
    try:
        info = None if isinstance(handle, gzip.GzipFile) else os.fstat(handle.fileno())
    except OSError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode) or info.st_size > limit:
        handle.close()
        return None
    return handle
