"""Arrow output written while the pipeline's results arrive, batch by batch, in row order.

:class:`ArrowStream` takes each chunk's pieces (per column: flat ``values`` and per-row
``lengths``) as soon as they exist and writes every record batch of
:data:`~alignkit.io.chunked.BATCH_ROWS` rows whose bytes can no longer change: pyarrow
writes up to 64 bytes of the values after a batch along with it (see
:meth:`~alignkit.io.chunked.BatchCursor.settled`), so a batch waits until that much follows
it, or until the end. The file is hashed as it is written, and the pieces already written
are dropped. A run writes its output while later chunks are still being encoded instead
of all of it after the last one. It is alignkit's one Arrow writer: whole columns
(``--pack``, :func:`~alignkit.io.writers.write_columns`) go through it too, as one piece
each (:func:`write_arrow`). The bytes are those of a ``pyarrow.Table`` of the joined
columns written batch by batch (``Table.to_batches(max_chunksize=BATCH_ROWS)``) by
``pyarrow.ipc.new_stream``, zero rows included (the schema alone), however the rows
arrive; but pyarrow is not imported: the messages are encoded by
:mod:`alignkit.io.arrow_ipc`, and the values are written straight from the pieces.

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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from alignkit.errors import OutputError
from alignkit.io import arrow_ipc, chunked
from alignkit.io.arrow_files import ARROW_FILE, schema_metadata, write_arrow_meta
from alignkit.io.chunked import BATCH_ROWS, BatchCursor, ChunkedColumn, as_chunked

if TYPE_CHECKING:
    from alignkit.io.atomic import AtomicOutputDir
    from alignkit.io.hashed_file import HashedFile
    from alignkit.io.writers import Column

_ZEROS = bytes(8)  # padding to the next multiple of 8 bytes


def write_arrow(out: AtomicOutputDir, columns: Sequence[Column | ChunkedColumn]) -> None:
    """Write whole ``columns`` (of equal row counts) as the Arrow file and its metadata files.

    Each column's pieces (a whole column: one piece) are handed to an :class:`ArrowStream`,
    then it is closed; the columns themselves are left as they are.

        >>> import pathlib, tempfile
        >>> from alignkit.io.atomic import AtomicOutputDir
        >>> from alignkit.io.writers import Column
        >>> with AtomicOutputDir(pathlib.Path(tempfile.mkdtemp()) / "o") as out:
        ...     write_arrow(out, [Column("role_ids", "uint8", [[1, 2], [3]])])
        ...     sorted(out.files)
        ['data-00000-of-00001.arrow', 'dataset_info.json', 'state.json']

    Raises:
        OutputError: a column too large for Arrow's 32-bit list offsets, or row counts that differ.
    """
    stream = ArrowStream(out, [(c.name, c.dtype) for c in columns])
    for target, column in zip(stream.columns, columns):
        source = as_chunked(column)
        for values, lengths in zip(source.values, source.lengths):
            target.add(values, lengths)
    stream.check()
    stream.close()


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
        self.written = 0  # rows
        self._target: HashedFile | None = None
        self._small: list[bytes] = []  # message bytes and padding not written yet

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
        self.check()
        self._drain(final=False)

    def check(self) -> None:
        """Refuse columns of different row counts, or too large for one Arrow file.

        Raises:
            OutputError: what is wrong, and what to do.
        """
        for column in self.columns:
            if column.size >= chunked._INT32_LIMIT:
                raise OutputError(
                    f"column {column.name!r} has {column.size} values, too many for one Arrow"
                    " file; use --format npy, or split the input"
                )
        rows = {len(c) for c in self.columns}
        if len(rows) > 1:
            raise OutputError(f"columns of different row counts: {sorted(rows)}")

    def close(self) -> list[ChunkedColumn]:
        """Write the remaining rows and the end of the stream, close the file (fsync, sha256)
        and write the metadata files.

        Returns the columns (their names, dtypes and row counts; the values are released).
        """
        self._drain(final=True)
        target = self._target or self._open()  # no rows: the schema alone (no batch)
        self._small.append(arrow_ipc.END_OF_STREAM)
        self._flush()
        target.close()
        write_arrow_meta(self.out, self.columns)
        return self.columns

    def abort(self) -> None:
        """Close the file at once, unfinished (the run failed; its folder is removed)."""
        if self._target is not None:
            self._target.discard()
        self._small = []

    def _drain(self, final: bool) -> None:
        rows = len(self.columns[0]) if self.columns else 0
        while self.written < rows:
            count = min(BATCH_ROWS, rows - self.written)
            if not final and (count < BATCH_ROWS or not all(c.settled(count) for c in self.cursors)):
                return
            self._batch(count)
            for cursor in self.cursors:
                cursor.release()
            self.written += count

    def _batch(self, count: int) -> None:
        """Write the next ``count`` rows as one record batch: its message, then its body."""
        target = self._target or self._open()
        taken = [cursor.take(count) for cursor in self.cursors]
        sizes = [(values, sum(part.nbytes for part in parts)) for _, parts, values in taken]
        self._small.append(arrow_ipc.batch_message(count, sizes)[0])
        for (offsets, parts, _), (_, nbytes) in zip(taken, sizes):
            self._small += [offsets, _ZEROS[: -len(offsets) % 8]]
            if nbytes:
                self._flush()
            for part in parts:  # the pieces' own memory, never changed: written without a copy
                target.write(memoryview(part).cast("B"))
            self._small.append(_ZEROS[: -nbytes % 8])

    def _flush(self) -> None:
        """Write the message bytes and padding gathered so far, as one buffer."""
        if self._small and self._target is not None:
            self._target.write(b"".join(self._small))
        self._small = []

    def _open(self) -> HashedFile:
        """Open the hashed file; the schema message is the first thing written to it."""
        self._target = self.out.open_hashed(ARROW_FILE)
        names = [(c.name, c.dtype) for c in self.columns]
        self._small.append(arrow_ipc.schema_message(names, schema_metadata(self.columns)))
        return self._target
