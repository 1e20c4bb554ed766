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
