"""``metadata: null`` is no metadata: what ``Dataset.to_json`` writes for a row without any.

A data set whose rows have metadata only sometimes (a common case after ``concatenate_datasets``
or ``Dataset.from_list``) exports ``"metadata": null`` for the others. ``validate``, the JSON
Schemas and ``tokenize`` (fast path and pydantic path alike) all read it as ``{}``.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from datasets import Dataset

from alignkit.cli import main
from alignkit.pipeline import tokenize_files
from alignkit.record_check import pair_parts, sft_turns
from alignkit.records import ChatExample, PreferenceExample
from alignkit.schema import render_schemas
from alignkit.worker import TokenizeConfig

U = {"role": "user", "content": "Hi"}
A = {"role": "assistant", "content": "Hello"}
PAIR = {"history": [U], "response_a": "4", "response_b": "5", "chosen": "a"}


def _export(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "export.jsonl"
    Dataset.from_list(rows).to_json(str(path), lines=True)
    return path


def test_a_datasets_export_writes_null_metadata(tmp_path: Path) -> None:
    path = _export(tmp_path, [{"turns": [U, A], "metadata": {"src": "x"}}, {"turns": [U, A], "metadata": None}])
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[1]["metadata"] is None  # the case this file is about
    for line in lines:
        assert ChatExample.model_validate(line).metadata in ({"src": "x"}, {})


@pytest.mark.parametrize("model", [ChatExample, PreferenceExample])
def test_null_metadata_reads_as_empty_and_dumps_as_empty(model: type[ChatExample] | type[PreferenceExample]) -> None:
    base: dict[str, object] = {"turns": [U, A]} if model is ChatExample else dict(PAIR)
    record = model.model_validate_json(json.dumps({**base, "metadata": None}))
    assert record.metadata == {}
    assert record.model_dump()["metadata"] == {}
    with pytest.raises(ValueError, match="metadata"):
        model.model_validate({**base, "metadata": [1]})


def test_schemas_accept_null_metadata_and_still_refuse_other_types() -> None:
    schemas = {name: json.loads(text) for name, text in render_schemas().items()}
    chat = jsonschema.Draft202012Validator(schemas["chat_example.schema.json"])
    pref = jsonschema.Draft202012Validator(schemas["preference_example.schema.json"])
    assert chat.is_valid({"turns": [U, A], "metadata": None})
    assert pref.is_valid({**PAIR, "metadata": None})
    assert not chat.is_valid({"turns": [U, A], "metadata": [1]})
    assert not chat.is_valid({"turns": [U, A], "metadata": "x"})


def test_the_fast_checks_take_null_metadata() -> None:
    assert sft_turns({"turns": [U, A], "metadata": None}) is not None
    assert pair_parts({**PAIR, "metadata": None}) is not None


def test_validate_and_tokenize_take_a_datasets_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _export(tmp_path, [{"turns": [U, A], "metadata": {"n": i}} if i % 2 else {"turns": [U, A], "metadata": None}
                              for i in range(6)])
    assert main(["validate", str(path)]) == 0
    assert "6 valid, 0 invalid" in capsys.readouterr().out
    report = tokenize_files([path], tmp_path / "out", TokenizeConfig())
    assert report.stats.written == 6 and report.rejects_total == 0
