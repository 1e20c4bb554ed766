"""Whole-file validation: counts, error order, bounded memory on a million lines."""

from __future__ import annotations

import gzip
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from alignkit.errors import InputError
from alignkit.io.validate import FileReport, totals, validate_file

OK = b'{"turns": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}'
BAD = b'{"turns": [{"role": "bot", "content": "Hi"}], "x": 1}'


def test_counts_and_error_order(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_bytes(b"\n".join([OK, BAD, b"", OK, b"{"]) + b"\n")
    seen: list[InputError] = []
    report = validate_file(p, on_error=seen.append)
    assert (report.kind, report.records, report.valid, report.invalid) == ("sft", 5, 2, 3)
    assert report.errors_by_type == {"literal_error": 1, "extra_forbidden": 1, "blank_line": 1,
                                     "json_invalid": 1}
    assert [e.line for e in seen] == sorted(e.line for e in seen)
    assert [e.line for e in seen][-2:] == [3, 5]


def test_skip_blank_counts_skipped_lines(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_bytes(b"\n".join([OK, b"", b"  ", OK]))
    report = validate_file(p, skip_blank=True)
    assert (report.records, report.valid, report.skipped_blank) == (2, 2, 2)


def test_empty_file_has_no_kind(tmp_path: Path) -> None:
    p = tmp_path / "e.jsonl"
    p.write_bytes(b"")
    assert validate_file(p).to_dict() == {
        "path": str(p), "kind": None, "records": 0, "valid": 0, "invalid": 0,
        "skipped_blank": 0, "errors_by_type": {}}


def test_totals_add_up() -> None:
    a = FileReport("a", "sft", 3, 2, 1, 0, {"x": 2})
    b = FileReport("b", "preference", 4, 1, 3, 1, {"x": 1, "y": 3})
    t = totals([a, b])
    assert (t.records, t.valid, t.invalid, t.skipped_blank, t.errors_by_type) == (
        7, 3, 4, 1, {"x": 3, "y": 3})


def _write_gz(path: Path, blocks: int) -> None:
    with gzip.open(path, "wb", compresslevel=1) as f:
        for _ in range(blocks):
            f.write((OK + b"\n") * 9_999 + BAD + b"\n")


def test_validation_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    p = tmp_path / "mid.jsonl.gz"
    _write_gz(p, 2)
    tracemalloc.start()
    try:
        report = validate_file(p)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (report.records, report.invalid) == (20_000, 2)
    assert peak < 1_000_000 < 20_000 * len(OK), f"peak {peak} bytes"


_CHILD = """
import resource, sys
from alignkit.io.validate import validate_file
r = validate_file(sys.argv[1])
print(r.records, r.valid, r.invalid, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="uses the resource module")
def test_million_line_gzip_validates_in_bounded_memory(tmp_path: Path) -> None:
    """Peak RSS of a child validating 10^6 lines stays near that of one validating 10."""
    small, big = tmp_path / "small.jsonl", tmp_path / "big.jsonl.gz"
    small.write_bytes((OK + b"\n") * 10)
    _write_gz(big, 100)

    def child(path: Path) -> list[int]:
        done = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True,
                              text=True, check=True)
        return [int(x) for x in done.stdout.split()]

    *_, base_kib = child(small)
    records, valid, invalid, big_kib = child(big)
    assert (records, valid, invalid) == (1_000_000, 999_900, 100)
    uncompressed_kib = 1_000_000 * len(OK) // 1024
    assert big_kib - base_kib < 20_000 < uncompressed_kib // 4, (base_kib, big_kib)
