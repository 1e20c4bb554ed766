"""Chunked columns: written straight from the pipeline's chunks, the same bytes as joined columns."""

from __future__ import annotations

import doctest
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from _arrow_reference import assert_reference
from hypothesis import strategies as st

import alignkit.io.arrow_files
import alignkit.io.chunked
from alignkit.errors import OutputError
from alignkit.io.atomic import AtomicOutputDir
from alignkit.io.chunked import BATCH_ROWS, ChunkedColumn
from alignkit.io.writers import FORMATS, Column, write_columns

DTYPES = ["uint8", "uint16", "int32", "uint32", "int64"]


def _tree(target: Path, columns: list[Column] | list[ChunkedColumn], fmt: str) -> dict[str, str]:
    with AtomicOutputDir(target) as out:
        write_columns(out, columns, fmt)
        out.commit(json.dumps(sorted(out.files)).encode())
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(target.iterdir())}


def _pieces(rng: np.random.Generator, dtype: str, rows: int, cuts: list[int],
            max_len: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``rows`` rows of random lengths and values, cut into pieces at ``cuts`` (row numbers)."""
    info = np.iinfo(dtype)
    bounds = [0, *sorted(min(c, rows) for c in cuts), rows]
    pieces = []
    for lo, hi in zip(bounds, bounds[1:]):
        lengths = rng.integers(0, max_len + 1, size=hi - lo).astype(np.int64)
        values = rng.integers(max(info.min, -1000), min(info.max, 1000) + 1, size=int(lengths.sum())).astype(dtype)
        pieces.append((values, lengths))
    return pieces


def _joined(name: str, dtype: str, pieces: list[tuple[np.ndarray, np.ndarray]]) -> Column:
    values = np.concatenate([v for v, _ in pieces]) if pieces else np.zeros(0, dtype=dtype)
    lengths = np.concatenate([n for _, n in pieces]) if pieces else np.zeros(0, dtype=np.int64)
    return Column.from_flat(name, dtype, values.astype(dtype), lengths)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.sampled_from([0, 1, 7, BATCH_ROWS - 1, BATCH_ROWS, BATCH_ROWS + 1, 2 * BATCH_ROWS + 333]),
    cuts=st.lists(st.integers(min_value=0, max_value=2 * BATCH_ROWS + 333), max_size=12),
    dtypes=st.lists(st.sampled_from(DTYPES), min_size=1, max_size=4),
    max_len=st.sampled_from([0, 1, 3, 9]),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_arrow_from_chunks_equals_arrow_from_joined_columns(
    tmp_path_factory: pytest.TempPathFactory, rows: int, cuts: list[int], dtypes: list[str], max_len: int, seed: int
) -> None:
    """Batch by batch from the pieces (views, copies, the trailing values pyarrow writes along
    with a slice) gives the bytes of a pyarrow Table of the whole columns cut by ``Table.to_batches``."""
    rng = np.random.default_rng(seed)
    pieces = {f"c{k}_{d}": (d, _pieces(rng, d, rows, cuts, max_len)) for k, d in enumerate(dtypes)}
    chunked = [ChunkedColumn(name, d, p) for name, (d, p) in pieces.items()]
    joined = [_joined(name, d, p) for name, (d, p) in pieces.items()]
    base = tmp_path_factory.mktemp("arrow")
    assert _tree(base / "chunked", chunked, "arrow") == _tree(base / "joined", joined, "arrow")
    assert_reference(base / "chunked", joined)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_from_chunks_equals_joined(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(7)
    ids, labels = _pieces(rng, "uint32", 2500, [10, 10, 999, 1700], 20), _pieces(rng, "int32", 2500, [0, 1500], 5)
    labels = [(v, n) for v, n in labels]
    # the same row cuts for both columns: split labels at the ids' piece boundaries
    flat_n = np.concatenate([n for _, n in labels])
    flat_v = np.concatenate([v for v, _ in labels])
    cuts = np.cumsum([len(n) for _, n in ids])[:-1]
    label_pieces = []
    offsets = np.concatenate([[0], np.cumsum(flat_n)])
    for lo, hi in zip([0, *cuts], [*cuts, len(flat_n)]):
        label_pieces.append((flat_v[offsets[lo]:offsets[hi]], flat_n[lo:hi]))
    chunked = [ChunkedColumn("input_ids", "uint32", ids), ChunkedColumn("labels", "int32", label_pieces)]
    joined = [_joined("input_ids", "uint32", ids), _joined("labels", "int32", label_pieces)]
    assert _tree(tmp_path / "a", chunked, fmt) == _tree(tmp_path / "b", joined, fmt)


def test_values_are_checked_and_lengths_must_add_up() -> None:
    with pytest.raises(OutputError, match="does not fit uint8"):
        ChunkedColumn("role_ids", "uint8", [(np.array([1, 300]), np.array([2]))])
    with pytest.raises(OutputError, match="lengths summing to 3"):
        ChunkedColumn("labels", "int32", [(np.array([1, 2], dtype=np.int32), np.array([1, 2]))])
    col = ChunkedColumn("labels", "int32", [(np.array([-100, 5], dtype=np.int64), np.array([2]))])
    assert col.values[0].dtype == np.int32 and col.joined().row(0) == [-100, 5]


def test_too_many_values_for_arrow_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alignkit.io.chunked, "_INT32_LIMIT", 10)
    col = ChunkedColumn("input_ids", "uint16", [(np.arange(12, dtype=np.uint16), np.array([6, 6]))])
    with AtomicOutputDir(tmp_path / "o") as out, pytest.raises(OutputError, match="too many for one Arrow"):
        write_columns(out, [col], "arrow")


@pytest.mark.parametrize("module", [alignkit.io.chunked, alignkit.io.arrow_files], ids=lambda m: m.__name__)
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, verbose=False)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0
