"""The reference the Arrow writer is tested against: pyarrow's own ``Table`` → IPC stream.

A ``pyarrow.Table`` of whole ``list<dtype>`` columns, cut by ``Table.to_batches`` into
batches of ``BATCH_ROWS`` rows and written by ``pyarrow.ipc.new_stream``: what
``datasets`` writes, and what alignkit's :class:`~alignkit.io.arrow_stream.ArrowStream`
must reproduce byte for byte. Only the schema (names, dtypes, feature metadata) is
alignkit's (:func:`~alignkit.io.arrow_files.arrow_schema`).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from alignkit.io.arrow_files import ARROW_FILE, arrow_schema
from alignkit.io.chunked import BATCH_ROWS
from alignkit.io.writers import Column


def add_in_pieces(stream: Any, values: list[Any], lengths: list[Any], bounds: list[int]) -> None:
    """Hand ``stream`` (an :class:`~alignkit.io.arrow_stream.ArrowStream`) each column's rows
    ``bounds[k]:bounds[k + 1]`` as one piece per column, the way chunk results arrive."""
    for lo, hi in zip(bounds, bounds[1:]):
        pieces = []
        for v, n in zip(values, lengths):
            start = int(n[:lo].sum())
            pieces.append((v[start : start + int(n[lo:hi].sum())], n[lo:hi]))
        stream.add(pieces)


def reference_arrow(columns: list[Column]) -> bytes:
    """The Arrow IPC stream of ``columns`` written from a ``pyarrow.Table``."""
    schema = arrow_schema(columns)
    arrays = [
        pa.ListArray.from_arrays(pa.array(np.asarray(c.offsets, dtype=np.int32)), pa.array(c.values))
        for c in columns
    ]
    table = pa.Table.from_arrays(arrays, schema=schema)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=BATCH_ROWS):
            writer.write_batch(batch)
    return sink.getvalue()


def assert_reference(folder: Path, columns: list[Column]) -> None:
    """``folder``'s Arrow file is the reference stream of ``columns``, and ``state.json`` names its hash."""
    expected = reference_arrow(columns)
    assert (folder / ARROW_FILE).read_bytes() == expected
    state = json.loads((folder / "state.json").read_text())
    assert state["_fingerprint"] == hashlib.sha256(expected).hexdigest()[:16]
