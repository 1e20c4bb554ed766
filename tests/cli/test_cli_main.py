"""The ``alignkit`` entry point: one parser per named command, every command for help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from alignkit.cli import COMMANDS, _command_module, build_parser, main


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["tokenize", "a.jsonl", "--format", "npy"], "alignkit.cli.tokenize"),
        (["train-tokenizer", "c.txt"], "alignkit.cli.train_tokenizer"),
        (["--version"], None),
        ([], None),
        (["tokenze"], None),  # unknown: the full parser names the choices
        (["__init__"], None),
    ],
)
def test_command_module(argv: list[str], module: str | None) -> None:
    assert _command_module(argv) == module


def test_full_parser_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    build_parser().print_help()
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name.rsplit(".", 1)[1].replace("_", "-") in out


def test_unknown_command_names_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["tokenze"])
    assert exc.value.code == 2
    assert "'tokenize'" in capsys.readouterr().err


def test_named_command_skips_other_commands_imports() -> None:
    code = (
        "import sys\nfrom alignkit.cli import main\n"
        "try:\n    main(['tokenize', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('alignkit.cli.') or m.startswith('alignkit.io.adapters')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    loaded = out.strip().splitlines()[-1]
    assert "alignkit.cli.tokenize" in loaded
    assert "alignkit.cli.convert" not in loaded and "alignkit.io.adapters" not in loaded


@pytest.mark.parametrize("command", ["tokenize", "validate", "convert"])
def test_report_json_failure_is_one_json_object(command: str, tmp_path: object,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A failing run with --report json still prints one JSON object on stdout, for CI."""
    import json
    from pathlib import Path

    missing = str(Path(str(tmp_path)) / "missing.jsonl")
    extra = ["-o", str(Path(str(tmp_path)) / "out.jsonl")] if command == "convert" else []
    assert main([command, missing, *extra, "--report", "json"]) == 2
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["ok"] is False and report["exit_code"] == 2
    assert report["error"]["type"] == "UsageError" and "missing.jsonl" in report["error"]["message"]
    assert "alignkit: error:" in err  # the human line stays on stderr


def test_report_json_failure_names_the_bad_record(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    from pathlib import Path

    src = Path(str(tmp_path)) / "bad.jsonl"
    src.write_text('{"turns": [{"role": "human", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}\n')
    assert main(["tokenize", str(src), "-o", str(Path(str(tmp_path)) / "out"), "--report", "json"]) == 1
    error = json.loads(capsys.readouterr().out)["error"]
    assert (error["type"], error["line"], error["loc"], error["reason"]) == ("InputError", 1, "turns.0.role",
                                                                             "literal_error")


def test_report_text_failure_prints_nothing_on_stdout(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path) + "/missing.jsonl"]) == 2
    assert capsys.readouterr().out == ""
