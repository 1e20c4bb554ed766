"""``alignkit inspect`` sets special tokens apart from content that only looks like one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alignkit.cli import main

ROW = {"turns": [{"role": "user", "content": "say <|endoftext|> please"},
                 {"role": "assistant", "content": "ok <|endoftext|>"}]}


@pytest.fixture
def out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(ROW) + "\n")
    folder = tmp_path / "out"
    assert main(["tokenize", str(src), "-o", str(folder)]) == 0  # bundled GPT-2, plain template
    capsys.readouterr()
    return folder


def test_plain_output_brackets_special_tokens_only(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(out), "--color", "never"]) == 0
    shown = capsys.readouterr().out
    assert "special tokens in \u27e6...\u27e7" in shown
    # the content's "<|endoftext|>" is text (trained, as the assistant wrote it); the EOS the
    # template adds is the special token
    assert "[[ok <|endoftext|>\u27e6<|endoftext|>\u27e7]]" in shown
    assert "say <|endoftext|> please" in shown and "\u27e6<|endoftext|>\u27e7 please" not in shown


def test_colour_output_marks_special_tokens(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(out), "--color", "always"]) == 0
    shown = capsys.readouterr().out
    assert "\x1b[32mok <|endoftext|>\x1b[1;36m<|endoftext|>\x1b[0m\x1b[32m" in shown
