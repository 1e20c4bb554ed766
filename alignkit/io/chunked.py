"""Output columns kept as the pipeline's chunks, written to Arrow without joining them first.

The pipeline encodes its input in chunks of lines; each chunk hands back, per column,
its flat ``values`` and per-row ``lengths``. A :class:`ChunkedColumn` keeps those
pieces as they are. The Arrow writer (:class:`~alignkit.io.arrow_stream.ArrowStream`)
reads them with a :class:`BatchCursor`, which hands over each record batch of
:data:`BATCH_ROWS` rows as views of the pieces that hold its rows, written one after
another, instead of first copying every chunk into whole columns (25 MB of fresh
memory for the tokenize benchmark's 12,645 conversations, each page faulted in once) and
slicing those. The bytes are those of a ``pyarrow.Table`` of the joined columns cut by
``Table.to_batches`` (tested against exactly that). Other formats join the pieces
(:meth:`ChunkedColumn.joined`); whole columns become one piece each (:func:`as_chunked`).
Pieces given as :class:`~alignkit.io.flat.Flat` buffers (the fast chunk paths) are held and
read without numpy; row lengths are held as ``int64`` ``memoryview`` s, with each piece's
row starts (its prefix sums, computed once) for the sizes and offsets of the batches.

    >>> import numpy as np
    >>> col = ChunkedColumn("role_ids", "uint8", [(np.array([1, 2, 3], dtype=np.uint8), np.array([2, 1])),
    ...                                           (np.array([4], dtype=np.uint8), np.array([1]))])
    >>> len(col), col.joined().row(2)
    (3, [4])
"""

from __future__ import annotations

from array import array
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from alignkit.errors import OutputError
from alignkit.io.flat import WIDTHS, Flat, typed_view

if TYPE_CHECKING:
    from alignkit.io.writers import Column

#: Rows per Arrow record batch (what ``Table.to_batches(max_chunksize=...)`` cut before).
BATCH_ROWS = 1000
_INT32_LIMIT = 1 << 31
#: What a released piece's values and lengths become (never read again).
_EMPTY: Any = ()
_NO_ROWS = [0]


class ChunkedColumn:
    """One output column as a list of pieces ``(values, int64 lengths)``, in row order.

    Every piece's values are checked and cast to ``dtype`` here (never a silent wrap).

    Raises:
        OutputError: a value does not fit ``dtype``, or a piece's lengths do not add up.
    """

    def __init__(self, name: str, dtype: str, pieces: list[tuple[Any, Any]]) -> None:
        self.name = name
        self.dtype = dtype
        self.values: list[Any] = []
        self.lengths: list[Any] = []
        self.starts: list[list[int]] = []  # per piece: where each row starts, the total last
        self.rows = 0
        self.size = 0  # values, all rows together
        for values, lengths in pieces:
            self.add(values, lengths)

    def add(self, values: Any, lengths: Any) -> None:
        """Append one piece (its rows follow the rows already held), checked and cast to ``dtype``.

        A :class:`~alignkit.io.flat.Flat` piece of the column's dtype is held as it is (no numpy).
        """
        lengths = _int64_view(lengths)
        starts = list(accumulate(lengths, initial=0))
        total = starts[-1]
        if total != len(values):
            raise OutputError(f"column {self.name!r}: a chunk of {len(values)} values has lengths"
                              f" summing to {total}")
        self.values.append(_checked(self.name, values, self.dtype))
        self.lengths.append(lengths)
        self.starts.append(starts)
        self.rows += len(lengths)
        self.size += len(values)

    def __len__(self) -> int:
        return self.rows

    def total(self) -> int:
        """How many values the column holds, all rows together."""
        return self.size

    def joined(self) -> Column:
        """The same column as one :class:`~alignkit.io.writers.Column` (values concatenated)."""
        import numpy as np

        from alignkit.io.writers import Column, concat_flat

        pieces = [v.numpy() if isinstance(v, Flat) else v for v in self.values]
        values = concat_flat(pieces, self.dtype) if pieces else np.zeros(0, dtype=self.dtype)
        lengths = (np.concatenate([np.asarray(n, dtype=np.int64) for n in self.lengths]) if self.lengths
                   else np.zeros(0, dtype=np.int64))
        return Column.from_flat(self.name, self.dtype, values, lengths)


def _int64_view(lengths: Any) -> memoryview:
    """Row lengths as an ``int64`` ``memoryview`` (a :class:`~alignkit.io.flat.Flat`, a list, or numpy)."""
    if isinstance(lengths, Flat) and lengths.dtype == "int64":
        return lengths.view
    if isinstance(lengths, (list, tuple)):
        return typed_view(array("q", lengths), "int64")
    import numpy as np

    return typed_view(np.ascontiguousarray(lengths, dtype=np.int64), "int64")


def _checked(name: str, values: Any, dtype: str) -> Any:
    """``values`` as ``dtype``: a :class:`~alignkit.io.flat.Flat` of ``dtype`` as it is, anything
    else through :func:`~alignkit.io.writers.checked_cast` (range-checked, never a silent wrap)."""
    if isinstance(values, Flat):
        if values.dtype == dtype:
            return values
        values = values.numpy()
    from alignkit.io.writers import checked_cast

    return checked_cast(name, values, dtype)


def as_chunked(column: Column | ChunkedColumn) -> ChunkedColumn:
    """``column`` as a :class:`ChunkedColumn`: itself, or a whole column as one piece.

        >>> from alignkit.io.writers import Column
        >>> as_chunked(Column("labels", "int32", [[1, 2], [3]])).lengths[0].tolist()
        [2, 1]
    """
    import numpy as np

    if isinstance(column, ChunkedColumn):
        return column
    return ChunkedColumn(column.name, column.dtype, [(column.values, np.diff(column.offsets))])


class BatchCursor:
    """Reads a :class:`ChunkedColumn` batch by batch, as the buffers of Arrow list arrays.

    A batch's values are views of the pieces that hold them, never copied.
    """

    def __init__(self, column: ChunkedColumn) -> None:
        self.column = column
        self.piece = 0  # the piece holding the next row
        self.row = 0  # the next row, within that piece
        self.value = 0  # its first value, within that piece
        self.done = 0  # values taken so far
        self.released = 0  # pieces dropped by release()

    def take(self, count: int) -> tuple[bytes, list[Any], int]:
        """The next ``count`` rows: ``(offsets, parts, values)``.

        ``offsets`` are the bytes of the rows' ``count + 1`` int32 list offsets, from 0;
        ``parts`` are views of the pieces that, one after another, make the values buffer
        written for the batch (the rows' values, then those pyarrow sends after them: see
        :meth:`_trailing`); ``values`` is how many values the rows hold.
        """
        col = self.column
        ranges: list[tuple[int, int, int]] = []  # (piece, first value, end) in row order
        offsets = [0]
        total = 0
        left = count
        while left:
            starts = col.starts[self.piece]
            rows = len(starts) - 1
            n = min(left, rows - self.row)
            first = starts[self.row]
            offsets += [total + end - first for end in starts[self.row + 1 : self.row + n + 1]]
            size = starts[self.row + n] - first
            ranges.append((self.piece, self.value, self.value + size))
            total += size
            self.row += n
            self.value += size
            left -= n
            if self.row == rows:
                self.piece, self.row, self.value = self.piece + 1, 0, 0
        self._trailing(ranges, total)
        self.done += total
        parts = [col.values[p][start:stop] for p, start, stop in _merge(ranges)]
        return array("i", offsets).tobytes(), parts, total  # < 2**31: see ArrowStream.check

    def _trailing(self, ranges: list[tuple[int, int, int]], total: int) -> None:
        """Add to ``ranges`` the values after the batch that pyarrow writes along with it.

        Batches cut from whole columns are slices, and for a slice of fixed-width values
        pyarrow's IPC writer sends the bytes that follow it in the column's buffer as padding:
        up to the next multiple of 8 bytes; or, for a slice at the column's start whose
        length rounded up to 64 bytes reaches the column's end, the whole rest of the column.
        The same values follow the batch here, so the bytes are the same.
        """
        col = self.column
        width = WIDTHS[col.dtype]
        nbytes, first, size = total * width, self.done, col.size
        if first == 0 and -(-nbytes // 64) * 64 >= size * width:
            extra = size - total
        else:
            extra = (min(-(-nbytes // 8) * 8, (size - first) * width) - nbytes) // width
        piece, value = self.piece, self.value
        while extra > 0 and piece < len(col.values):
            k = min(extra, len(col.values[piece]) - value)
            if k:
                ranges.append((piece, value, value + k))
            extra -= k
            piece, value = piece + 1, 0

    def settled(self, count: int) -> bool:
        """Whether the next ``count`` rows are followed by at least 64 bytes of values already held.

        Then their batch is written the same whatever else comes later (:meth:`_trailing`
        looks at most 64 bytes ahead), so a stream can write it before the column is complete.
        """
        col = self.column
        total, piece, row, left = 0, self.piece, self.row, count
        while left and piece < len(col.starts):
            starts = col.starts[piece]
            n = min(left, len(starts) - 1 - row)
            total += starts[row + n] - starts[row]
            left -= n
            piece, row = piece + 1, 0
        return not left and (col.size - self.done - total) * WIDTHS[col.dtype] >= 64

    def release(self) -> None:
        """Drop the column's pieces before the next row (written already) to free their memory."""
        col = self.column
        while self.released < self.piece:
            col.values[self.released] = col.lengths[self.released] = _EMPTY
            col.starts[self.released] = _NO_ROWS
            self.released += 1


def _merge(ranges: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Adjacent value ranges of the same piece merged (a batch inside one piece: one range)."""
    out: list[tuple[int, int, int]] = []
    for piece, start, stop in ranges:
        if stop == start:
            continue
        if out and out[-1][0] == piece and out[-1][2] == start:
            out[-1] = (piece, out[-1][1], stop)
        else:
            out.append((piece, start, stop))
    return out
