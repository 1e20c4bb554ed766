"""Id lists from packed int32 buffers, with shared int objects (compiled).

A parallel batch's worker sends each range's ids as one packed buffer: its texts'
id counts, then all ids (int32, little-endian). Turning that into ``list[list[int]]``
with a new int object per id costs about a third of the encoding itself; taking each
int from a table of the vocabulary's ints (``table[k] is k``) costs a pointer copy.

Example:
    >>> import struct
    >>> blob = struct.pack("<2i3i", 2, 1, 5, 7, 5)
    >>> id_lists(blob, 2, int_table(8))
    [[5, 7], [5]]
"""

from __future__ import annotations

from librt.strings import read_i32_le
from mypy_extensions import i64


def int_table(size: int) -> list[object]:
    """The ints ``0 .. size - 1`` as a list (the objects :func:`id_lists` shares).

    Example:
        >>> int_table(3)
        [0, 1, 2]
    """
    return list(range(size))


def id_lists(blob: bytes, n_rows: i64, table: list[object]) -> list[object]:
    """The id lists packed in ``blob``: ``n_rows`` int32 counts, then every row's int32 ids.

    Row ``k`` is a ``list[int]`` whose items are objects of ``table`` (so every id must be
    below ``len(table)``; an id outside it raises ``IndexError``).

    Example:
        >>> id_lists(bytes(4), 1, int_table(1))
        [[]]
    """
    rows: list[object] = []
    at: i64 = n_rows * 4
    k: i64 = 0
    while k < n_rows:
        n = i64(read_i32_le(blob, k * 4))
        row: list[object] = [None] * n
        j: i64 = 0
        while j < n:
            row[j] = table[i64(read_i32_le(blob, at))]
            at += 4
            j += 1
        rows.append(row)
        k += 1
    if at != len(blob):
        raise ValueError(f"packed ids: {len(blob)} bytes, but the counts say {at}")
    return rows
