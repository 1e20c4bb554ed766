"""Chunk results' columns handed from a forked worker to the parent through an in-memory file.

A pickled numpy column is copied four times on its way through a pipe (into the pickle,
into the pipe, out of it, into a new array), two of them in the parent, whose CPU the
workers need. Instead the worker writes each column once into an anonymous file that
the parent opened before the fork (:func:`alignkit.bpe._fd.memory_file`) and
sends only :class:`Ref` entries; the parent maps the file and views the columns where
they lie (copy-on-write, so they stay writable), until the output concatenates them. The
fast paths' :class:`~alignkit.io.flat.Flat` pieces come back as ``Flat`` pieces (no numpy).

Example:
    >>> import numpy as np
    >>> from alignkit.bpe._fd import memory_file
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
from typing import Any

from alignkit._records import Frozen
from alignkit.bpe._fd import write_at
from alignkit.io.flat import WIDTHS, Flat
from alignkit.worker import ChunkResult

_ALIGN = 16


class Ref(Frozen):
    """A 1-D array of ``count`` items of ``dtype`` at byte ``offset`` of the result file.

    ``flat``: it was a :class:`~alignkit.io.flat.Flat` (``dtype`` is its dtype name) and comes
    back as one, so the fast paths' columns cross without numpy on either side.

    Immutable, equal and hashed by its fields (:class:`alignkit._records.Frozen`).

        >>> Ref(16, "<u4", 3), Ref(0, "int32", 2, True) == Ref(0, "int32", 2, True)
        (Ref(offset=16, dtype='<u4', count=3, flat=False), True)
    """

    __slots__ = ("offset", "dtype", "count", "flat")
    offset: int
    dtype: str
    count: int
    flat: bool

    def __init__(self, offset: int, dtype: str, count: int, flat: bool = False) -> None:
        super().__init__(offset, dtype, count, flat)


def stash(results: list[ChunkResult], fd: int) -> None:
    """Move the 1-D columns of ``results`` (numpy arrays, :class:`~alignkit.io.flat.Flat`
    pieces) into file ``fd`` (empty), leaving :class:`Ref` s. numpy is imported only for a
    column that is not a ``Flat``."""
    at = 0
    np: Any = None

    def put(value: Any) -> Any:
        nonlocal at, np
        if isinstance(value, Flat):
            data = value.view.cast("B")
            ref = Ref(-(-at // _ALIGN) * _ALIGN, value.dtype, len(value), True)
        else:
            np = np or importlib.import_module("numpy")
            if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype.hasobject:
                return value  # anything else travels pickled, as before
            data = memoryview(np.ascontiguousarray(value)).cast("B")
            ref = Ref(-(-at // _ALIGN) * _ALIGN, value.dtype.str, len(value))
        at = write_at(fd, data, ref.offset)
        return ref

    for result in results:
        result.columns = [(put(values), put(lengths)) for values, lengths in result.columns]


def restore(results: list[ChunkResult], fd: int) -> None:
    """Replace the :class:`Ref` s of ``results`` by views of file ``fd``; close ``fd``."""
    size = os.fstat(fd).st_size
    view = memoryview(mmap.mmap(fd, size, access=mmap.ACCESS_COPY) if size else b"")
    os.close(fd)
    np: Any = None

    def get(value: Any) -> Any:
        nonlocal np
        if not isinstance(value, Ref):
            return value
        if value.flat:
            return Flat(view[value.offset : value.offset + value.count * WIDTHS[value.dtype]], value.dtype)
        np = np or importlib.import_module("numpy")
        if not value.count:
            return np.zeros(0, dtype=np.dtype(value.dtype))
        return np.frombuffer(view, dtype=np.dtype(value.dtype), count=value.count, offset=value.offset)

    for result in results:
        result.columns = [(get(values), get(lengths)) for values, lengths in result.columns]
