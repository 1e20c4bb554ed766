"""HashedFile with its background thread on (BACKGROUND): the same bytes, hash and errors as in place."""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import alignkit.io.hashed_file as hashed_file
from alignkit.io.atomic import AtomicOutputDir
from alignkit.io.hashed_file import HashedFile

POOL = os.urandom((9 << 20) + 4096)  # the bytes written are slices of this
KINDS = ("bytes", "bytearray", "memoryview", "numpy", "numpy_u32", "frozen")


_LIMITS = ("SMALL_BYTES", "BATCH_BYTES", "GROUP_BYTES", "IN_FLIGHT_BYTES", "BACKGROUND")


@pytest.fixture(autouse=True)
def _background(monkeypatch: pytest.MonkeyPatch) -> None:
    """The thread's tests: with the thread on (it is off by default)."""
    monkeypatch.setattr(hashed_file, "BACKGROUND", True)


@contextmanager
def _limits(*values: int | bool) -> Iterator[None]:
    """Set the module's block sizes for one example (hypothesis: no monkeypatch fixture)."""
    saved = [getattr(hashed_file, name) for name in _LIMITS]
    for name, value in zip(_LIMITS, values):
        setattr(hashed_file, name, value)
    try:
        yield
    finally:
        for name, value in zip(_LIMITS, saved):
            setattr(hashed_file, name, value)


def _buffer(kind: str, data: bytes) -> Any:
    """``data`` as a buffer of ``kind`` that the test can change after the write."""
    if kind == "bytes":
        return data
    if kind in ("bytearray", "frozen"):
        return bytearray(data)
    if kind == "memoryview":
        return memoryview(bytearray(data))
    if kind == "numpy":
        return np.frombuffer(bytearray(data), dtype=np.uint8)
    return np.frombuffer(bytearray(data + b"\0" * (-len(data) % 4)), dtype=np.uint32)[: len(data) // 4]


def _clobber(buffer: Any) -> None:
    """Change (and shrink, where it can) a buffer just written: the file must not see it."""
    if isinstance(buffer, bytearray):
        buffer[:] = b"\xff" * len(buffer)
        del buffer[len(buffer) // 2:]
    elif isinstance(buffer, memoryview):
        buffer[:] = b"\xff" * buffer.nbytes
    elif isinstance(buffer, np.ndarray):
        buffer[...] = 255


class FlakyWrites:
    """``write_all`` that fails with ``ENOSPC`` once ``limit`` bytes are written (a full disk)."""

    def __init__(self, limit: int, delay: float = 0.0) -> None:
        self.limit = limit
        self.delay = delay
        self.written = 0
        self.threads: set[str] = set()
        self.calls = 0

    def __call__(self, fd: int, buffers: list[memoryview]) -> None:
        self.threads.add(threading.current_thread().name)
        self.calls += 1
        time.sleep(self.delay)
        count = sum(view.nbytes for view in buffers)
        if self.written + count > self.limit:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.written += count
        WRITE_ALL(fd, buffers)


WRITE_ALL = hashed_file.write_all


@settings(max_examples=40, deadline=None)
@given(writes=st.lists(st.tuples(st.one_of(st.integers(0, 70_000), st.integers(0, 3 << 20)),
                                 st.sampled_from(KINDS)), max_size=6),
       limits=st.tuples(st.sampled_from([(64 << 10, 1 << 20, 8 << 20, 32 << 20), (0, 1, 0, 1),
                                         (1000, 4096, 9000, 100_000)]), st.booleans()))
def test_same_bytes_and_hash_as_written_in_place(writes: list[tuple[int, str]],
                                                 limits: tuple[tuple[int, int, int, int], bool]) -> None:
    expected = bytearray()
    with tempfile.TemporaryDirectory() as tmp, _limits(*limits[0], limits[1]), AtomicOutputDir(Path(tmp) / "o") as out:
        f = out.open_hashed("a.bin")
        frozen = []
        at = 0
        for size, kind in writes:
            data = POOL[at:at + size]
            at = (at + 7919) % 4096
            buffer = _buffer(kind, data)
            written = f.write_frozen(buffer) if kind == "frozen" else f.write(buffer)
            assert written == memoryview(buffer).nbytes
            expected += memoryview(buffer).cast("B")
            assert f.tell() == len(expected)
            if kind == "frozen":
                frozen.append(buffer)  # unchanged until close
            else:
                _clobber(buffer)
        f.close()
        for buffer in frozen:
            _clobber(buffer)
        assert (out.path / "a.bin").read_bytes() == expected
        assert out.files["a.bin"] == (len(expected), hashlib.sha256(expected).hexdigest())
    assert not _writer_threads()


def _writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("alignkit-write-")]


def _is_closed(f: HashedFile) -> bool:
    return f.closed


def _flaky(out: AtomicOutputDir, monkeypatch: pytest.MonkeyPatch, limit: int,
           delay: float = 0.0) -> tuple[HashedFile, FlakyWrites]:
    writes = FlakyWrites(limit, delay)
    monkeypatch.setattr(hashed_file, "write_all", writes)
    return out.open_hashed("a.bin"), writes


@pytest.mark.parametrize("then", ["write", "write_frozen", "sync", "close", "flush"])
def test_a_failed_write_is_raised_again_in_the_writing_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              then: str) -> None:
    before = threading.active_count()
    monkeypatch.setattr(hashed_file, "GROUP_BYTES", 2 << 20)
    with AtomicOutputDir(tmp_path / "o") as out:
        f, handle = _flaky(out, monkeypatch, 3 << 20)
        f.write(b"x" * (2 << 20))  # a whole group: written by the thread
        f.write(b"y" * (2 << 20))  # fails there (over the limit)
        with pytest.raises(OSError) as info:
            if then in ("write", "write_frozen"):
                deadline = time.monotonic() + 30  # the thread fails soon: the next write says so
                while time.monotonic() < deadline:
                    getattr(f, then)(b"z" * (1 << 20))
                    time.sleep(0.01)
            else:
                getattr(f, then)()
        assert info.value.errno == errno.ENOSPC and type(info.value) is OSError
        assert handle.threads == {"alignkit-write-a.bin"}
        assert not f.closed and "a.bin" not in out.files
        with pytest.raises(OSError):  # still failed
            f.sync()
        start = time.monotonic()
        f.discard()
        assert time.monotonic() - start < 5  # (no hang)
        f.discard()  # twice: no effect
        assert _is_closed(f)
    assert threading.active_count() == before and not _writer_threads()
    assert list(tmp_path.iterdir()) == []  # the partial folder is gone


def test_a_small_file_is_written_in_place_and_fails_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with AtomicOutputDir(tmp_path / "o") as out:
        f, handle = _flaky(out, monkeypatch, 10)
        f.write(b"abc")
        f.write(bytearray(b"defghijklm"))  # 13 bytes: over the limit, but only gathered so far
        with pytest.raises(OSError, match="No space left"):
            f.close()
        assert handle.threads == {threading.current_thread().name}  # no thread was started
        f.discard()
    assert not _writer_threads()


def test_discard_drops_what_is_queued_and_stops_the_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashed_file, "GROUP_BYTES", 1 << 20)
    with AtomicOutputDir(tmp_path / "o") as out:
        f, handle = _flaky(out, monkeypatch, 1 << 40, delay=0.05)
        for _ in range(20):
            f.write(b"x" * (1 << 20))
        start = time.monotonic()
        f.discard()
        assert time.monotonic() - start < 5 and handle.written < 20 << 20  # not all written
        with pytest.raises(ValueError, match="closed"):
            f.write(b"x")
    assert not _writer_threads()


def test_write_waits_while_too_much_is_queued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    with _limits(1000, 4096, 150_000, 1 << 20), AtomicOutputDir(tmp_path / "o") as out:
        f, writes = _flaky(out, monkeypatch, 1 << 40, delay=0.002)

        def write_all(fd: int, buffers: list[memoryview]) -> None:
            seen.append(f._queued)
            writes(fd, buffers)

        monkeypatch.setattr(hashed_file, "write_all", write_all)
        for k in range(30):
            f.write(POOL[k * 100_000:(k + 1) * 100_000])
        f.close()
        assert (out.path / "a.bin").read_bytes() == POOL[:3_000_000]
    assert len(seen) == 15 and 0 < max(seen) <= 1 << 20  # groups of 2 writes, at most 1 MiB queued


def test_close_stops_the_thread_and_writes_everything(tmp_path: Path) -> None:
    before = threading.active_count()
    with AtomicOutputDir(tmp_path / "o") as out:
        f = out.open_hashed("a.bin")
        f.write(POOL[:8 << 20])
        assert _writer_threads()  # started by the first whole group
        f.write(memoryview(POOL)[8 << 20:(8 << 20) + 5])
        f.flush()
        assert (out.path / "a.bin").stat().st_size == (8 << 20) + 5
        f.close()
        assert threading.active_count() == before
        out.commit(b"{}")
    assert (tmp_path / "o" / "a.bin").read_bytes() == POOL[:(8 << 20) + 5]


def test_a_non_contiguous_buffer_is_refused(tmp_path: Path) -> None:
    with AtomicOutputDir(tmp_path / "o") as out:
        f = out.open_hashed("a.bin")
        with pytest.raises(BufferError, match="C-contiguous"):
            f.write(np.arange(10, dtype=np.uint8)[::2].data)
        assert f.tell() == 0
        f.discard()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_a_full_disk_fails_like_a_plain_write(tmp_path: Path) -> None:
    """/dev/full: every write fails with ENOSPC, as a plain ``write`` to it does."""
    with AtomicOutputDir(tmp_path / "o") as out:
        f = HashedFile(out, "a.bin", open("/dev/full", "wb"))  # noqa: SIM115
        f.write(bytes(hashed_file.GROUP_BYTES))
        with pytest.raises(OSError) as info:
            f.close()
        assert info.value.errno == errno.ENOSPC
        with pytest.raises(OSError) as plain, open("/dev/full", "wb") as full:
            full.write(b"x")
            full.flush()
        assert type(plain.value) is type(info.value)
        f.discard()
    assert not _writer_threads()


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 5000), max_size=8), most=st.integers(1, 7000))
def test_write_all_finishes_short_writes(sizes: list[int], most: int) -> None:
    """``writev`` may write less than asked: the rest follows, in order, nothing twice."""
    from unittest import mock

    parts = [POOL[k * 5000:k * 5000 + n] for k, n in enumerate(sizes)]

    def short(fd: int, buffers: list[memoryview]) -> int:
        return os.write(fd, b"".join(bytes(view) for view in buffers)[:most])

    with tempfile.TemporaryFile() as f, mock.patch.object(os, "writev", short):
        hashed_file.write_all(f.fileno(), [memoryview(part) for part in parts])
        f.seek(0)
        assert f.read() == b"".join(parts)


def test_off_by_default_writes_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashed_file, "BACKGROUND", False)
    with AtomicOutputDir(tmp_path / "o") as out:
        f, writes = _flaky(out, monkeypatch, 1 << 40)
        f.write(bytearray(POOL[:9 << 20]))
        assert writes.written == 9 << 20 and not _writer_threads()  # written before write returned
        f.write(b"x")  # gathered
        f.close()
        assert writes.threads == {threading.current_thread().name}
    assert out.files["a.bin"] == ((9 << 20) + 1, hashlib.sha256(POOL[:9 << 20] + b"x").hexdigest())
