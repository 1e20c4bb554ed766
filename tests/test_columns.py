"""The compiled run expansions (alignkit._columns) against the numpy formulas they replace."""

from __future__ import annotations

import doctest
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from librt.vecs import vec
from mypy_extensions import i32, i64, u8

import alignkit
import alignkit._columns
from alignkit._columns import buffer_expansions, narrow_u16, run_labels, run_roles
from alignkit.encode import IGNORE_INDEX

_RUN = st.tuples(st.integers(0, 40), st.integers(0, 5), st.integers(0, 1))  # length, role, trained


def _view(values: Any, dtype: str) -> Any:
    return np.frombuffer(memoryview(values), dtype=dtype) if len(values) else np.zeros(0, dtype=dtype)


def _reference(ids: Any, lengths: Any, roles: Any, trained: Any) -> tuple[Any, Any]:
    """The numpy formulas ``sft_chunk.labels_roles`` used before (repeat, full + copyto)."""
    role_ids = np.repeat(roles, lengths)
    flags = np.repeat(trained.view(bool), lengths)
    labels = np.full(len(ids), IGNORE_INDEX, dtype=np.int32)
    np.copyto(labels, ids, where=flags)
    return labels, role_ids


@settings(max_examples=200, deadline=None)
@given(runs=st.lists(_RUN, max_size=30), data=st.data())
def test_expansions_equal_the_numpy_formulas(runs: list[tuple[int, int, int]], data: st.DataObject) -> None:
    total = sum(n for n, _, _ in runs)
    ids_list = data.draw(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=total, max_size=total))
    ids = vec[i32]([i32(x) for x in ids_list])
    lengths = vec[i64]([i64(n) for n, _, _ in runs])
    roles = vec[u8]([u8(r) for _, r, _ in runs])
    trained = vec[u8]([u8(t) for _, _, t in runs])
    labels, low, high = run_labels(ids, lengths, trained)
    want_labels, want_roles = _reference(_view(ids, "int32"), _view(lengths, "int64"), _view(roles, "uint8"),
                                         _view(trained, "uint8"))
    assert np.array_equal(_view(labels, "int32"), want_labels)
    assert np.array_equal(_view(run_roles(lengths, roles), "uint8"), want_roles)
    assert (low, high) == ((min(ids_list), max(ids_list)) if ids_list else (0, -1))
    assert list(ids) == ids_list  # the ids are left as they are


def test_any_nonzero_flag_means_trained() -> None:
    labels, _, _ = run_labels(vec[i32]([1, 2, 3]), vec[i64]([1, 1, 1]), vec[u8]([2, 0, 255]))
    assert list(labels) == [1, IGNORE_INDEX, 3]


def test_empty_runs_give_empty_columns() -> None:
    labels, low, high = run_labels(vec[i32](), vec[i64](), vec[u8]())
    assert (len(labels), low, high) == (0, 0, -1)
    assert len(run_roles(vec[i64](), vec[u8]())) == 0
    assert list(run_roles(vec[i64]([0, 0]), vec[u8]([3, 4]))) == []


@pytest.mark.parametrize("lengths", [[2], [4], [-1, 4], [1, 1, 1, 1]])
def test_runs_must_cover_the_ids_exactly(lengths: list[int]) -> None:
    ids = vec[i32]([1, 2, 3])
    with pytest.raises(ValueError, match="runs|negative"):
        run_labels(ids, vec[i64]([i64(n) for n in lengths]), vec[u8]([1] * len(lengths)))


def test_missing_flags_or_roles_are_refused() -> None:
    with pytest.raises(ValueError, match="trained flags"):
        run_labels(vec[i32]([1, 2]), vec[i64]([1, 1]), vec[u8]([1]))
    with pytest.raises(ValueError, match="roles"):
        run_roles(vec[i64]([1, 1]), vec[u8]([1]))
    with pytest.raises(ValueError, match="negative"):
        run_roles(vec[i64]([-1]), vec[u8]([1]))


@given(st.lists(st.integers(0, 65535), max_size=50))
def test_narrow_u16_is_numpy_astype(ids: list[int]) -> None:
    narrow = narrow_u16(vec[i32]([i32(x) for x in ids]))
    assert _view(narrow, "uint16").tolist() == np.array(ids, dtype=np.int32).astype(np.uint16).tolist()


@pytest.mark.parametrize("bad", [-1, 65536])
def test_narrow_u16_refuses_ids_that_do_not_fit(bad: int) -> None:
    with pytest.raises(ValueError, match="does not fit uint16"):
        narrow_u16(vec[i32]([1, i32(bad)]))


@pytest.mark.skipif(alignkit.COMPILED, reason="compiled functions carry no doctests")
def test_docstring_examples() -> None:
    result = doctest.testmod(alignkit._columns, verbose=False)
    assert result.attempted > 0 and result.failed == 0


def _rss_mib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") >> 20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the resident set size from /proc")
@pytest.mark.skipif(not alignkit.COMPILED, reason="the leak is the compiled wrapper's (and pure loops are slow)")
def test_buffer_expansions_free_the_buffers_vectors() -> None:
    """The buffer API hands no ``vec`` from Python to compiled code (mypy 2.4.1 never frees such an
    argument, nor a vector assigned to a native attribute from Python): 20 buffers of 2 M ids
    (8 MiB), expanded and dropped, do not keep 20 x 8 MiB (measured: ~36 MiB of allocator
    high-water mark with the buffer API, ~156 MiB passing the vectors themselves)."""
    from alignkit.encode import Encoder
    from alignkit.sft_buffer import POLICY_TRUNCATE, SftBuffer
    from alignkit.templates.segments import KIND_TEXT, Segment

    class Bytes:  # a toy tokenizer: one id per byte
        def encode_ordinary(self, text: str) -> list[int]:
            return list(text.encode())

    encoder = Encoder(Bytes(), {"<eos>": 300})
    text = "ab" * (1 << 19)
    before = _rss_mib()
    for _ in range(20):
        buf = SftBuffer(encoder)
        buf.add([Segment(1, KIND_TEXT, text, False), Segment(2, KIND_TEXT, text, True)])
        buf.finish(0, POLICY_TRUNCATE)
        labels, roles, low, high = buffer_expansions(buf)
        assert (len(labels), len(roles), low, high) == (1 << 21, 1 << 21, 97, 98)
        del buf, labels, roles
    assert _rss_mib() - before < 100
