"""Anonymous in-memory files and whole reads and writes at an offset of a file descriptor.

What forked workers and their parent share files with (:mod:`alignkit.bpe._fork_batch`,
:mod:`alignkit.range_workers`, :mod:`alignkit.result_files`, :mod:`alignkit.line_ranges`);
kept apart from those so that importing them costs no more than ``os``.

    >>> fd = memory_file()
    >>> write_at(fd, memoryview(b"hello world"), 0), read_at(fd, 6, 11), read_at(fd, 9, 20)
    (11, b'world', b'ld')
    >>> os.close(fd)
"""

from __future__ import annotations

import os


def memory_file() -> int:
    """A file descriptor of an anonymous file (in memory where the system offers it)."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create("alignkit-batch")
    import tempfile  # (only where there is no memfd)

    handle = tempfile.TemporaryFile()  # unnamed where possible
    fd = os.dup(handle.fileno())
    handle.close()
    return fd


def write_at(fd: int, data: memoryview, at: int) -> int:
    """Write all of ``data`` at byte ``at`` of file ``fd`` (``pwrite`` may write less); its end."""
    while len(data):
        n = os.pwrite(fd, data, at)
        data = data[n:]
        at += n
    return at


def read_at(fd: int, start: int, stop: int) -> bytes:
    """Bytes ``[start, stop)`` of file ``fd`` (``pread`` may read less); shorter only where the file ends."""
    parts: list[bytes] = []
    at = start
    while at < stop:
        part = os.pread(fd, stop - at, at)
        if not part:
            break
        parts.append(part)
        at += len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)
