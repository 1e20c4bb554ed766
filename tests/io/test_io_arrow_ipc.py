"""alignkit's own Arrow IPC encoder: the bytes pyarrow writes, read back by pyarrow and datasets,
and no pyarrow import in ``alignkit tokenize --format arrow``."""

from __future__ import annotations

import doctest
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from _arrow_reference import add_in_pieces, assert_reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import alignkit.io.arrow_ipc
from alignkit.io.arrow_files import ARROW_FILE
from alignkit.io.arrow_ipc import END_OF_STREAM, INT_TYPES, batch_message, schema_message
from alignkit.io.arrow_stream import ArrowStream
from alignkit.io.atomic import AtomicOutputDir
from alignkit.io.chunked import BATCH_ROWS
from alignkit.io.writers import Column

REPO = Path(__file__).resolve().parents[2]
DTYPES = sorted(INT_TYPES)
NAMES = st.text(min_size=0, max_size=12)  # any text: non-ASCII, empty, NUL
#: Column names datasets reads back (it loses a name holding NUL: a KeyError of its own).
DATASET_NAMES = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)


def _pa_schema(columns: list[tuple[str, str]], metadata: dict[str, str]) -> pa.Schema:
    return pa.schema([pa.field(n, pa.list_(pa.from_numpy_dtype(np.dtype(d)))) for n, d in columns], metadata=metadata)


def _pyarrow_stream(schema: pa.Schema, batches: list[pa.RecordBatch]) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return sink.getvalue()


@settings(max_examples=60, deadline=None)
@given(
    columns=st.lists(st.tuples(NAMES, st.sampled_from(DTYPES)), max_size=6, unique_by=lambda c: c[0]),
    metadata=st.dictionaries(NAMES, st.text(max_size=300), max_size=3),
)
def test_schema_message_is_pyarrows(columns: list[tuple[str, str]], metadata: dict[str, str]) -> None:
    """Any names (non-ASCII, empty), dtypes and metadata: the schema message pyarrow writes
    (its stream with no batch: the schema message, then the end marker)."""
    expected = _pyarrow_stream(_pa_schema(columns, metadata), [])
    assert schema_message(columns, metadata) + END_OF_STREAM == expected


@settings(max_examples=60, deadline=None)
@given(
    dtypes=st.lists(st.sampled_from(DTYPES), min_size=1, max_size=5),
    rows=st.integers(min_value=1, max_value=40),
    max_len=st.sampled_from([0, 1, 3, 17]),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_batch_message_and_body_are_pyarrows(dtypes: list[str], rows: int, max_len: int, seed: int) -> None:
    """One record batch of whole (unsliced) list arrays: message and body as pyarrow writes them."""
    rng = np.random.default_rng(seed)
    columns = [(f"c{k}", d) for k, d in enumerate(dtypes)]
    schema = _pa_schema(columns, {"huggingface": "{}"})
    arrays, sizes, body = [], [], b""
    for (_, dtype), field in zip(columns, schema):
        offsets = np.zeros(rows + 1, dtype=np.int32)
        offsets[1:] = np.cumsum(rng.integers(0, max_len + 1, size=rows))
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size=int(offsets[-1]), dtype=dtype, endpoint=True)
        arrays.append(pa.ListArray.from_arrays(pa.array(offsets), pa.array(values)))
        sizes.append((len(values), values.nbytes))
        for data in (offsets.tobytes(), values.tobytes()):
            body += data + bytes(-len(data) % 8)
    message, body_length = batch_message(rows, sizes)
    ours = schema_message(columns, {"huggingface": "{}"}) + message + body + END_OF_STREAM
    assert body_length == len(body)
    assert ours == _pyarrow_stream(schema, [pa.RecordBatch.from_arrays(arrays, schema=schema)])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    columns=st.lists(st.tuples(DATASET_NAMES, st.sampled_from(DTYPES)), min_size=1, max_size=4,
                     unique_by=lambda c: c[0]),
    rows=st.sampled_from([0, 1, 9, BATCH_ROWS, BATCH_ROWS + 3, 2 * BATCH_ROWS + 101]),
    cuts=st.lists(st.integers(min_value=0, max_value=2 * BATCH_ROWS + 101), max_size=6),
    max_len=st.sampled_from([0, 2, 11]),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_stream_of_any_columns_is_pyarrows_and_reads_back(
    tmp_path_factory: pytest.TempPathFactory, columns: list[tuple[str, str]], rows: int, cuts: list[int],
    max_len: int, seed: int,
) -> None:
    """Every dtype, any column names, 0..N rows, empty lists, batches across pieces: the bytes
    of pyarrow's own Table written batch by batch; pyarrow and datasets read the rows back."""
    import datasets

    rng = np.random.default_rng(seed)
    lengths = [rng.integers(0, max_len + 1, size=rows).astype(np.int64) for _ in columns]
    values = [rng.integers(np.iinfo(d).min, np.iinfo(d).max, size=int(n.sum()), dtype=d, endpoint=True)
              for n, (_, d) in zip(lengths, columns)]
    bounds = [0, *sorted(min(c, rows) for c in cuts), rows]
    folder = tmp_path_factory.mktemp("ipc") / "o"
    with AtomicOutputDir(folder) as out:
        stream = ArrowStream(out, columns)
        add_in_pieces(stream, values, lengths, bounds)
        stream.close()
        out.commit(json.dumps(sorted(out.files.items())).encode())
    whole = [Column.from_flat(n, d, v, k) for (n, d), v, k in zip(columns, values, lengths)]
    assert_reference(folder, whole)
    table = pa.ipc.open_stream((folder / ARROW_FILE).read_bytes()).read_all()
    assert table.column_names == [n for n, _ in columns] and table.num_rows == rows
    ds = datasets.load_from_disk(str(folder))
    assert ds.num_rows == rows and ds.column_names == [n for n, _ in columns]
    for (name, _), column in zip(columns, whole):
        expected = [column.row(k) for k in range(rows)]
        assert table.column(name).to_pylist() == expected
        assert ds[name] == expected


_CHILD = """
import contextlib, io, sys
from alignkit.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["tokenize", sys.argv[1], "-o", sys.argv[2], "--format", sys.argv[3]])
print(code, sorted({m.split(".")[0] for m in sys.modules} & {"pyarrow", "pandas", "datasets"}))
"""


@pytest.mark.parametrize(("fmt", "imported"), [("arrow", "[]"), ("parquet", "['pyarrow']")])
def test_tokenize_imports_pyarrow_only_for_parquet(tmp_path: Path, fmt: str, imported: str) -> None:
    """``alignkit tokenize`` (Arrow output, the default) never imports pyarrow; Parquet does."""
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(REPO / "sample_data" / "sft.jsonl"), str(tmp_path / "o"), fmt],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )
    assert proc.stdout.split(None, 1) == ["0", imported + "\n"]


def test_docstring_examples() -> None:
    result = doctest.testmod(alignkit.io.arrow_ipc, verbose=False)
    assert result.attempted > 0 and result.failed == 0
