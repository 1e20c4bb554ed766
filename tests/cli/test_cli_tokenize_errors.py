"""tokenize's configuration errors and messages: template/tokenizer mismatch, --kind mismatch,
the field of a rejected row, --num-proc, empty inputs and skipped blank lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLE_DATA

from alignkit.cli import main

SFT = {"turns": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("on_error", ["fail", "skip"])
def test_template_tokenizer_mismatch_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], on_error: str
) -> None:
    out = tmp_path / "out"
    code = main(["tokenize", str(SAMPLE_DATA / "sft.jsonl"), "-o", str(out), "--template", "chatml",
                 "--on-error", on_error])
    assert code == 2
    err = capsys.readouterr().err
    assert "template 'chatml' needs the special tokens '<|im_start|>', '<|im_end|>'" in err
    assert "tokenizer 'gpt2'" in err and "--tokenizer" in err and "--template" in err
    assert "sft.jsonl:1" not in err  # not a bad record
    assert not out.exists() and not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_template_with_its_tokens_still_runs(tmp_path: Path) -> None:
    src = _write(tmp_path / "in.jsonl", json.dumps(SFT) + "\n")
    assert main(["tokenize", str(src), "-o", str(tmp_path / "out"), "--template", "plain"]) == 0


def test_kind_option_mismatch_says_what_validate_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``tokenize --kind preference`` on SFT data reports what ``validate --kind preference``
    does (``wrong_kind``), not a ``mixed_kinds`` error about a "first record (line 0)"."""
    src = SAMPLE_DATA / "sft.jsonl"
    assert main(["validate", str(src), "--kind", "preference", "--max-errors", "1"]) == 1
    expected = capsys.readouterr().err.splitlines()[0]
    assert expected.endswith("but --kind is preference; pass --kind sft (or --kind auto) [wrong_kind]")
    assert main(["tokenize", str(src), "-o", str(tmp_path / "out"), "--kind", "preference"]) == 1
    err = capsys.readouterr().err
    message = expected.split("sft.jsonl:1:", 1)[1]  # tokenize labels inputs by file name
    assert f"sft.jsonl:1:{message}" in err and "line 0" not in err


def test_skipped_rejects_on_stderr_name_their_field_as_validate_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = {"turns": [{"role": "user", "content": 4}, {"role": "assistant", "content": "a"}]}
    src = _write(tmp_path / "types.jsonl", json.dumps(SFT) + "\n" + json.dumps(bad) + "\n")
    assert main(["validate", str(src)]) == 1
    shown = capsys.readouterr().err.splitlines()[0]
    assert shown.startswith(f"{src}:2: turns.0.content: Input should be a valid string")
    assert main(["tokenize", str(src), "-o", str(tmp_path / "out"), "--on-error", "skip"]) == 0
    err = capsys.readouterr().err
    assert f"types.jsonl:2: rejected: {shown.split(':2: ', 1)[1]}" in err


@pytest.mark.parametrize("value", ["0", "-1"])
def test_num_proc_must_be_at_least_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    src = _write(tmp_path / "in.jsonl", json.dumps(SFT) + "\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["tokenize", str(src), "-o", str(tmp_path / "out"), "--num-proc", value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"--num-proc: must be at least 1, not {value}" in err and "no limit" not in err
    assert not (tmp_path / "out").exists()


def test_num_proc_help_says_what_n_may_be(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["tokenize", "--help"])
    assert "at least 1" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(("text", "options"), [("", []), ("\n  \n\t\n", ["--skip-blank"])])
def test_an_input_without_records_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, options: list[str]
) -> None:
    src = _write(tmp_path / "empty.jsonl", text)
    out = tmp_path / "out"
    assert main(["tokenize", str(src), "-o", str(out), *options]) == 0  # still a valid output
    err = capsys.readouterr().err
    assert f"alignkit: warning: {src}: no records (empty, or only blank lines); {out} holds 0 rows" in err
    assert (out / "manifest.json").is_file()


def test_no_warning_when_there_are_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path / "in.jsonl", json.dumps(SFT) + "\n")
    assert main(["tokenize", str(src), "-o", str(tmp_path / "out")]) == 0
    assert "warning" not in capsys.readouterr().err
