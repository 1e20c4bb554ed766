"""JSON Schemas: committed files are current, and an independent validator agrees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from alignkit.cli import main
from alignkit.schema import check, export, render_schemas

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
SAMPLE = ROOT / "sample_data"


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return doc


def test_committed_schemas_are_current() -> None:
    assert check(SCHEMAS) == [], "run `alignkit schema export` and commit schemas/"


def test_rendering_is_stable_and_portable() -> None:
    first, second = render_schemas(), render_schemas()
    assert first == second
    for name, text in first.items():
        assert text.endswith("}\n") and not text.endswith("\n\n")
        doc = json.loads(text)
        assert doc["$id"] == name and "2020-12" in doc["$schema"]
        assert json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text
        assert str(ROOT) not in text and "/home/" not in text and "/tmp/" not in text


@pytest.mark.parametrize("name", sorted(render_schemas()))
def test_schemas_are_valid_draft_2020_12(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(load(name))


def _records(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (SAMPLE / name).read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize(("data", "schemas"), [
    ("sft.jsonl", ["chat_example.schema.json", "record.schema.json"]),
    ("preference.jsonl", ["preference_example.schema.json", "record.schema.json"]),
])
def test_every_sample_record_validates_with_jsonschema(data: str, schemas: list[str]) -> None:
    records = _records(data)
    assert len(records) >= 30
    for name in schemas:
        validator = jsonschema.Draft202012Validator(load(name))
        for record in records:
            validator.validate(record)


def test_the_kinds_do_not_cross() -> None:
    chat = jsonschema.Draft202012Validator(load("chat_example.schema.json"))
    pref = jsonschema.Draft202012Validator(load("preference_example.schema.json"))
    assert not pref.is_valid(_records("sft.jsonl")[0])
    assert not chat.is_valid(_records("preference.jsonl")[0])


USER = {"role": "user", "content": "Hi"}
ASSISTANT = {"role": "assistant", "content": "Hello"}


@pytest.mark.parametrize(("record", "path"), [
    ({"turns": [{"role": "bot", "content": "Hi"}, ASSISTANT]}, ["turns", 0, "role"]),
    ({"turns": [USER, {"role": "assistant"}]}, ["turns", 1]),
    ({"turns": [USER, ASSISTANT], "prompt": "x"}, []),
    ({"turns": [USER, {"role": "assistant", "content": 3}]}, ["turns", 1, "content"]),
    ({"turns": []}, ["turns"]),
    ({"turns": [USER, ASSISTANT], "metadata": [1]}, ["metadata"]),
    ({"turns": [dict(USER, extra=1), ASSISTANT]}, ["turns", 0]),
    ({"history": [USER], "response_a": "a", "response_b": "b", "chosen": "c"}, ["chosen"]),
    ({"history": [USER], "response_a": "a", "response_b": "b"}, []),
    ([USER], []),
])
def test_invalid_records_are_rejected_by_jsonschema(record: Any, path: list[Any]) -> None:
    validator = jsonschema.Draft202012Validator(load("record.schema.json"))
    errors = list(validator.iter_errors(record))
    assert errors, "the schema accepted an invalid record"
    if "history" not in str(record) and isinstance(record, dict):
        chat = jsonschema.Draft202012Validator(load("chat_example.schema.json"))
        assert [list(e.absolute_path) for e in chat.iter_errors(record)] == [path]


def test_export_check_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "s"
    assert main(["schema", "export", "--check", "--dir", str(folder)]) == 1
    err = capsys.readouterr().err
    assert err.count("missing; run `alignkit schema export`") == 3
    assert main(["schema", "export", "--dir", str(folder)]) == 0
    assert capsys.readouterr().out.count("wrote ") == 3
    assert main(["schema", "export", "--check", "--dir", str(folder)]) == 0
    assert "up to date" in capsys.readouterr().out
    stale = folder / "chat_example.schema.json"
    stale.write_text(stale.read_text().replace('"minItems": 1', '"minItems": 2'))
    assert main(["schema", "export", "--check", "--dir", str(folder)]) == 1
    assert "chat_example.schema.json: stale" in capsys.readouterr().err
    assert export(folder) == [str(stale)] and check(folder) == []


def test_schema_without_action_shows_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 2
    assert "export" in capsys.readouterr().err
