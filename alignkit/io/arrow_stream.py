"""Arrow output written while the pipeline's results arrive, batch by batch, in row order.

:class:`ArrowStream` takes each chunk's pieces (per column: flat ``values`` and per-row
``lengths``) as soon as they exist and writes every record batch of
:data:`~alignkit.io.chunked.BATCH_ROWS` rows whose bytes can no longer change: pyarrow
writes up to 64 bytes of the values after a batch along with it (see
:meth:`~alignkit.io.chunked.BatchCursor.settled`), so a batch waits until that much follows
it, or until the end. The file is hashed as it is written, and the pieces already written
are dropped. The bytes equal :func:`~alignkit.io.arrow_files.write_arrow_chunked` of the
whole columns (and so the ``Table`` path); a run writes its output while later chunks are
still being encoded instead of all of it after the last one.

    >>> import numpy as np, pathlib, tempfile
    >>> from alignkit.io.atomic import AtomicOutputDir
    >>> with AtomicOutputDir(pathlib.Path(tempfile.mkdtemp()) / "o") as out:
    ...     stream = ArrowStream(out, [("role_ids", "uint8")])
    ...     stream.add([(np.array([1, 2, 3], dtype=np.uint8), np.array([2, 1]))])
    ...     columns = stream.close()
    ...     len(columns[0]), sorted(out.files)
    (2, ['data-00000-of-00001.arrow', 'dataset_info.json', 'state.json'])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alignkit.errors import OutputError
from alignkit.io import chunked
from alignkit.io.arrow_files import ARROW_FILE, arrow_schema, write_arrow_meta
from alignkit.io.chunked import BATCH_ROWS, BatchCursor, ChunkedColumn

if TYPE_CHECKING:
    from alignkit.io.atomic import AtomicOutputDir
    from alignkit.io.hashed_file import HashedFile


class ArrowStream:
    """The Arrow file of an output folder, written as pieces of rows arrive (see the module doc).

    Args:
        out: the output folder.
        names: ``(name, dtype)`` of each column, in order.
    """

    def __init__(self, out: AtomicOutputDir, names: list[tuple[str, str]]) -> None:
        self.out = out
        self.columns = [ChunkedColumn(name, dtype, []) for name, dtype in names]
        self.cursors = [BatchCursor(c) for c in self.columns]
        self.schema: Any = None  # made with the first batch: pyarrow is imported then, not before
        self.written = 0  # rows
        self._target: HashedFile | None = None
        self._file: Any = None
        self._writer: Any = None

    def add(self, pieces: list[tuple[Any, Any]]) -> None:
        """Append one piece per column (the next rows) and write the batches that are settled.

        Raises:
            OutputError: a value does not fit its column's dtype, lengths that do not add up,
                or a column too large for Arrow's 32-bit list offsets.
        """
        if len(pieces) != len(self.columns):
            raise OutputError(f"{len(pieces)} pieces for {len(self.columns)} columns")
        for column, (values, lengths) in zip(self.columns, pieces):
            column.add(values, lengths)
            if column.size >= chunked._INT32_LIMIT:
                raise OutputError(
                    f"column {column.name!r} has {column.size} values, too many for one Arrow"
                    " file; use --format npy, or split the input"
                )
        rows = {len(c) for c in self.columns}
        if len(rows) > 1:
            raise OutputError(f"columns of different row counts: {sorted(rows)}")
        self._drain(final=False)

    def close(self) -> list[ChunkedColumn]:
        """Write the remaining rows, close the file (fsync, sha256) and write the metadata files.

        Returns the columns (their names, dtypes and row counts; the values are released).
        """
        if not self.columns or not len(self.columns[0]):
            from alignkit.io.writers import write_columns

            write_columns(self.out, self.columns, "arrow")  # no rows: the whole-table path
            return self.columns
        self._drain(final=True)
        self._writer.close()
        self._file.close()
        assert self._target is not None
        self._target.close()
        write_arrow_meta(self.out, self.columns)
        return self.columns

    def abort(self) -> None:
        """Close the file at once, unfinished (the run failed; its folder is removed)."""
        if self._target is not None:
            self._target.discard()
        self._writer = self._file = None

    def _drain(self, final: bool) -> None:
        import pyarrow as pa

        rows = len(self.columns[0]) if self.columns else 0
        while self.written < rows:
            count = min(BATCH_ROWS, rows - self.written)
            if not final and (count < BATCH_ROWS or not all(c.settled(count) for c in self.cursors)):
                return
            if self._writer is None:  # (after any fork: a worker never needs pyarrow)
                self.schema = arrow_schema(self.columns)
                self._target = self.out.open_hashed(ARROW_FILE)
                self._file = pa.PythonFile(self._target, mode="w")
                self._writer = pa.ipc.new_stream(self._file, self.schema)
            arrays = [cursor.take(count) for cursor in self.cursors]
            self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
            for cursor in self.cursors:
                cursor.release()
            self.written += count
