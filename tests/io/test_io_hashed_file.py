"""HashedFile: the sha256 and size of what is written, with writeback started along the way."""

from __future__ import annotations

import doctest
import errno
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import alignkit.io.hashed_file as hashed_file
from alignkit.io.atomic import AtomicOutputDir
from alignkit.io.hashed_file import HashedFile, start_writeback

POOL = os.urandom((3 << 20) + 8192)  # the bytes written are slices of this
KINDS = ("bytes", "bytearray", "memoryview", "numpy", "numpy_u32")


def test_hash_size_and_writeback_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(hashed_file, "WRITEBACK_BYTES", 1000)
    monkeypatch.setattr(hashed_file, "start_writeback", lambda fd, offset: calls.append(offset))
    parts = [os.urandom(n) for n in (10, 700, 400, 3000, 1, 999)]
    with AtomicOutputDir(tmp_path / "o") as out:
        f = out.open_hashed("a.bin")
        for part in parts:
            f.write(memoryview(part))
        f.close()
        f.close()  # twice: no effect
        out.commit(b"{}")
    data = b"".join(parts)
    assert (tmp_path / "o" / "a.bin").read_bytes() == data
    assert out.files["a.bin"] == (len(data), hashlib.sha256(data).hexdigest())
    assert calls == [0, 1110, 4110]  # from where the previous call began, every 1,000 bytes or more


def test_start_writeback_on_a_real_file(tmp_path: Path) -> None:
    path = tmp_path / "b.bin"
    with open(path, "wb") as handle:
        handle.write(b"x" * 100_000)
        handle.flush()
        start_writeback(handle.fileno(), 0)  # a hint: never an error, whatever the system
        start_writeback(handle.fileno(), 50_000)
    assert path.stat().st_size == 100_000


def _buffer(kind: str, data: bytes) -> Any:
    """``data`` as a buffer of ``kind`` that the test can change after the write."""
    if kind == "bytes":
        return data
    if kind == "bytearray":
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


@settings(max_examples=40, deadline=None)
@given(writes=st.lists(st.tuples(st.one_of(st.integers(0, 70_000), st.integers(0, 3 << 20)),
                                 st.sampled_from(KINDS)), max_size=6),
       writeback=st.sampled_from([1, 5000, 8 << 20]))
def test_the_file_holds_what_was_written_even_if_changed_after(writes: list[tuple[int, str]], writeback: int) -> None:
    expected = bytearray()
    saved = hashed_file.WRITEBACK_BYTES
    hashed_file.WRITEBACK_BYTES = writeback  # (hypothesis: no monkeypatch fixture)
    try:
        with tempfile.TemporaryDirectory() as tmp, AtomicOutputDir(Path(tmp) / "o") as out:
            f = out.open_hashed("a.bin")
            at = 0
            for size, kind in writes:
                buffer = _buffer(kind, POOL[at:at + size])
                at = (at + 7919) % 8192
                written = f.write(buffer)
                assert written == memoryview(buffer).nbytes
                expected += memoryview(buffer).cast("B")
                assert f.tell() == len(expected)
                _clobber(buffer)  # written before write returned: the caller may change it now
            f.close()
            assert (out.path / "a.bin").read_bytes() == expected
            assert out.files["a.bin"] == (len(expected), hashlib.sha256(expected).hexdigest())
    finally:
        hashed_file.WRITEBACK_BYTES = saved


class FullDisk:
    """A file handle whose writes fail with ``ENOSPC`` once ``limit`` bytes are written."""

    def __init__(self, path: Path, limit: int) -> None:
        self.handle = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.limit = limit
        self.written = 0

    def write(self, data: memoryview) -> int:
        if self.written + data.nbytes > self.limit:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.written += data.nbytes
        return self.handle.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handle, name)


def test_a_failed_write_raises_and_the_file_can_be_discarded(tmp_path: Path) -> None:
    with pytest.raises(OSError) as info, AtomicOutputDir(tmp_path / "o") as out:
        disk = FullDisk(out.file("a.bin"), 3 << 20)
        f = HashedFile(out, "a.bin", disk)  # type: ignore[arg-type]
        f.write(b"x" * (2 << 20))
        try:
            f.write(b"y" * (2 << 20))  # over the limit
        finally:
            assert f.tell() == 2 << 20 and "a.bin" not in out.files
            f.discard()
            f.discard()  # twice: no effect
            assert f.closed and disk.handle.closed
            with pytest.raises(ValueError, match="closed"):
                f.write(b"z")
    assert info.value.errno == errno.ENOSPC and type(info.value) is OSError
    assert list(tmp_path.iterdir()) == []  # the partial folder is gone


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("size", [10, 1 << 20])
def test_a_full_disk_fails_like_a_plain_write(tmp_path: Path, size: int) -> None:
    """/dev/full: a large write fails at once, a small (buffered) one at close; discard never raises."""
    with AtomicOutputDir(tmp_path / "o") as out:
        f = HashedFile(out, "a.bin", open("/dev/full", "wb"))  # noqa: SIM115
        with pytest.raises(OSError) as info:
            f.write(bytes(size))
            f.close()
        assert info.value.errno == errno.ENOSPC and not f.closed and "a.bin" not in out.files
        with pytest.raises(OSError) as plain, open("/dev/full", "wb") as full:
            full.write(b"x")
            full.flush()
        assert type(plain.value) is type(info.value)
        f.discard()  # what is still buffered fails to flush again: not raised
        assert (f.closed, f.handle.closed) == (True, True)


def test_a_non_contiguous_buffer_is_refused(tmp_path: Path) -> None:
    with AtomicOutputDir(tmp_path / "o") as out:
        f = out.open_hashed("a.bin")
        with pytest.raises(BufferError, match="C-contiguous"):
            f.write(np.arange(10, dtype=np.uint8)[::2].data)
        assert f.tell() == 0
        f.discard()


def test_flush_hands_the_bytes_to_the_system(tmp_path: Path) -> None:
    with AtomicOutputDir(tmp_path / "o") as out:
        f = out.open_hashed("a.bin")
        f.write(b"abc")
        f.flush()
        assert (out.path / "a.bin").read_bytes() == b"abc" and f.writable()
        f.close()


def test_docstring_example() -> None:
    result = doctest.testmod(hashed_file, verbose=False)
    assert result.attempted > 0 and result.failed == 0
