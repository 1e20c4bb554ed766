"""Chunk results' columns handed from a forked worker to the parent through an in-memory file.

A pickled numpy column is copied four times on its way through a pipe (into the pickle,
into the pipe, out of it, into a new array), two of them in the parent, whose CPU the
workers need. Instead the worker writes each column once into an anonymous file that
the parent opened before the fork (:func:`alignkit.bpe._fork_batch.memory_file`) and
sends only :class:`Ref` entries; the parent maps the file and views the columns where
they lie (copy-on-write, so they stay writable), until the output concatenates them.

Example:
    >>> import numpy as np
    >>> from alignkit.bpe._fork_batch import memory_file
    >>> from alignkit.manifest import RunStats
    >>> from alignkit.worker import ChunkResult
    >>> fd = memory_file()
    >>> results = [ChunkResult([(np.arange(3, dtype=np.uint32), np.array([3]))], [], RunStats())]
    >>> stash(results, fd)
    >>> type(results[0].columns[0][0]).__name__
    'Ref'
    >>> restore(results, fd)
    >>> results[0].columns[0][0].tolist()
    [0, 1, 2]
"""

from __future__ import annotations

import importlib
import mmap
import os
from dataclasses import dataclass
from typing import Any

from alignkit.bpe._fork_batch import write_at
from alignkit.io.flat import Flat
from alignkit.worker import ChunkResult

_ALIGN = 16


@dataclass(frozen=True)
class Ref:
    """A 1-D array of ``count`` items of ``dtype`` at byte ``offset`` of the result file."""

    offset: int
    dtype: str
    count: int


def stash(results: list[ChunkResult], fd: int) -> None:
    """Move the 1-D numpy columns of ``results`` into file ``fd`` (empty), leaving :class:`Ref` s."""
    np: Any = importlib.import_module("numpy")
    at = 0

    def put(value: Any) -> Any:
        nonlocal at
        if isinstance(value, Flat):  # the fast paths' numpy-free pieces: a zero-copy numpy view
            value = value.numpy()
        if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype.hasobject:
            return value  # anything else travels pickled, as before
        data = memoryview(np.ascontiguousarray(value)).cast("B")
        at = -(-at // _ALIGN) * _ALIGN
        ref = Ref(at, value.dtype.str, len(value))
        at = write_at(fd, data, at)
        return ref

    for result in results:
        result.columns = [(put(values), put(lengths)) for values, lengths in result.columns]


def restore(results: list[ChunkResult], fd: int) -> None:
    """Replace the :class:`Ref` s of ``results`` by views of file ``fd``; close ``fd``."""
    np: Any = importlib.import_module("numpy")
    size = os.fstat(fd).st_size
    view = mmap.mmap(fd, size, access=mmap.ACCESS_COPY) if size else b""
    os.close(fd)

    def get(value: Any) -> Any:
        if not isinstance(value, Ref):
            return value
        if not value.count:
            return np.zeros(0, dtype=np.dtype(value.dtype))
        return np.frombuffer(view, dtype=np.dtype(value.dtype), count=value.count, offset=value.offset)

    for result in results:
        result.columns = [(get(values), get(lengths)) for values, lengths in result.columns]
