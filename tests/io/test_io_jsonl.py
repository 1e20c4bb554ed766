"""Reading JSONL as numbered byte lines: separators, BOM, CRLF, gzip, limits, memory."""

from __future__ import annotations

import gzip
import os
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.errors import InputError, UsageError
from alignkit.io.jsonl import Line, read_lines


def lines_of(path: Path, **kw: int) -> list[tuple[int, bytes | str]]:
    out: list[tuple[int, bytes | str]] = []
    for item in read_lines(path, **kw):
        if isinstance(item, InputError):
            out.append((item.line, item.error_type))
        else:
            out.append((item.number, item.raw))
    return out


def write(tmp_path: Path, data: bytes, name: str = "f.jsonl") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1c", "\r"])
def test_unicode_line_separators_do_not_split(tmp_path: Path, sep: str) -> None:
    first = f'{{"a": "x{sep}y"}}'.encode()
    p = write(tmp_path, first + b"\n" + b'{"b": 1}\n')
    assert lines_of(p) == [(1, first), (2, b'{"b": 1}')]


def test_crlf_bom_and_unterminated_last_line(tmp_path: Path) -> None:
    p = write(tmp_path, b'\xef\xbb\xbf{"a": 1}\r\n{"b": 2}\r\n{"c": 3}')
    assert lines_of(p) == [(1, b'{"a": 1}'), (2, b'{"b": 2}'), (3, b'{"c": 3}')]


def test_bom_only_stripped_on_line_one(tmp_path: Path) -> None:
    p = write(tmp_path, b'{"a": 1}\n\xef\xbb\xbf{"b": 2}\n')
    assert lines_of(p)[1] == (2, b'\xef\xbb\xbf{"b": 2}')


def test_only_one_cr_is_dropped(tmp_path: Path) -> None:
    p = write(tmp_path, b"a\r\r\nb\r")
    assert lines_of(p) == [(1, b"a\r"), (2, b"b")]


def test_blank_lines_are_yielded_and_numbered(tmp_path: Path) -> None:
    p = write(tmp_path, b"a\n\n  \nb\n")
    got = list(read_lines(p))
    assert [(x.number, x.raw) for x in got if isinstance(x, Line)] == [
        (1, b"a"), (2, b""), (3, b"  "), (4, b"b")]
    assert [x.is_blank for x in got if isinstance(x, Line)] == [False, True, True, False]


def test_empty_file_has_no_lines(tmp_path: Path) -> None:
    assert lines_of(write(tmp_path, b"")) == []


def test_gzip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    data = b'{"a": "\xe2\x80\xa8"}\n{"b": 2}\n'
    for name in ("f.jsonl.gz", "f.jsonl"):
        p = write(tmp_path, gzip.compress(data), name)
        assert lines_of(p) == [(1, b'{"a": "\xe2\x80\xa8"}'), (2, b'{"b": 2}')]


def test_corrupt_gzip_is_a_usage_error_naming_the_file(tmp_path: Path) -> None:
    good = gzip.compress(b'{"a": 1}\n' * 1000)
    p = write(tmp_path, good[: len(good) // 2], "cut.jsonl.gz")
    with pytest.raises(UsageError, match=r"cut\.jsonl\.gz: cannot read after line \d+"):
        list(read_lines(p))


def test_utf16_file_is_refused_with_a_fix(tmp_path: Path) -> None:
    p = write(tmp_path, '{"a": 1}\n'.encode("utf-16"))
    with pytest.raises(UsageError, match="UTF-16.*iconv"):
        list(read_lines(p))


def test_missing_file_and_directory_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"nope\.jsonl: no such file"):
        list(read_lines(tmp_path / "nope.jsonl"))
    with pytest.raises(UsageError, match="is a directory"):
        list(read_lines(tmp_path))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    p = write(tmp_path, b"{}\n")
    p.chmod(0)
    with pytest.raises(UsageError, match="permission denied"):
        list(read_lines(p))


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_line_limit_boundary(tmp_path: Path, ending: bytes) -> None:
    p = write(tmp_path, b"x" * 10 + ending + b"y" * 11 + ending + b"z" * 10)
    assert lines_of(p, max_line_bytes=10) == [(1, b"x" * 10), (2, "line_too_long"), (3, b"z" * 10)]
    p = write(tmp_path, b"x" * 10 + ending + b"y" * 11)
    assert lines_of(p, max_line_bytes=10) == [(1, b"x" * 10), (2, "line_too_long")]
    p = write(tmp_path, b"y" * 12 + ending)
    assert lines_of(p, max_line_bytes=10) == [(1, "line_too_long")]


def test_over_long_line_reports_its_size_and_reading_goes_on(tmp_path: Path) -> None:
    p = write(tmp_path, b"a\n" + b"b" * 5000 + b"\nc\n")
    items = list(read_lines(p, max_line_bytes=100))
    err = items[1]
    assert isinstance(err, InputError)
    assert (err.line, err.loc, err.error_type) == (2, "", "line_too_long")
    assert "5000 bytes" in err.message and "--max-line-bytes" in err.message
    assert isinstance(items[2], Line) and items[2].raw == b"c"


def test_over_long_line_is_not_buffered(tmp_path: Path) -> None:
    p = write(tmp_path, b"x" * 20_000_000 + b"\nok\n")
    tracemalloc.start()
    try:
        items = list(read_lines(p, max_line_bytes=1000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [i.error_type if isinstance(i, InputError) else i.raw for i in items] == [
        "line_too_long", b"ok"]
    assert peak < 4_000_000, f"peak {peak} bytes: the over-long line was buffered"


def test_bad_limit_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        list(read_lines(write(tmp_path, b"{}"), max_line_bytes=0))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary().filter(lambda b: b"\n" not in b and not b.endswith(b"\r")),
                max_size=20), st.booleans(), st.booleans())
def test_property_lines_round_trip(tmp_path_factory: pytest.TempPathFactory, lines: list[bytes],
                                   crlf: bool, final_newline: bool) -> None:
    if lines and lines[0].startswith(b"\xef\xbb\xbf") or lines and lines[0].startswith(
            (b"\xff\xfe", b"\xfe\xff", b"\x1f\x8b")):
        lines[0] = b"#" + lines[0]
    end = b"\r\n" if crlf else b"\n"
    data = end.join(lines) + (end if final_newline and lines else b"")
    p = tmp_path_factory.mktemp("prop") / "p.jsonl"
    p.write_bytes(data)
    expected = list(lines)
    if lines and not final_newline and lines[-1] == b"":
        expected = expected[:-1]  # an empty unterminated last line is no line
    assert lines_of(p) == list(enumerate(expected, 1))


@pytest.mark.parametrize("n", [
    100_000, pytest.param(1_000_000, marks=pytest.mark.slow, id="million")])
def test_many_lines_stream_in_bounded_memory(tmp_path: Path, n: int) -> None:
    line = b'{"turns": [{"role": "assistant", "content": "x"}]}\n'
    p = tmp_path / "big.jsonl"
    with open(p, "wb") as f:
        for _ in range(n // 10_000):
            f.write(line * 10_000)
    size = p.stat().st_size
    tracemalloc.start()
    try:
        count = 0
        for item in read_lines(p):
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n
    assert isinstance(item, Line) and item.number == n
    assert peak < 500_000 < size // 10, f"peak {peak} bytes for a {size}-byte file"
