"""A column piece's flat values as a typed buffer, without numpy.

The fast chunk paths (:mod:`alignkit.sft_chunk`, :mod:`alignkit.pref_chunk`) make their
columns in native ``librt`` vectors. A :class:`Flat` holds such a buffer (anything with
the buffer protocol: a vector, ``bytes``, an ``array.array``) with the dtype name its
values are read as, and reads it through a ``memoryview`` of that item format: length,
zero-copy slices and ``nbytes`` are all the Arrow writer needs
(:class:`~alignkit.io.chunked.BatchCursor`), so a default run never imports numpy. Code
that wants numpy calls :meth:`Flat.numpy` (or ``numpy.asarray``), a zero-copy view.

    >>> from array import array
    >>> piece = Flat(array("i", [5, -100, 7]), "int32")
    >>> len(piece), piece.dtype, piece[1:].tolist(), piece.nbytes
    (3, 'int32', [-100, 7], 12)
"""

from __future__ import annotations

from typing import Any

#: dtype name -> ``struct`` item format of the same width and signedness.
FORMATS: dict[str, str] = {
    "uint8": "B", "int8": "b", "uint16": "H", "int16": "h", "uint32": "I", "int32": "i",
    "uint64": "Q", "int64": "q",
}
#: dtype name -> bytes per value.
WIDTHS: dict[str, int] = {"uint8": 1, "int8": 1, "uint16": 2, "int16": 2, "uint32": 4, "int32": 4,
                          "uint64": 8, "int64": 8}


def typed_view(data: Any, dtype: str) -> memoryview:
    """``data``'s bytes (C-contiguous, native byte order) read as values of ``dtype``.

        >>> typed_view(b"\\x01\\x00\\x02\\x00", "uint16").tolist()
        [1, 2]

    Raises:
        ValueError: an unknown dtype, or a byte count that is not a whole number of values.
    """
    code = FORMATS.get(dtype)
    if code is None:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {', '.join(FORMATS)}")
    raw = memoryview(data).cast("B")
    if raw.nbytes % WIDTHS[dtype]:
        raise ValueError(f"{raw.nbytes} bytes are not a whole number of {dtype} values")
    view: memoryview = raw.cast(code)  # type: ignore[call-overload]  # one of the integer formats
    if view.itemsize != WIDTHS[dtype]:  # an unusual C ABI: the format does not have the width
        raise ValueError(f"this platform's {code!r} items are {view.itemsize} bytes, not those of {dtype}")
    return view


class Flat:
    """Flat values of ``dtype`` in the buffer ``data`` (kept alive while the piece is held).

    Args:
        data: an object with the buffer protocol, its bytes the values in native byte order.
        dtype: the numpy dtype name the bytes are read as (see :data:`FORMATS`).

    Raises:
        ValueError: see :func:`typed_view`.
    """

    __slots__ = ("data", "dtype", "view")

    def __init__(self, data: Any, dtype: str) -> None:
        self.view = typed_view(data, dtype)
        self.data = data
        self.dtype = dtype

    def __len__(self) -> int:
        return len(self.view)

    def __getitem__(self, key: slice) -> memoryview:
        """A zero-copy slice of the values (``memoryview`` of the item format)."""
        return self.view[key]

    @property
    def nbytes(self) -> int:
        """How many bytes the values take."""
        return self.view.nbytes

    def tolist(self) -> list[int]:
        """The values as Python ints."""
        out: list[int] = self.view.tolist()
        return out

    def numpy(self) -> Any:
        """The values as a numpy array of ``dtype`` viewing the buffer (read-only if it is)."""
        import importlib

        np: Any = importlib.import_module("numpy")
        if not len(self.view):
            return np.zeros(0, dtype=self.dtype)
        return np.frombuffer(self.view, dtype=self.dtype)

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        array = self.numpy()
        if copy:
            array = array.copy()
        return array if dtype is None else array.astype(dtype, copy=False)

    def __reduce__(self) -> tuple[type[Flat], tuple[bytes, str]]:
        return Flat, (self.view.tobytes(), self.dtype)

    def __repr__(self) -> str:
        return f"Flat({len(self)} x {self.dtype})"
