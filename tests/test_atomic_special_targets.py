"""Outputs onto a pipe, a device or a symbolic link (``convert -o``, ``schema export``).

A finished output used to be renamed over its target, so ``convert -o fifo`` replaced the
named pipe with a regular file, and, run as root, ``-o /dev/null`` replaced ``/dev/null``
itself. Such targets are now written into; a symbolic link is followed and kept.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from conftest import SAMPLE_DATA

from alignkit.cli import main
from alignkit.io.atomic import AtomicTextFile, atomic_write

LINES = (SAMPLE_DATA / "sft.jsonl").read_text().splitlines()[:3]


def _read_fifo(path: Path, into: list[bytes]) -> threading.Thread:
    def reader() -> None:
        with open(path, "rb") as fh:
            into.append(fh.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    return thread


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")
def test_convert_writes_into_a_named_pipe_and_keeps_it(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(LINES) + "\n")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    thread = _read_fifo(fifo, got)
    assert main(["convert", str(src), "-o", str(fifo)]) == 0
    thread.join(10)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a pipe
    assert len(got[0].splitlines()) == 3
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_a_device_is_written_into_not_replaced(tmp_path: Path) -> None:
    # A node of its own (the null device's numbers), never /dev/null: a regression must not
    # break the machine running the tests.
    dev = tmp_path / "null"
    try:
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (OSError, AttributeError) as err:
        pytest.skip(f"cannot make a device node here ({err}); needs root on Linux")
    before = os.stat(dev)
    with AtomicTextFile(dev) as out:
        out.write("x\n")
        out.commit()
    atomic_write(dev, "y\n")
    after = os.stat(dev)
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_a_symlinked_output_replaces_the_file_it_names(tmp_path: Path) -> None:
    real = tmp_path / "data" / "real.jsonl"
    real.parent.mkdir()
    real.write_text("old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    with AtomicTextFile(link) as out:
        out.write("new\n")
        out.commit()
    assert link.is_symlink() and real.read_text() == "new\n"
    atomic_write(link, "newer\n")
    assert link.is_symlink() and real.read_text() == "newer\n"
