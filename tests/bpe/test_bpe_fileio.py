"""Reading tokenizer files: gzip members inflated in one buffer give exactly what gzip.decompress gives."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.bpe._fileio import _single_member, read_bytes
from alignkit.errors import TokenizerFileError

CONTENT = st.one_of(st.binary(max_size=300), st.text(max_size=200).map(lambda t: (t * 20).encode("utf-8")))


@st.composite
def gzip_files(draw: st.DrawFn) -> bytes:
    """One gzip member, or several, perhaps padded, truncated or followed by junk."""
    members = [gzip.compress(draw(CONTENT), compresslevel=draw(st.integers(0, 9)), mtime=0)]
    shape = draw(st.sampled_from(["one", "one", "two", "same_twice", "nul_padding", "junk", "truncated", "flipped", "empty"]))
    if shape == "two":
        members.append(gzip.compress(draw(CONTENT), mtime=0))
    elif shape == "same_twice":
        members.append(members[0])
    elif shape == "nul_padding":
        members.append(b"\0" * draw(st.integers(1, 9)))
    elif shape == "junk":
        members.append(draw(st.binary(min_size=1, max_size=12)))
    data = b"".join(members)
    if shape == "truncated":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif shape == "flipped":
        k = draw(st.integers(10, len(data) - 1))
        data = data[:k] + bytes([data[k] ^ (1 << draw(st.integers(0, 7)))]) + data[k + 1 :]
    elif shape == "empty":
        data = gzip.compress(b"", mtime=0)
    return data


@given(gzip_files())
@settings(max_examples=400, deadline=None)
def test_read_bytes_equals_gzip_decompress(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("gz") / "tokenizer.json.gz"
    path.write_bytes(data)
    try:
        expected: bytes | None = gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        expected = None
    fast = _single_member(data)
    if fast is not None:
        assert fast == expected
    if data[:2] != b"\x1f\x8b":  # (truncated before the magic: not read as gzip at all)
        assert read_bytes(path) == data
    elif expected is None:
        with pytest.raises(TokenizerFileError, match="corrupt gzip data"):
            read_bytes(path)
    else:
        assert read_bytes(path) == expected


def test_single_member_is_read_in_one_go(tmp_path: Path) -> None:
    blob = b'{"model": {}}' * 1000
    data = gzip.compress(blob, mtime=0)
    assert _single_member(data) == blob
    assert _single_member(data + data) is None  # two members: gzip.decompress joins them
    assert _single_member(data + b"\0\0") is None  # padding
    assert _single_member(data[:-1] + bytes([data[-1] ^ 1])) is None  # wrong size in the trailer
