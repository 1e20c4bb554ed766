"""read_whole: the same lines as the streaming reader, and the file's sha256, from one read."""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.errors import UsageError
from alignkit.io.jsonl import Line, read_lines
from alignkit.io.whole_file import read_blocks, read_whole

_PIECES = st.lists(st.sampled_from([b"\n", b"\r", b"\r\n", b"a", b"{}", b" ", b"\xef\xbb\xbf",
                                    "\u2028".encode(), b"\x85", b"\xff"]), max_size=12)


@settings(max_examples=300, deadline=None)
@given(bom=st.booleans(), pieces=_PIECES)
def test_same_lines_as_read_lines(bom: bool, pieces: list[bytes]) -> None:
    data = (b"\xef\xbb\xbf" if bom else b"") + b"".join(pieces)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.jsonl"
        path.write_bytes(data)
        whole = read_whole(path)
        assert whole is not None
        streamed = [item for item in read_lines(path)]
    assert all(isinstance(item, Line) for item in streamed)
    assert whole.lines == [item.raw for item in streamed if isinstance(item, Line)]
    assert whole.sha256 == hashlib.sha256(data).hexdigest() and whole.size == len(data)


@settings(max_examples=300, deadline=None)
@given(bom=st.booleans(), pieces=_PIECES, block=st.integers(1, 9))
def test_blocks_hold_the_same_lines_and_hash(bom: bool, pieces: list[bytes], block: int) -> None:
    """Read block by block (blocks of a few bytes: cuts inside "\r\n", the BOM, UTF-8):
    the lines, hash and size of one whole read."""
    data = (b"\xef\xbb\xbf" if bom else b"") + b"".join(pieces)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.jsonl"
        path.write_bytes(data)
        whole = read_whole(path)
        blocks = read_blocks(path, block_bytes=max(block, 3))  # the BOM is looked for in the first block
        assert whole is not None and blocks is not None
        lines = [line for part in blocks for line in part]
    assert lines == whole.lines and (blocks.sha256, blocks.size) == (whole.sha256, whole.size)


def test_blocks_are_refused_like_whole_reads(tmp_path: Path) -> None:
    packed = tmp_path / "a.jsonl.gz"
    packed.write_bytes(gzip.compress(b"{}\n"))
    big = tmp_path / "b.jsonl"
    big.write_bytes(b"{}\n" * 10)
    assert read_blocks(packed) is None and read_blocks(big, max_line_bytes=29) is None
    utf16 = tmp_path / "c.jsonl"
    utf16.write_bytes(b"\xff\xfe{\x00}\x00")
    blocks = read_blocks(utf16)
    assert blocks is not None
    with pytest.raises(UsageError, match="UTF-16"):
        list(blocks)


def test_bom_only_file_is_one_blank_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"\xef\xbb\xbf")
    whole = read_whole(path)
    assert whole is not None and whole.lines == [b""]


def test_gzip_and_oversized_files_are_left_to_the_stream(tmp_path: Path) -> None:
    packed = tmp_path / "a.jsonl.gz"
    packed.write_bytes(gzip.compress(b"{}\n"))
    assert read_whole(packed) is None
    big = tmp_path / "b.jsonl"
    big.write_bytes(b"{}\n" * 10)
    assert read_whole(big, max_line_bytes=29) is None  # could hold a line over the limit
    assert read_whole(big, max_line_bytes=30) is not None


def test_utf16_and_missing_files_give_the_stream_reader_errors(tmp_path: Path) -> None:
    path = tmp_path / "u.jsonl"
    path.write_bytes("{}\n".encode("utf-16"))
    with pytest.raises(UsageError, match="UTF-16"):
        read_whole(path)
    with pytest.raises(UsageError, match="no such file"):
        read_whole(tmp_path / "none.jsonl")


@pytest.mark.parametrize("name", ["alignkit.io.whole_file", "alignkit.io.atomic"])
def test_worked_examples_hold(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_blocks_given_up_midway_close_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"k": 1}\n' * 1000)
    blocks = read_blocks(path, block_bytes=100)
    assert blocks is not None
    lines = iter(blocks)
    next(lines)
    getattr(lines, "close")()  # given up (an error downstream): the generator is closed
    with pytest.raises(OSError):
        os.fstat(blocks.fd)
    assert blocks.sha256 == ""  # no hash for a file not read to the end
