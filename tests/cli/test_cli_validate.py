"""``alignkit validate``: stderr errors, stdout summary, exit codes 0/1/2, JSON report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from alignkit.cli import main

OK = b'{"turns": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}'
PREF = b'{"history": [{"role": "user", "content": "2+2?"}], "response_a": "4", "response_b": "5", "chosen": "a"}'
BAD_ROLE = b'{"turns": [{"role": "bot", "content": "Hi"}, {"role": "assistant", "content": "x"}]}'


def make(tmp_path: Path, name: str, *lines: bytes) -> str:
    p = tmp_path / name
    p.write_bytes(b"".join(line + b"\n" for line in lines))
    return str(p)


def test_clean_files_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make(tmp_path, "a.jsonl", OK, OK)
    b = make(tmp_path, "b.jsonl", PREF)
    assert main(["validate", a, b]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines() == [
        f"{a}: sft, 2 records, 2 valid, 0 invalid",
        f"{b}: preference, 1 records, 1 valid, 0 invalid",
        "total: 2 files, 3 records, 3 valid, 0 invalid",
    ]


def test_invalid_records_exit_1_with_located_errors(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    a = make(tmp_path, "a.jsonl", OK, BAD_ROLE, b"", b"{")
    assert main(["validate", a]) == 1
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        f"{a}:2: turns.0.role: Input should be 'system', 'user', 'assistant' or 'tool'"
        " (got string 'bot') [literal_error]",
        f"{a}:3: blank line; delete it, or allow blank lines with --skip-blank [blank_line]",
        f"{a}:4: invalid JSON: EOF while parsing an object at byte 1; each line must be one"
        " complete JSON object [json_invalid]",
    ]
    assert out == (f"{a}: sft, 4 records, 1 valid, 3 invalid (errors: blank_line 1,"
                   " json_invalid 1, literal_error 1)\n")


def test_max_errors_limits_printing_not_counting(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    a = make(tmp_path, "a.jsonl", *[BAD_ROLE] * 5)
    assert main(["validate", "--max-errors", "2", "--report", "json", a]) == 1
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 3 and lines[-1].startswith("alignkit: 3 more errors not shown")
    doc = json.loads(out)
    assert doc["ok"] is False and doc["total"]["invalid"] == 5
    assert [e["line"] for e in doc["errors"]] == [1, 2] and doc["errors_not_shown"] == 3
    assert doc["errors"][0] == {"path": a, "line": 1, "loc": "turns.0.role", "type": "literal_error",
                                "message": "Input should be 'system', 'user', 'assistant' or 'tool'"
                                " (got string 'bot')"}
    assert main(["validate", "--max-errors", "0", a]) == 1
    assert len(capsys.readouterr().err.splitlines()) == 5


def test_json_report_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make(tmp_path, "a.jsonl", OK, b"")
    assert main(["validate", "--report", "json", "--skip-blank", a]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == {
        "ok": True,
        "files": [{"path": a, "kind": "sft", "records": 1, "valid": 1, "invalid": 0,
                   "skipped_blank": 1, "errors_by_type": {}}],
        "total": {"records": 1, "valid": 1, "invalid": 0, "skipped_blank": 1, "errors_by_type": {}},
        "errors": [], "errors_not_shown": 0,
    }


def test_kind_allow_empty_and_line_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = b'{"turns": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""}]}'
    a = make(tmp_path, "a.jsonl", empty)
    assert main(["validate", a]) == 1
    assert main(["validate", "--allow-empty", a]) == 0
    assert main(["validate", "--kind", "preference", make(tmp_path, "p.jsonl", PREF)]) == 0
    assert main(["validate", "--kind", "preference", make(tmp_path, "s.jsonl", OK)]) == 1
    assert main(["validate", "--max-line-bytes", "50", make(tmp_path, "l.jsonl", OK)]) == 1
    assert "[line_too_long]" in capsys.readouterr().err


def test_empty_file_warns_but_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make(tmp_path, "e.jsonl")
    assert main(["validate", a]) == 0
    out, err = capsys.readouterr()
    assert "no records" in err and out == f"{a}: unknown kind, 0 records, 0 valid, 0 invalid\n"


def test_unreadable_input_exits_2_before_any_report(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    good = make(tmp_path, "a.jsonl", BAD_ROLE)
    assert main(["validate", good, str(tmp_path / "missing.jsonl")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"alignkit: error: {tmp_path / 'missing.jsonl'}: no such file; check the path\n"
    assert main(["validate", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["validate"], ["validate", "--kind", "chat", "x"], ["validate", "--max-errors", "-1", "x"],
    ["validate", "--max-line-bytes", "0", "x"], ["validate", "--report", "xml", "x"]])
def test_bad_options_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage: alignkit validate" in capsys.readouterr().err


def test_subprocess_console_entry_point(tmp_path: Path) -> None:
    a = make(tmp_path, "a.jsonl", OK, BAD_ROLE)
    done = subprocess.run([sys.executable, "-m", "alignkit", "validate", a],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith(f"{a}:2: turns.0.role: ")
    assert done.stdout == f"{a}: sft, 2 records, 1 valid, 1 invalid (errors: literal_error 1)\n"


def test_pre_commit_hook_definition() -> None:
    import re

    yaml = pytest.importorskip("yaml")
    root = Path(__file__).resolve().parents[2]
    (hook,) = yaml.safe_load((root / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "alignkit-validate" and hook["language"] == "python"
    assert hook["entry"] == "alignkit validate"
    files = re.compile(hook["files"])
    assert files.search("data/sft.jsonl") and files.search("x/pairs.jsonl.gz")
    assert not files.search("a.json") and not files.search("a.jsonl.bak")
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "id: alignkit-validate" in readme
