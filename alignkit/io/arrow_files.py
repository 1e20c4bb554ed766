"""Arrow output: the ``datasets.load_from_disk`` layout (see :mod:`alignkit.io.writers`).

``data-00000-of-00001.arrow`` (an Arrow IPC stream of ``list<dtype>`` columns in record
batches of :data:`~alignkit.io.chunked.BATCH_ROWS` rows), ``dataset_info.json`` and
``state.json``. One writer writes the Arrow file, batch by batch, without pyarrow:
:class:`~alignkit.io.arrow_stream.ArrowStream` (the pipeline's results as they arrive, and
whole columns through :func:`~alignkit.io.arrow_stream.write_arrow`). This module holds
what it shares with the Parquet writer: the schema (:func:`schema_metadata`, and as
pyarrow's :func:`arrow_schema`), :func:`arrow_table` and the metadata files.

    >>> ARROW_FILE
    'data-00000-of-00001.arrow'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from alignkit.errors import OutputError
from alignkit.io.chunked import ChunkedColumn

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from alignkit.io.atomic import AtomicOutputDir
    from alignkit.io.writers import Column

ARROW_FILE = "data-00000-of-00001.arrow"


def _features(columns: Sequence[Column | ChunkedColumn]) -> dict[str, object]:
    return {
        c.name: {"feature": {"dtype": c.dtype, "_type": "Value"}, "_type": "List"} for c in columns
    }


def schema_metadata(columns: Sequence[Column | ChunkedColumn]) -> dict[str, str]:
    """The Arrow schema metadata: the ``datasets`` features of ``list<dtype>`` columns.

        >>> from alignkit.io.writers import Column
        >>> schema_metadata([Column("role_ids", "uint8", [])])["huggingface"][:40]
        '{"info": {"features": {"role_ids": {"_ty'
    """
    return {"huggingface": json.dumps({"info": {"features": _features(columns)}}, sort_keys=True)}


def arrow_schema(columns: Sequence[Column | ChunkedColumn]) -> object:
    """The ``pyarrow`` schema of ``list<dtype>`` columns, with the datasets feature metadata."""
    import pyarrow as pa

    meta = schema_metadata(columns)
    return pa.schema(
        [pa.field(c.name, pa.list_(pa.from_numpy_dtype(_np_dtype(c.dtype)))) for c in columns],
        metadata=meta,
    )


def arrow_table(columns: list[Column]) -> object:
    """A ``pyarrow.Table`` of ``list<dtype>`` columns, with the datasets feature metadata."""
    import pyarrow as pa

    arrays = []
    for column in columns:
        values, offsets = column.values, column.offsets
        if int(offsets[-1]) >= 1 << 31:
            raise OutputError(
                f"column {column.name!r} has {int(offsets[-1])} values, too many for one Arrow"
                " file; use --format npy, or split the input"
            )
        arrays.append(pa.ListArray.from_arrays(pa_array(offsets.astype("int32")), pa_array(values)))
    return pa.Table.from_arrays(arrays, schema=arrow_schema(columns))


def pa_array(values: npt.NDArray[np.generic]) -> object:
    """A pyarrow array over a numpy buffer (``pa.array`` would import pandas: ~1 s)."""
    import numpy as np
    import pyarrow as pa

    flat = np.ascontiguousarray(values)
    return pa.Array.from_buffers(pa.from_numpy_dtype(flat.dtype), len(flat), [None, pa.py_buffer(flat)])


def _np_dtype(name: str) -> object:
    import numpy as np

    return np.dtype(name)


def write_arrow_meta(out: AtomicOutputDir, columns: Sequence[Column | ChunkedColumn]) -> None:
    """Write ``dataset_info.json`` and ``state.json`` (after the Arrow file, whose hash it names)."""
    info = {"citation": "", "description": "", "features": _features(columns), "homepage": "", "license": ""}
    out.write_bytes("dataset_info.json", _json_bytes(info))
    state: dict[str, object] = {
        "_data_files": [{"filename": ARROW_FILE}],
        "_fingerprint": out.files[ARROW_FILE][1][:16],
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": None,
    }
    out.write_bytes("state.json", _json_bytes(state))


def _json_bytes(value: object) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
