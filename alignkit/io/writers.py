"""Column writers: Arrow (``datasets.load_from_disk``), npy, Parquet, JSONL.

A table is a list of :class:`Column`: a name, a numpy dtype name and one list of
ints per row (rows may differ in length). Every writer checks that each value
fits its dtype *before* casting (a typed :class:`~alignkit.errors.OutputError`,
never a silent wrap-around) and writes deterministic bytes: the same columns
give the same files.

Files per format:

* ``arrow``: ``data-00000-of-00001.arrow`` (Arrow IPC stream), ``dataset_info.json``
  and ``state.json``, the layout ``datasets.load_from_disk`` reads;
* ``npy``: ``<column>.npy`` (all rows concatenated) and ``<column>.offsets.npy``
  (``int64``, rows + 1 entries: row ``i`` is ``values[offsets[i]:offsets[i+1]]``),
  memory-mappable with ``numpy.load(path, mmap_mode="r")``;
* ``parquet``: ``data.parquet``;
* ``jsonl``: ``data.jsonl``, one object per row.

    >>> token_dtype(65_536), token_dtype(65_537)
    ('uint16', 'uint32')
"""

from __future__ import annotations

import itertools
import json
from array import array
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from alignkit.errors import OutputError
from alignkit.io.arrow_files import ARROW_FILE as ARROW_FILE
from alignkit.io.chunked import ChunkedColumn

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from alignkit.io.atomic import AtomicOutputDir

FORMATS: tuple[str, ...] = ("arrow", "npy", "parquet", "jsonl")


def token_dtype(n_vocab: int) -> str:
    """``uint16`` when every id of a vocabulary of ``n_vocab`` ids fits, else ``uint32``."""
    return "uint16" if n_vocab <= 1 << 16 else "uint32"


def position_dtype(max_len: int) -> str:
    """The dtype for positions ``0 .. max_len - 1``."""
    return "uint16" if max_len <= 1 << 16 else "uint32"


class Column:
    """One output column: a ``name``, a numpy ``dtype`` name, and its rows.

    Stored flat: ``values`` (all rows concatenated, in ``dtype``) and ``offsets``
    (``int64``, rows + 1 entries). Build it from int lists (``Column(name, dtype, rows)``)
    or from flat arrays (:meth:`from_flat`); either way every value is range-checked
    before the cast.

    Raises:
        OutputError: a value does not fit the dtype.
    """

    def __init__(self, name: str, dtype: str, rows: list[list[int]]) -> None:
        values, lengths = flat_rows(name, dtype, rows)
        self._set(name, dtype, values, lengths)

    @classmethod
    def from_flat(cls, name: str, dtype: str, values: npt.NDArray[np.generic],
                  lengths: npt.NDArray[np.int64]) -> Column:
        """A column from concatenated ``values`` and per-row ``lengths``."""
        column = cls.__new__(cls)
        column._set(name, dtype, values, lengths)
        return column

    def _set(self, name: str, dtype: str, values: npt.NDArray[np.generic],
             lengths: npt.NDArray[np.int64]) -> None:
        import numpy as np

        self.name = name
        self.dtype = dtype
        self.offsets: npt.NDArray[np.int64] = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.offsets[1:])
        if int(self.offsets[-1]) != len(values):
            raise OutputError(f"column {name!r}: {len(values)} values but the lengths sum to"
                              f" {int(self.offsets[-1])}")
        self.values: npt.NDArray[np.generic] = checked_cast(name, values, dtype)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row(self, i: int) -> list[int]:
        """Row ``i`` as a list of ints."""
        out: list[int] = self.values[int(self.offsets[i]) : int(self.offsets[i + 1])].tolist()
        return out


#: numpy dtype name → ``array`` typecode of the same size and signedness.
_TYPECODES = {"uint8": "B", "int8": "b", "uint16": "H", "int16": "h", "uint32": "I", "int32": "i",
              "int64": "q", "uint64": "Q"}


def flat_rows(name: str, dtype: str, rows: Iterable[list[int]]) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.int64]]:
    """Rows of ints → (values concatenated in ``dtype``, ``int64`` row lengths), range-checked.

    The rows are joined into one list first (``list.extend`` is a C copy), then
    converted in one call, each value checked in C: ``bytearray()`` for ``uint8`` and
    ``array.fromlist`` otherwise (both raise on a value out of range), several times
    faster than ``numpy.fromiter`` over a chain of lists.

        >>> values, lengths = flat_rows("role_ids", "uint8", [[1, 2], [], [4]])
        >>> values.tolist(), lengths.tolist()
        ([1, 2, 4], [2, 0, 1])

    Raises:
        OutputError: a value does not fit ``dtype``.
    """
    import numpy as np

    acc = array(_TYPECODES[dtype])
    if acc.itemsize != np.dtype(dtype).itemsize:  # an unusual C ABI: take the numpy path
        rows = list(rows)
        lens = np.array([len(r) for r in rows], dtype=np.int64)
        wide = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=int(lens.sum()))
        return checked_cast(name, wide, dtype), lens
    lengths: list[int] = []
    flat: list[int] = []
    for row in rows:
        flat.extend(row)
        lengths.append(len(row))
    try:
        if dtype == "uint8":
            packed: bytearray | array[int] = bytearray(flat)
        else:
            acc.fromlist(flat)
            packed = acc
    except (OverflowError, ValueError):
        bad = [v for v in flat if not _fits(v, dtype)]
        raise OutputError(
            f"column {name!r}: value {bad[0] if bad else '?'} does not fit {dtype}; this is a bug"
            " in the dtype choice, please report it"
        ) from None
    values = np.frombuffer(packed, dtype=np.dtype(dtype)) if len(flat) else np.zeros(0, dtype=dtype)
    return values, np.array(lengths, dtype=np.int64)


def _fits(value: int, dtype: str) -> bool:
    import numpy as np

    info = np.iinfo(np.dtype(dtype))
    return info.min <= value <= info.max


def checked_cast(name: str, values: npt.NDArray[np.generic], dtype: str) -> npt.NDArray[np.generic]:
    """``values`` as ``dtype``, after checking that every value fits (never a silent wrap)."""
    import numpy as np

    if values.dtype == np.dtype(dtype):
        return values
    info = np.iinfo(np.dtype(dtype))
    if len(values):
        low, high = int(values.min()), int(values.max())
        if low < info.min or high > info.max:
            bad = high if high > info.max else low
            raise OutputError(
                f"column {name!r}: value {bad} does not fit {dtype} ({info.min}..{info.max});"
                " this is a bug in the dtype choice, please report it"
            )
    target = np.dtype(dtype)
    if values.dtype.kind in "iu" and values.dtype.isnative and values.dtype.itemsize == target.itemsize:
        return values.view(target)  # same bits for the values checked above: no copy
    return values.astype(dtype)


def concat_flat(arrays: list[npt.NDArray[np.generic]], dtype: str) -> npt.NDArray[np.generic]:
    """``numpy.concatenate(arrays)``, into memory the kernel maps in ordinary pages.

    numpy asks the kernel for transparent huge pages for every array of 4 MiB or more
    (``madvise``). Where the kernel has no free huge page at hand (THP in ``madvise``
    mode on a long-running, busy host) each first write to 2 MiB of the array waits for
    memory compaction: joining the 25 MB of the tokenize benchmark's columns took
    0.010-0.061 s CPU from run to run that way, and a steady 0.014 s in this memory
    (a ``bytearray``: zeroed pages mapped on first write, no huge-page request).
    Arrays not all of ``dtype`` take ``numpy.concatenate`` itself, so the result is
    always exactly what it returns.

        >>> import numpy as np
        >>> concat_flat([np.arange(3, dtype=np.int32), np.arange(2, dtype=np.int32)], "int32").tolist()
        [0, 1, 2, 0, 1]
    """
    import numpy as np

    target = np.dtype(dtype)
    if not arrays or any(a.dtype != target or a.ndim != 1 for a in arrays):
        return np.concatenate(arrays)
    total = sum(len(a) for a in arrays)
    if total == 0:
        return np.concatenate(arrays)
    out = np.frombuffer(bytearray(total * target.itemsize), dtype=target)
    np.concatenate(arrays, out=out)
    return out


def flat_values(column: Column) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.int64]]:
    """The column's values concatenated (in its dtype) and its ``int64`` row offsets."""
    return column.values, column.offsets


def write_columns(out: AtomicOutputDir, columns: Sequence[Column | ChunkedColumn], fmt: str) -> None:
    """Write ``columns`` into ``out`` in format ``fmt`` (one of :data:`FORMATS`).

    Arrow output is written batch by batch from the columns' pieces
    (:func:`~alignkit.io.arrow_stream.write_arrow`); every other format joins them first.
    """
    if fmt not in FORMATS:
        raise OutputError(f"unknown output format {fmt!r}; use one of {', '.join(FORMATS)}")
    n_rows = {len(c) for c in columns}
    if len(n_rows) > 1:
        raise OutputError(f"columns of different row counts: {sorted(n_rows)}")
    if fmt == "arrow":
        from alignkit.io.arrow_stream import write_arrow

        write_arrow(out, columns)
        return
    joined = [c.joined() if isinstance(c, ChunkedColumn) else c for c in columns]
    if fmt == "npy":
        _write_npy(out, joined)
    elif fmt == "jsonl":
        _write_jsonl(out, joined)
    else:
        import pyarrow.parquet as pq

        from alignkit.io.arrow_files import arrow_table

        pq.write_table(arrow_table(joined), out.file("data.parquet"))
        out.seal("data.parquet")


def _write_npy(out: AtomicOutputDir, columns: list[Column]) -> None:
    import numpy as np

    for column in columns:
        values, offsets = flat_values(column)
        for name, array in ((f"{column.name}.npy", values), (f"{column.name}.offsets.npy", offsets)):
            with open(out.file(name), "wb") as handle:
                np.save(handle, array, allow_pickle=False)
            out.seal(name)


def _write_jsonl(out: AtomicOutputDir, columns: list[Column]) -> None:
    name = "data.jsonl"
    n = len(columns[0]) if columns else 0
    with open(out.file(name), "w", encoding="utf-8", newline="\n") as handle:
        for i in range(n):
            row = {c.name: c.row(i) for c in columns}
            handle.write(json.dumps(row, separators=(",", ":")))
            handle.write("\n")
    out.seal(name)
