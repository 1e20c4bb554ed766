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
from dataclasses import dataclass

from alignkit.io.jsonl import DEFAULT_MAX_LINE_BYTES, first_line_start, open_binary


@dataclass(frozen=True)
class WholeFile:
    """The lines of a file (line ``k + 1`` is ``lines[k]``), its sha256 and size in bytes."""

    lines: list[bytes]
    sha256: str
    size: int


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
    ends = not data or data.endswith(b"\n")
    lines = body.split(b"\n")
    if ends:
        lines.pop()  # the empty piece after the last "\n" (or of an empty file)
    if b"\r" in body:
        for k in range(len(lines)):
            line = lines[k]
            if line.endswith(b"\r"):
                lines[k] = line[:-1]
    return WholeFile(lines, digest, len(data))


def read_plain(path: str | os.PathLike[str], limit: int) -> bytes | None:
    """The bytes of a plain (not gzip) regular file of at most ``limit`` bytes, else ``None``.

    ``None`` also for a read error: the streaming reader then reports it, with its line number.

    Raises:
        UsageError: the file cannot be opened.
    """
    handle = open_binary(path)
    try:
        if isinstance(handle, gzip.GzipFile):
            return None
        try:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
                return None
            data = handle.read()
        except OSError:
            return None
    finally:
        handle.close()
    return None if len(data) > limit else data  # (it may have grown since fstat)
