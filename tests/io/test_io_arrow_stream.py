"""Arrow written while pieces arrive: the bytes of pyarrow's own Table of the whole columns
(the reference in ``_arrow_reference``), whatever the pieces."""

from __future__ import annotations

import doctest
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from _arrow_reference import add_in_pieces, assert_reference
from hypothesis import strategies as st

import alignkit.io.arrow_stream
import alignkit.io.chunked
from alignkit.errors import OutputError
from alignkit.io.arrow_stream import ArrowStream, write_arrow
from alignkit.io.atomic import AtomicOutputDir
from alignkit.io.chunked import BATCH_ROWS, ChunkedColumn
from alignkit.io.writers import Column, write_columns

DTYPES = ["uint8", "uint16", "int32", "uint32", "int64"]


def _tree(target: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(target.iterdir())}


def _commit(out: AtomicOutputDir) -> None:
    out.commit(json.dumps(sorted(out.files.items())).encode())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.sampled_from([0, 1, 5, BATCH_ROWS - 1, BATCH_ROWS, BATCH_ROWS + 1, 3 * BATCH_ROWS + 17]),
    cuts=st.lists(st.integers(min_value=0, max_value=3 * BATCH_ROWS + 17)
                  | st.builds(lambda k, d: k * BATCH_ROWS + d, st.integers(1, 3), st.integers(-2, 3)), max_size=15),
    dtypes=st.lists(st.sampled_from(DTYPES), min_size=1, max_size=4),
    max_len=st.sampled_from([0, 1, 2, 9, 40]),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_stream_equals_whole_columns(tmp_path_factory: pytest.TempPathFactory, rows: int, cuts: list[int],
                                     dtypes: list[str], max_len: int, seed: int) -> None:
    """Pieces of every size (empty ones, rows without values, batches across pieces, the
    values pyarrow writes after a slice) added one at a time give the bytes of whole columns
    written from a pyarrow Table; whole columns through write_columns give the same folder."""
    rng = np.random.default_rng(seed)
    bounds = [0, *sorted(min(c, rows) for c in cuts), rows]
    lengths = [rng.integers(0, max_len + 1, size=rows).astype(np.int64) for _ in dtypes]
    values = [rng.integers(0, 200, size=int(n.sum())).astype(d) for n, d in zip(lengths, dtypes)]
    names = [(f"c{k}", d) for k, d in enumerate(dtypes)]
    base = tmp_path_factory.mktemp("s")
    with AtomicOutputDir(base / "stream") as out:
        stream = ArrowStream(out, names)
        add_in_pieces(stream, values, lengths, bounds)
        assert [len(c) for c in stream.close()] == [rows] * len(names)
        _commit(out)
    with AtomicOutputDir(base / "whole") as out:
        write_columns(out, [Column.from_flat(n, d, v, k) for (n, d), v, k in zip(names, values, lengths)], "arrow")
        _commit(out)
    whole = [Column.from_flat(n, d, v, k) for (n, d), v, k in zip(names, values, lengths)]
    assert_reference(base / "stream", whole)
    assert _tree(base / "stream") == _tree(base / "whole")


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int32"])
def test_a_batch_waits_for_the_values_pyarrow_writes_after_it(tmp_path: Path, dtype: str) -> None:
    """A piece ending exactly at a batch end: the batch's padding holds the next piece's first values."""
    lengths = np.ones(1500, dtype=np.int64)
    lengths[0] = 2  # 1,001 values in the first batch: not a multiple of 8 bytes
    values = np.arange(int(lengths.sum())).astype(dtype)
    with AtomicOutputDir(tmp_path / "a") as out:
        stream = ArrowStream(out, [("c", dtype)])
        stream.add([(values[:1001], lengths[:1000])])
        assert stream.written == 0  # not settled: what follows it is not known yet
        stream.add([(values[1001:], lengths[1000:])])
        stream.close()
        _commit(out)
    with AtomicOutputDir(tmp_path / "b") as out:
        write_columns(out, [Column.from_flat("c", dtype, values, lengths)], "arrow")
        _commit(out)
    assert_reference(tmp_path / "a", [Column.from_flat("c", dtype, values, lengths)])
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


@pytest.mark.parametrize("names", [[], [("input_ids", "uint16"), ("labels", "int32")]])
def test_no_rows_is_the_schema_alone(tmp_path: Path, names: list[tuple[str, str]]) -> None:
    """No rows (or no columns): the stream of a Table of no rows, which has no batch."""
    with AtomicOutputDir(tmp_path / "o") as out:
        stream = ArrowStream(out, names)
        stream.add([(np.zeros(0, dtype=d), np.zeros(0, dtype=np.int64)) for _, d in names])
        assert stream.written == 0
        stream.close()
        _commit(out)
    assert_reference(tmp_path / "o", [Column(n, d, []) for n, d in names])


def test_write_arrow_leaves_the_columns_as_they_are(tmp_path: Path) -> None:
    """Whole columns go through a stream of their own: the caller's pieces are not released."""
    col = ChunkedColumn("input_ids", "uint16", [(np.arange(3000, dtype=np.uint16), np.full(1500, 2))] * 2)
    with AtomicOutputDir(tmp_path / "o") as out:
        write_arrow(out, [col])
        _commit(out)
    assert [len(v) for v in col.values] == [3000, 3000]
    assert_reference(tmp_path / "o", [col.joined()])


def test_batches_are_written_before_the_end_and_pieces_released(tmp_path: Path) -> None:
    with AtomicOutputDir(tmp_path / "o") as out:
        stream = ArrowStream(out, [("input_ids", "uint16")])
        for _ in range(5):
            stream.add([(np.arange(800, dtype=np.uint16), np.full(400, 2, dtype=np.int64))])
        assert stream.written == 1000  # 2,000 rows held; the second batch needs 64 bytes after it
        assert len(stream.columns[0].values[0]) == 0  # the first two pieces were written: dropped
        stream.close()
        assert stream.written == 2000 and out.files["data-00000-of-00001.arrow"][0] > 0


def test_bad_pieces_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with AtomicOutputDir(tmp_path / "o") as out:
        stream = ArrowStream(out, [("input_ids", "uint16"), ("role_ids", "uint8")])
        with pytest.raises(OutputError, match="2 columns"):
            stream.add([(np.zeros(1, dtype=np.uint16), np.array([1]))])
        with pytest.raises(OutputError, match="different row counts"):
            stream.add([(np.zeros(1, dtype=np.uint16), np.array([1])), (np.zeros(0, dtype=np.uint8), np.zeros(0))])
        with pytest.raises(OutputError, match="does not fit uint8"):
            stream.add([(np.zeros(1, dtype=np.uint16), np.array([1])), (np.array([300]), np.array([1]))])
    monkeypatch.setattr(alignkit.io.chunked, "_INT32_LIMIT", 10)
    with AtomicOutputDir(tmp_path / "p") as out:
        stream = ArrowStream(out, [("input_ids", "uint16")])
        with pytest.raises(OutputError, match="too many for one Arrow"):
            stream.add([(np.arange(12, dtype=np.uint16), np.array([6, 6]))])


def test_docstring_example() -> None:
    result = doctest.testmod(alignkit.io.arrow_stream, verbose=False)
    assert result.attempted > 0 and result.failed == 0
