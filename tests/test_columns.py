"""The compiled run expansions (alignkit._columns) against the numpy formulas they replace."""

from __future__ import annotations

import doctest
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from librt.vecs import vec
from mypy_extensions import i32, i64, u8

import alignkit._columns
from alignkit._columns import narrow_u16, run_labels, run_roles
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


def test_docstring_examples() -> None:
    result = doctest.testmod(alignkit._columns, verbose=False)
    assert result.attempted > 0 and result.failed == 0
