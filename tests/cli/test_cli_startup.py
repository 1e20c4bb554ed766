"""What an ``alignkit tokenize`` process pays for besides its work: imports and the collector.

A real command-line run (``sys.argv``, as ``alignkit`` and ``python -m alignkit`` start it)
of valid sample data imports none of the modules below, and runs with the cyclic garbage
collector off (see :func:`alignkit.cli.quick_exit`); each check has a control showing it
can see the opposite.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLE_DATA

from alignkit.cli import COMMANDS, build_parser, main
from alignkit.cli._args import HelpFormatter, terminal_columns

#: Imported by nothing a valid tokenize run needs (uuid: temporary names, via platform;
#: difflib: the unknown-template hint; pydantic: the reject path only; multiprocessing:
#: ``--num-proc`` > 1 only; dataclasses and the inspect it imports: pydantic's, our records
#: are plain classes).
NOT_IMPORTED = ("uuid", "platform", "difflib", "pydantic", "pydantic_core", "typing_extensions", "multiprocessing",
                "dataclasses", "inspect")

_CHILD = """
import gc, json, os, sys
{before}
import alignkit.cli as cli

def report(code):
    sys.stdout.flush()
    mods = sorted(m for m in {watched!r} if m in sys.modules)
    sys.stderr.write("STARTUP " + json.dumps([code, mods, gc.isenabled()]) + "\\n")
    sys.stderr.flush()
    os._exit(code)

cli.quick_exit = report
sys.argv = ["alignkit", "tokenize", *sys.argv[1:]]
code = cli.main()
report(code)
"""


def _run(tmp_path: Path, *args: str, before: str = "", watched: tuple[str, ...] = NOT_IMPORTED) -> list[object]:
    code = _CHILD.format(before=before, watched=watched)
    proc = subprocess.run([sys.executable, "-c", code, *args, "-o", str(tmp_path / "o")],
                          cwd=tmp_path, capture_output=True, text=True, check=False)
    line = [x for x in proc.stderr.splitlines() if x.startswith("STARTUP ")]
    assert line, proc.stderr
    result: list[object] = json.loads(line[-1][len("STARTUP "):])
    return result


# (the kind told from a first line that is certainly valid takes no pydantic either:
# alignkit.pipeline._file_kind)
@pytest.mark.parametrize("args", [("sft.jsonl",), ("preference.jsonl",), ("preference.jsonl", "--kind", "preference")])
def test_valid_run_imports_none_of_them_and_runs_without_the_collector(tmp_path: Path,
                                                                       args: tuple[str, ...]) -> None:
    assert _run(tmp_path, str(SAMPLE_DATA / args[0]), *args[1:]) == [0, [], False]
    assert (tmp_path / "o" / "manifest.json").is_file()


def test_two_processes_import_no_dataclasses(tmp_path: Path) -> None:
    """``--num-proc 2`` plans line ranges and result files before the fork: plain classes too,
    and its forked workers share a range counter without multiprocessing."""
    code, mods, _ = _run(tmp_path, str(SAMPLE_DATA / "sft.jsonl"), "--num-proc", "2",
                         watched=("dataclasses", "inspect", "multiprocessing", "alignkit.range_workers"))
    assert code == 0 and mods == ["alignkit.range_workers"]  # (the control: it took the forked path)
    assert (tmp_path / "o" / "manifest.json").is_file()


def test_control_an_import_and_the_reject_path_are_seen(tmp_path: Path) -> None:
    """The checks can fail: a module imported first is seen, and so is pydantic on rejects."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"turns": []}\n')
    assert _run(tmp_path, str(bad), "--on-error", "skip", before="import uuid") == [
        0, ["dataclasses", "inspect", "platform", "pydantic", "pydantic_core", "typing_extensions", "uuid"], False]


def test_a_failed_run_keeps_its_exit_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"turns": []}\n')
    code, _, collector = _run(tmp_path, str(bad))
    assert code == 1 and collector is False
    assert not (tmp_path / "o").exists()


def test_main_called_with_a_list_leaves_the_collector_on(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Tests and other programs call ``main([...])``: their process keeps its collector."""
    assert gc.isenabled()
    assert main(["tokenize", str(SAMPLE_DATA / "sft.jsonl"), "-o", str(tmp_path / "o")]) == 0
    assert gc.isenabled()
    capsys.readouterr()


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and all its subparsers, nested ones included."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found.extend(_parsers(child))
    return found


@pytest.mark.parametrize("columns", [None, "132", "57", "0", "-5", "abc", ""])
def test_help_is_laid_out_at_shutils_width(monkeypatch: pytest.MonkeyPatch, columns: str | None) -> None:
    """The formatter that skips importing shutil gives argparse's own help text, width included."""
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert terminal_columns() == shutil.get_terminal_size().columns
    parsers = _parsers(build_parser())
    assert len(parsers) > len(COMMANDS)
    for parser in parsers:
        assert parser.formatter_class is HelpFormatter
        ours = parser.format_help()
        parser.formatter_class = argparse.HelpFormatter
        assert parser.format_help() == ours


@pytest.mark.parametrize("name", ["alignkit.cli._args", "alignkit.manifest", "alignkit.io.atomic"])
def test_docstring_examples(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), verbose=False)
    assert result.attempted > 0 and result.failed == 0
