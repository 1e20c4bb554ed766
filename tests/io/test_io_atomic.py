"""``atomic_write``: whole files appear complete or not at all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from alignkit.errors import OutputError
from alignkit.io.atomic import atomic_write


def test_writes_text_and_bytes_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.json"
    atomic_write(target, "é\n")
    assert target.read_bytes() == "é\n".encode()
    atomic_write(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]  # no temp file left
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_interrupt_before_the_rename_keeps_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    seen: list[str] = []

    def interrupted(src: str, dst: str) -> None:
        seen.append(Path(src).read_text())  # the temp file is complete at this point
        raise KeyboardInterrupt

    monkeypatch.setattr("alignkit.io.atomic.os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, "new")
    assert seen == ["new"]
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_unwritable_place_is_an_output_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="cannot write"):
        atomic_write(tmp_path / "file" / "a.txt", "x")
