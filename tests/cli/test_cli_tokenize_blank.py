"""``alignkit tokenize --skip-blank``: the skipped blank lines in the text summary (when there are
any) and in ``--report json``, for 1 and 2 processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alignkit.cli import main

SFT = json.dumps({"turns": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})


def _src(tmp_path: Path) -> Path:
    src = tmp_path / "in.jsonl"
    # 4 blank lines: empty, CRLF-empty, whitespace-only, whitespace-only CRLF (the last line)
    src.write_bytes(f"\n{SFT}\n\r\n{SFT}\r\n \t \n{SFT}\n  \r\n".encode())
    return src


@pytest.mark.parametrize("num_proc", ["1", "2"])
def test_summary_says_how_many_blank_lines_were_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], num_proc: str
) -> None:
    src = _src(tmp_path)
    assert main(["tokenize", str(src), "-o", str(tmp_path / "out"), "--skip-blank", "--num-proc", num_proc]) == 0
    out = capsys.readouterr().out
    assert "3 records in, 3 written," in out and ", 4 blank lines skipped" in out
    assert main(["tokenize", str(src), "-o", str(tmp_path / "j"), "--skip-blank", "--num-proc", num_proc,
                 "--report", "json"]) == 0
    counts = json.loads(capsys.readouterr().out)["counts"]
    assert counts["skipped_blank"] == 4 and counts["records_in"] == 3
    manifest = json.loads((tmp_path / "j" / "manifest.json").read_text())
    assert manifest["counts"] == counts


def test_summary_is_silent_about_blank_lines_when_none_were_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(SFT + "\n")
    assert main(["tokenize", str(src), "-o", str(tmp_path / "out"), "--skip-blank"]) == 0
    assert "blank" not in capsys.readouterr().out
    assert main(["tokenize", str(src), "-o", str(tmp_path / "j"), "--report", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["skipped_blank"] == 0  # always present


def test_without_skip_blank_a_blank_line_is_still_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _src(tmp_path)
    assert main(["tokenize", str(src), "-o", str(tmp_path / "out")]) == 1
    assert "in.jsonl:1: blank line; delete it, or allow blank lines with --skip-blank [blank_line]" \
        in capsys.readouterr().err
    assert main(["tokenize", str(src), "-o", str(tmp_path / "out"), "--on-error", "skip"]) == 0
    captured = capsys.readouterr()
    assert "in.jsonl:3: rejected: blank line" in captured.err
    assert "4 rejected" in captured.out and "blank_line 4" in captured.out and "skipped" not in captured.out
