"""Line ranges encoded by this process and forked workers: no pool, no thread, no data in pipes.

A :class:`RangeJob` forks ``workers`` processes that inherit the encoder and the list of
ranges (:class:`~alignkit.line_ranges.LineRange`). This process and the workers claim
ranges from one shared counter, in order, until none is left, so whoever is free takes
the next one. A worker reads its range itself, processes it
(:func:`~alignkit.line_ranges.process_line_range`, lines numbered from 1), writes the
columns to the range's in-memory file (opened before the fork;
:func:`alignkit.result_files.stash`), appends the rest of the results, pickled, to its own
in-memory file, and sends a fixed-size note (range, where, how long) through one pipe; it
exits when no range is left. This process reads the notes when it has nothing else to do
(:meth:`RangeJob.wait`) and maps each finished range's columns where they lie
(:meth:`RangeJob.take`); the range's file is freed with the last view of it. A range
without a file of its own (``slots`` limits how many descriptors a job opens) sends its
columns pickled.

A worker that dies (killed by the system) closes its end of the pipe: waiting for a range
nobody will finish fails the run instead of hanging. A worker's error comes back as an
exception. On leaving the ``with`` block after an error, the workers are killed; after
success they have already exited and are reaped.

    >>> with RangeJob(ranges, workers=1, slots=len(ranges)) as job:  # doctest: +SKIP
    ...     k = job.claim()  # a range to process here, or -1 when all are taken
"""

from __future__ import annotations

import fcntl
import gc
import os
import pickle
import select
import signal
import struct
from types import TracebackType
from typing import TYPE_CHECKING

from alignkit.bpe._fd import memory_file, read_at, write_at
from alignkit.errors import AlignkitError

if TYPE_CHECKING:
    from alignkit.line_ranges import LineRange
    from alignkit.worker import ChunkResult

#: A worker's note: range, worker, status (0 done, 1 failed), where its pickle starts, its bytes.
_NOTE = struct.Struct("=qqqqq")
_DONE, _FAILED = 0, 1
#: Seconds between checks that the workers are alive while waiting for one.
_PATIENCE = 1.0
#: Notes read at once (a multiple of the note size: a read never splits one).
_READ = _NOTE.size * 256
_STOPPED = (
    "a worker process stopped abruptly (killed by the system, out of memory?); nothing was"
    " written: rerun with a smaller --num-proc"
)


class RangeJob:
    """The ranges of one or more plain files, shared by this process and forked workers.

    Args:
        ranges: the ranges, in input order (their lines are numbered from 1 by whoever
            processes them: see :func:`~alignkit.line_ranges.process_line_range`).
        workers: how many processes to fork (the caller is one more).
        slots: how many of the first ranges get an in-memory file for their columns.
    """

    def __init__(self, ranges: list[LineRange], workers: int, slots: int) -> None:
        self.ranges = ranges
        self.workers = workers
        self.slots = min(slots, len(ranges))
        self.pids: list[int] = []
        self.files: list[int] = []  # per worker: its results, pickled
        self.columns: list[int] = []  # per range (the first ``slots``): its columns; -1 once closed
        self.notes: dict[int, tuple[int, int, int, int]] = {}  # range -> worker, status, start, size
        self._buffer = b""
        self._read = self._write = -1
        #: the shared range counter: 8 bytes of an in-memory file, read and advanced under a
        #: POSIX record lock on it (``lockf``; the kernel drops a killed process's lock, and
        #: no multiprocessing import: 15 ms before the fork)
        self._claims = -1
        self._frozen = False
        self._ended = False  # every worker closed its end of the pipe
        self._parent = os.getpid()

    def __enter__(self) -> RangeJob:
        try:
            self._claims = memory_file()  # shared with the forked workers
            write_at(self._claims, memoryview(bytes(8)), 0)
            self._read, self._write = os.pipe()
            self.files = [memory_file() for _ in range(self.workers)]
            self.columns = [memory_file() for _ in range(self.slots)]
            if gc.get_freeze_count() == 0:  # (a caller's own frozen objects are left as they are)
                gc.freeze()  # the collector leaves the inherited objects alone: fewer copied pages
                self._frozen = True
            for index in range(self.workers):
                pid = os.fork()
                if pid == 0:  # pragma: no cover - the child (measured through the parent)
                    self._child(index)
                self.pids.append(pid)
            os.close(self._write)
            self._write = -1
            os.set_blocking(self._read, False)
        except BaseException:
            self._stop(kill=True)
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop(kill=kind is not None)

    def claim(self) -> int:
        """The next range nobody took yet, now this process's; -1 when all are taken."""
        fd = self._claims
        fcntl.lockf(fd, fcntl.LOCK_EX)
        try:
            k = int.from_bytes(os.pread(fd, 8, 0), "little")
            if k >= len(self.ranges):
                return -1
            write_at(fd, memoryview((k + 1).to_bytes(8, "little")), 0)
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN)
        return k

    def claim_here(self) -> int:
        """:meth:`claim` a range for this process (its unused result file is closed)."""
        k = self.claim()
        if 0 <= k < self.slots:
            self._close_columns(k)
        return k

    def ready(self, k: int) -> bool:
        """Whether a worker's note for range ``k`` has come (reads the notes sent so far)."""
        if k not in self.notes:
            self._notes()
        return k in self.notes

    def wait(self, k: int) -> None:
        """Wait until a worker's note for range ``k`` comes.

        Raises:
            AlignkitError: every worker is gone and range ``k`` is not done.
        """
        while not self.ready(k):
            if self._ended:
                raise AlignkitError(_STOPPED)
            poll = select.poll()  # (not select.select: any descriptor number works)
            poll.register(self._read, select.POLLIN)
            if not poll.poll(_PATIENCE * 1000):
                self._check_workers()  # (another worker may hold the pipe open, stuck)

    def _check_workers(self) -> None:
        """Reap the workers that have ended (in this process only).

        Raises:
            AlignkitError: a worker ended abnormally (killed, or an error outside a range).
        """
        if os.getpid() != self._parent:
            return
        for pid in list(self.pids):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                self.pids.remove(pid)
                if status:
                    raise AlignkitError(_STOPPED)

    def take(self, k: int) -> tuple[list[ChunkResult], int]:
        """Range ``k``'s results and line count, from the worker's file (after :meth:`wait`).

        Raises:
            Exception: the worker's error on that range.
        """
        from alignkit.result_files import restore

        worker, status, start, size = self.notes.pop(k)
        blob = _read_all(self.files[worker], start, size)
        if status == _FAILED:
            error = pickle.loads(blob)
            assert isinstance(error, BaseException)
            raise error
        results, count = pickle.loads(blob)
        if k < self.slots and self.columns[k] >= 0:
            fd, self.columns[k] = self.columns[k], -1
            restore(results, fd)  # closes fd: the file lives on in the views
        return results, count

    def _close_columns(self, k: int) -> None:
        if self.columns[k] >= 0:
            os.close(self.columns[k])
            self.columns[k] = -1

    def _notes(self) -> None:
        """Read the notes in the pipe now (without waiting)."""
        while not self._ended:
            try:
                data = os.read(self._read, _READ)
            except BlockingIOError:
                return
            if not data:
                self._ended = True
                return
            data = self._buffer + data
            whole = len(data) - len(data) % _NOTE.size
            for at in range(0, whole, _NOTE.size):
                k, worker, status, start, size = _NOTE.unpack_from(data, at)
                self.notes[k] = (worker, status, start, size)
            self._buffer = data[whole:]

    def _child(self, index: int) -> None:  # pragma: no cover - runs in the forked worker
        """The worker's whole life: claim, process and hand back ranges; then exit."""
        code = 1
        try:
            os.close(self._read)
            code = self._work(index)
        finally:
            os._exit(code)

    def _work(self, index: int) -> int:  # pragma: no cover - runs in the forked worker
        from alignkit.line_ranges import process_line_range
        from alignkit.result_files import stash

        at = 0
        k = self.claim()
        while k >= 0:
            status = _DONE
            try:
                results, count = process_line_range(self.ranges[k])
                if k < self.slots:
                    stash(results, self.columns[k])
                blob = pickle.dumps((results, count), pickle.HIGHEST_PROTOCOL)
            except Exception as err:  # noqa: BLE001  (sent back, raised there)
                status, blob = _FAILED, _pickled_error(err, self.ranges[k])
            if k < self.slots:
                self._close_columns(k)  # this process's copy
            write_at(self.files[index], memoryview(blob), at)
            os.write(self._write, _NOTE.pack(k, index, status, at, len(blob)))
            if status == _FAILED:
                return 0  # a clean exit: the error is in the note
            at += len(blob)
            k = self.claim()
        return 0

    def _stop(self, kill: bool) -> None:
        """Let no new range be taken (killing the workers after an error), reap them, close all."""
        if kill and self._claims >= 0:
            fcntl.lockf(self._claims, fcntl.LOCK_EX)
            write_at(self._claims, memoryview(len(self.ranges).to_bytes(8, "little")), 0)
            fcntl.lockf(self._claims, fcntl.LOCK_UN)
            for pid in self.pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        for pid in self.pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        self.pids = []
        for fd in [*self.files, *self.columns, self._read, self._write, self._claims]:
            if fd >= 0:
                os.close(fd)
        self.files, self.columns, self._read, self._write, self._claims = [], [], -1, -1, -1
        if self._frozen:
            gc.unfreeze()
            self._frozen = False


def _read_all(fd: int, start: int, size: int) -> bytes:
    data = read_at(fd, start, start + size)
    if len(data) != size:
        raise AlignkitError(f"a worker's result file is short ({len(data)} of {size} bytes); this is"
                            " a bug, please report it")
    return data


def _pickled_error(err: Exception, r: LineRange) -> bytes:
    """``err`` pickled, or an :class:`AlignkitError` saying what it was when it does not unpickle."""
    try:
        blob = pickle.dumps(err, pickle.HIGHEST_PROTOCOL)
        pickle.loads(blob)
        return blob
    except Exception:  # noqa: BLE001  (whatever fails to pickle or unpickle)
        return pickle.dumps(AlignkitError(
            f"a worker failed on {r.label} (bytes {r.start}-{r.stop}): {type(err).__name__}: {err}"))
