"""An output file hashed as it is written, and sent to the disk while it is written.

:class:`HashedFile` is how :class:`~alignkit.io.atomic.AtomicOutputDir` writes a large file
(the Arrow data): the sha256 for the manifest is computed from the bytes on their way out,
never by reading the file again, and every :data:`WRITEBACK_BYTES` the kernel is asked to
start writing the data out (:func:`start_writeback`), so that the fsync at the end has
little left to wait for.

With :data:`BACKGROUND` on, the hashing and the writes run on one background thread, so
that they overlap with the work that produces the data (hashlib and file writes release
the GIL): ``write`` only
keeps the bytes (a copy, unless they are an immutable ``bytes``, or handed over with
:meth:`HashedFile.write_frozen`) and returns. Small writes are gathered into blocks of
:data:`BATCH_BYTES`; the thread is handed groups of :data:`GROUP_BYTES` (each buffer
hashed, all written with one ``writev``): the thread takes the GIL back once per buffer
and a few times per group, rather than a few times per write (each time, it waits for the
producing thread to let go of the GIL: on the 48 MB tokenize run, 13 groups for 447 writes).
At most :data:`IN_FLIGHT_BYTES` wait at a time (``write`` waits beyond). A file that never
fills a group is written without the thread. An error of the thread (a full disk) is
raised again by the next ``write``, ``sync`` or ``close``. With :data:`BACKGROUND` off (the
default), each write is hashed and written before ``write`` returns (small ones gathered
into blocks first), on the calling thread.

    >>> import pathlib, tempfile
    >>> from alignkit.io.atomic import AtomicOutputDir
    >>> with AtomicOutputDir(pathlib.Path(tempfile.mkdtemp()) / "o") as out:
    ...     f = out.open_hashed("a.bin"); _ = f.write(b"hi"); f.close()
    ...     out.files["a.bin"][1][:12]
    '8f434346648f'
"""

from __future__ import annotations

import errno
import hashlib
import os
import sys
import threading
from collections import deque
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from alignkit.io.atomic import AtomicOutputDir

#: A :class:`HashedFile` asks the kernel to start writing its data out every this many bytes.
WRITEBACK_BYTES = 8 << 20
_SYNC_FILE_RANGE_WRITE = 2  # Linux <fcntl.h>: start writeback of dirty pages, do not wait
_WRITEBACK: list[Any] = []  # [libc's sync_file_range, or None where there is none]
_IOV_MAX = 512  # buffers per writev call (Linux allows 1024)
#: Hash and write on a background thread (see the module doc). Off by default: on the 2-vCPU
#: machine shared with other jobs that the tokenize benchmark runs on, the thread cost more
#: than it saved (whole CLI runs on 48 MB, 8 alternated each: CPU +0.2-0.3 s, wall +0.1 s,
#: though the main thread's CPU fell by 0.1 s); turn it on where a core is free for it.
BACKGROUND = False
#: Writes smaller than this are copied into a block of small writes.
SMALL_BYTES = 64 << 10
#: A block of small writes is closed once it holds this many bytes.
BATCH_BYTES = 1 << 20
#: Buffers are handed to the thread in groups of this many bytes.
GROUP_BYTES = 8 << 20
#: ``write`` waits while this many bytes are queued and not yet written.
IN_FLIGHT_BYTES = 32 << 20


def start_writeback(fd: int, offset: int) -> None:
    """Start writing file ``fd``'s data from byte ``offset`` to the disk, without waiting.

    Linux's ``sync_file_range(SYNC_FILE_RANGE_WRITE)``; elsewhere nothing. The fsync at the
    end, which makes the file durable, then has little left to wait for: on the tokenize
    benchmark's 110 MB Arrow file its wait fell from 0.05-0.07 s to about 0.02 s. Pages stay
    in the page cache. Any failure is ignored: the fsync still guarantees durability.
    """
    if not _WRITEBACK:
        call: Any = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                call = ctypes.CDLL(None, use_errno=True).sync_file_range
                call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
                call.restype = ctypes.c_int
            except (OSError, AttributeError, ImportError):
                call = None
        _WRITEBACK.append(call)
    if _WRITEBACK[0] is not None:
        _WRITEBACK[0](fd, offset, 0, _SYNC_FILE_RANGE_WRITE)  # 0 bytes: through the end


def write_all(fd: int, buffers: list[memoryview]) -> None:
    """Write ``buffers`` (byte views) to file ``fd`` in order, with as few ``writev`` calls as it takes.

        >>> import tempfile
        >>> with tempfile.TemporaryFile() as f:
        ...     write_all(f.fileno(), [memoryview(b"ab"), memoryview(b""), memoryview(b"c")])
        ...     _ = f.seek(0); f.read()
        b'abc'

    Raises:
        OSError: the write failed (a full disk: ``ENOSPC``).
    """
    views = [view for view in buffers if view.nbytes]
    first = 0
    while first < len(views):
        if hasattr(os, "writev"):
            written = os.writev(fd, views[first:first + _IOV_MAX])
        else:  # (Windows)
            written = os.write(fd, views[first])
        if written <= 0:
            raise OSError(errno.EIO, f"writev wrote nothing to file descriptor {fd}")
        while first < len(views) and written >= views[first].nbytes:
            written -= views[first].nbytes
            first += 1
        if written:  # (a part of one buffer: rare, on a regular file)
            views[first] = views[first][written:]



class HashedFile:
    """A file of an :class:`AtomicOutputDir` that computes its sha256 and size as it is written.

    File-like enough for ``pyarrow.PythonFile`` (``write``, ``tell``, ``flush``, ``closed``).
    With :data:`BACKGROUND` on, the bytes are hashed and written on a background thread (see
    the module doc). Call :meth:`close` (or :meth:`discard`) in the end: it also stops the thread.

        >>> import pathlib, tempfile
        >>> from alignkit.io.atomic import AtomicOutputDir
        >>> with AtomicOutputDir(pathlib.Path(tempfile.mkdtemp()) / "o") as out:
        ...     f = out.open_hashed("a.bin")
        ...     f.write(b"x" * (9 << 20)), f.write(bytearray(b"yz")), f.tell()
        ...     f.close(); out.files["a.bin"][0]
        (9437184, 2, 9437186)
        9437186
    """

    def __init__(self, folder: AtomicOutputDir, name: str, handle: BinaryIO) -> None:
        self.folder = folder
        self.name = name
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0  # bytes accepted (kept, queued or written)
        self.closed = False
        self._done = 0  # bytes hashed and written
        self._written_out = 0  # where the last start_writeback began
        self._batch = bytearray()  # small writes gathered
        self._group: list[memoryview] = []  # buffers not handed to the thread yet
        self._group_bytes = 0
        self._cond = threading.Condition()
        self._queue: deque[tuple[list[memoryview], int]] = deque()  # (group, bytes); head: being written
        self._queued = 0  # bytes in the queue
        self._error: BaseException | None = None  # the thread's, raised again in this one
        self._stopping = False
        self._thread: threading.Thread | None = None

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Hash and write ``data`` (any C-contiguous buffer); return its size in bytes.

        The buffer may be changed or freed as soon as this returns: a ``bytes`` object is
        kept as it is (it cannot change), anything else is copied.

        Raises:
            OSError: an earlier write failed on the background thread (a full disk).
            BufferError: ``data`` is not C-contiguous.
        """
        return self._accept(data, False)

    def write_frozen(self, buffer: bytes | bytearray | memoryview) -> int:
        """Like :meth:`write`, without a copy: the caller keeps ``buffer`` unchanged until
        :meth:`sync`, :meth:`close` or :meth:`discard` returns (it is referenced until then).

            >>> import pathlib, tempfile
            >>> from alignkit.io.atomic import AtomicOutputDir
            >>> with AtomicOutputDir(pathlib.Path(tempfile.mkdtemp()) / "o") as out:
            ...     f = out.open_hashed("a.bin"); block = bytearray(1 << 20)
            ...     f.write_frozen(block); f.sync(); block[0] = 1  # changed once synced: fine
            ...     f.close(); out.files["a.bin"][1][:12]
            1048576
            '30e14955ebf1'

        Raises:
            OSError: an earlier write failed on the background thread (a full disk).
            BufferError: ``buffer`` is not C-contiguous.
        """
        return self._accept(buffer, True)

    def sync(self) -> None:
        """Wait until everything written so far is hashed and handed to the operating system.

        Raises:
            OSError: a write failed on the background thread.
        """
        self._close_batch()
        if self._thread is None:  # no group was ever full: no thread, write here
            if self._group:
                group, count = self._group, self._group_bytes
                self._group, self._group_bytes = [], 0
                self._process(group, count)
            return
        self._hand_over()
        with self._cond:
            while self._queue and self._error is None:
                self._cond.wait()
            if self._error is not None:
                raise self._error

    def tell(self) -> int:
        """Bytes written so far (accepted by :meth:`write`, whether on disk yet or not)."""
        return self.size

    def flush(self) -> None:
        """Hand everything written so far to the operating system (:meth:`sync`, then flush)."""
        self.sync()
        self.handle.flush()

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        """Flush, fsync and close the file, and record its size and sha256 in the folder.

        Raises:
            OSError: a write, the flush or the fsync failed (the file stays open: :meth:`discard` it).
        """
        if self.closed:
            return
        self.sync()
        self._stop(drop=False)
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        self.closed = True
        self.folder.files[self.name] = (self.size, self.digest.hexdigest())

    def discard(self) -> None:
        """Close the file without recording it (a failed run: its folder is removed).

        Drops what is still queued, waits for the write in progress, if any, and never raises
        an error of the file's own (it is thrown away).
        """
        if not self.closed:
            self.closed = True
            self._stop(drop=True)
            self._batch, self._group, self._group_bytes = bytearray(), [], 0
            try:
                self.handle.close()
            except OSError:
                pass

    def _accept(self, data: bytes | bytearray | memoryview, frozen: bool) -> int:
        """Gather ``data`` into the small-write block, or add it (as is, or a copy) to the group."""
        view = memoryview(data)
        if not view.c_contiguous:
            raise BufferError(f"{self.name}: cannot write a buffer that is not C-contiguous; copy it first")
        if self.closed:
            raise ValueError(f"{self.name}: write to a closed file")
        if self._error is not None:
            raise self._error
        count = view.nbytes
        if count < SMALL_BYTES:
            self._batch += view
            if len(self._batch) >= BATCH_BYTES:
                self._close_batch()
        else:
            self._close_batch()  # first: the bytes stay in order
            kept = view if frozen or type(data) is bytes or not BACKGROUND else memoryview(view.tobytes())
            self._add(kept.cast("B"), count)
        self.size += count
        return count

    def _close_batch(self) -> None:
        if self._batch:
            batch, self._batch = self._batch, bytearray()
            self._add(memoryview(batch), len(batch))

    def _add(self, view: memoryview, count: int) -> None:
        self._group.append(view)
        self._group_bytes += count
        if self._group_bytes >= GROUP_BYTES or not BACKGROUND:
            self._hand_over()

    def _hand_over(self) -> None:
        """Queue the group for the thread (started the first time); wait while too much is queued."""
        if not self._group:
            return
        group, count = self._group, self._group_bytes
        self._group, self._group_bytes = [], 0
        if not BACKGROUND and self._thread is None:  # written here, now
            self._process(group, count)
            return
        with self._cond:
            while self._error is None and self._queued and self._queued + count > IN_FLIGHT_BYTES:
                self._cond.wait()
            if self._error is not None:
                raise self._error
            self._queue.append((group, count))
            self._queued += count
            self._cond.notify_all()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"alignkit-write-{self.name}", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        """The background thread: hash and write the queued groups in order, until stopped or failed."""
        cond, queue = self._cond, self._queue
        while True:
            with cond:
                while not queue and not self._stopping:
                    cond.wait()
                if self._stopping:
                    return
                group, count = queue[0]  # left in the queue (and counted) until written
            try:
                self._process(group, count)
            except BaseException as err:  # raised again in the writing thread
                with cond:
                    self._error = err
                    queue.clear()
                    self._queued = 0
                    cond.notify_all()
                return
            with cond:
                if queue:  # (else dropped by discard meanwhile)
                    queue.popleft()
                    self._queued -= count
                cond.notify_all()

    def _process(self, group: list[memoryview], count: int) -> None:
        """Hash and write one group; every :data:`WRITEBACK_BYTES`, start writing it out."""
        for view in group:
            self.digest.update(view)
        write_all(self.handle.fileno(), group)
        self._done += count
        if self._done - self._written_out >= WRITEBACK_BYTES:
            start_writeback(self.handle.fileno(), self._written_out)
            self._written_out = self._done

    def _stop(self, drop: bool) -> None:
        """End the thread (``drop``: without writing what is still queued) and wait for it."""
        thread = self._thread
        if thread is None:
            return
        with self._cond:
            self._stopping = True
            if drop:
                self._queue.clear()
                self._queued = 0
            self._cond.notify_all()
        thread.join()
        self._thread = None
