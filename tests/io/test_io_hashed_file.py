"""HashedFile: the sha256 and size of what is written, with writeback started along the way."""

from __future__ import annotations

import doctest
import hashlib
import os
from pathlib import Path

import pytest

import alignkit.io.hashed_file as hashed_file
from alignkit.io.atomic import AtomicOutputDir
from alignkit.io.hashed_file import start_writeback


def test_hash_size_and_writeback_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(hashed_file, "WRITEBACK_BYTES", 1000)
    monkeypatch.setattr(hashed_file, "SMALL_BYTES", 0)  # each write a group of its own, none gathered
    monkeypatch.setattr(hashed_file, "GROUP_BYTES", 0)
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


def test_docstring_example() -> None:
    result = doctest.testmod(hashed_file, verbose=False)
    assert result.attempted > 0 and result.failed == 0
