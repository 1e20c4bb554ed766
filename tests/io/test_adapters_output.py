"""Atomic JSONL output of converted records."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignkit.errors import OutputError
from alignkit.io.adapters.output import AtomicTextFile, record_json
from alignkit.records import PreferenceExample, Turn


def test_failure_inside_the_block_leaves_the_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), AtomicTextFile(target) as out:
        out.write("new\n")
        raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_nothing_appears_until_commit(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.jsonl"
    with AtomicTextFile(target) as out:
        out.write("x\n")
        assert not target.exists()
        out.commit()
    assert target.read_text() == "x\n"


def test_write_outside_the_block_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="not open"):
        AtomicTextFile(tmp_path / "o.jsonl").write("x")


def test_record_json_is_compact_ordered_and_keeps_non_ascii() -> None:
    record = PreferenceExample(
        history=[Turn(role="user", content="¿Qué?")],
        response_a="sí",
        response_b="no",
        chosen="a",
        metadata={"k": None},
    )
    assert record_json(record) == (
        '{"history":[{"role":"user","content":"¿Qué?"}],"response_a":"sí","response_b":"no",'
        '"chosen":"a","metadata":{"k":null}}'
    )
