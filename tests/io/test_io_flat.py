"""Flat: typed buffers read without numpy, viewed by numpy on demand, picklable."""

from __future__ import annotations

import doctest
import pickle
from array import array

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from librt.vecs import vec
from mypy_extensions import i32

import alignkit.io.flat
from alignkit.io.flat import FORMATS, WIDTHS, Flat, typed_view


@given(dtype=st.sampled_from(sorted(FORMATS)), data=st.data())
def test_flat_reads_the_bytes_as_numpy_does(dtype: str, data: st.DataObject) -> None:
    info = np.iinfo(np.dtype(dtype))
    values = data.draw(st.lists(st.integers(int(info.min), int(info.max)), max_size=20))
    raw = np.array(values, dtype=dtype).tobytes()
    piece = Flat(raw, dtype)
    assert len(piece) == len(values) and piece.nbytes == len(raw) == len(values) * WIDTHS[dtype]
    assert piece.tolist() == values
    assert np.asarray(piece).dtype == np.dtype(dtype) and np.asarray(piece).tolist() == values
    cut = len(values) // 2
    assert piece[cut:].tolist() == values[cut:]
    assert memoryview(piece[cut:]).cast("B").tobytes() == raw[cut * WIDTHS[dtype]:]
    again = pickle.loads(pickle.dumps(piece))
    assert again.dtype == dtype and again.tolist() == values


def test_a_vector_is_viewed_without_a_copy() -> None:
    ids = vec[i32]([1, 2, 3])
    piece = Flat(ids, "uint32")  # int32 bits read as uint32
    assert piece.data is ids and piece.numpy().tolist() == [1, 2, 3]
    assert np.shares_memory(piece.numpy(), np.frombuffer(memoryview(ids), dtype=np.int32))


def test_empty_and_converted_views() -> None:
    empty = Flat(b"", "int64")
    assert len(empty) == 0 and empty.numpy().dtype == np.int64 and empty.tolist() == []
    piece = Flat(array("i", [1, -2]), "int32")
    assert np.asarray(piece, dtype=np.int64).dtype == np.int64
    copied = np.array(piece, copy=True)
    copied[0] = 5
    assert piece.tolist() == [1, -2]
    assert repr(piece) == "Flat(2 x int32)"


def test_bad_dtypes_and_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown dtype 'float32'"):
        Flat(b"\0\0\0\0", "float32")
    with pytest.raises(ValueError, match="not a whole number of int32"):
        typed_view(b"\0\0\0", "int32")


def test_docstring_examples() -> None:
    result = doctest.testmod(alignkit.io.flat, verbose=False)
    assert result.attempted > 0 and result.failed == 0
