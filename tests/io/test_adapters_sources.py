"""Inputs as numbered rows: JSONL, JSON arrays, Parquet, Hugging Face datasets."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import datasets
import pytest

from alignkit.errors import UsageError
from alignkit.io.adapters import ConvertSummary, convert_file, convert_rows, open_source

GOOD = {"question": "2+2?", "answer": "4"}
BAD = {"question": "3+3?", "answer": ""}


def _jsonl(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_jsonl_bad_lines_are_reported_with_their_numbers(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "g.jsonl",
        [
            json.dumps(GOOD).encode(),
            b"",
            b"{not json",
            b"[1, 2]",
            b'{"question": "\xff", "answer": "a"}',
            b'{"question": "\\ud800", "answer": "a"}',
            json.dumps(BAD).encode(),
            json.dumps(GOOD).encode(),
        ],
    )
    results = list(convert_file(path, "pairs"))
    got = [(r.number, r.error.error_type if r.error else "ok") for r in results]
    assert got == [
        (1, "ok"),
        (2, "blank_line"),
        (3, "json_invalid"),
        (4, "not_an_object"),
        (5, "invalid_utf8"),
        (6, "lone_surrogate"),
        (7, "empty_content"),
        (8, "ok"),
    ]
    error = results[6].error
    assert error is not None
    assert (
        str(error) == f"{path}:7: turns.1.content: turn 1 has empty content; fill it or drop"
        " the turn (or allow empty content: --allow-empty, allow_empty=True) [empty_content]"
    )


def test_auto_detection_skips_unreadable_lines(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "g.jsonl", [b"oops", json.dumps(GOOD).encode()])
    assert [r.ok for r in convert_file(path)] == [False, True]


def test_gzipped_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl.gz"
    path.write_bytes(gzip.compress(json.dumps(GOOD).encode() + b"\n"))
    assert [r.ok for r in convert_file(path)] == [True]


def test_json_array_items_are_numbered_from_zero(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([GOOD, "text", BAD]))
    results = list(convert_file(path))
    assert [(r.unit, r.number, r.ok) for r in results] == [
        ("item", 0, True),
        ("item", 1, False),
        ("item", 2, False),
    ]
    assert (
        str(results[1].error) == f"{path}: item 1: expected a JSON object, got string [not_an_object]"
    )
    assert str(results[2].error).startswith(f"{path}: item 2: turns.1.content: ")


def test_json_file_holding_json_lines_is_read_as_jsonl(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "a.json", [json.dumps(GOOD).encode(), json.dumps(GOOD).encode()])
    assert [(r.unit, r.number) for r in convert_file(path)] == [("line", 1), ("line", 2)]


def test_json_object_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text("[1, 2")
    with pytest.raises(UsageError, match="not a valid UTF-8 JSON file"):
        list(convert_file(path))


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        list(convert_file(tmp_path / "none.jsonl"))


def test_dataset_object_rows_say_row_n() -> None:
    ds = datasets.Dataset.from_list([GOOD, BAD])
    results = list(convert_rows(ds, path="my_dataset"))
    assert [r.ok for r in results] == [True, False]
    assert str(results[1].error).startswith("my_dataset: row 1: turns.1.content: ")


def test_one_shot_iterator_is_buffered_for_detection() -> None:
    results = list(convert_rows(iter([GOOD, GOOD])))
    assert [r.ok for r in results] == [True, True]


def test_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    datasets.Dataset.from_list([GOOD, BAD, GOOD]).to_parquet(str(path))
    summary = ConvertSummary()
    for result in convert_file(path):
        summary.add(result)
    assert (summary.rows, summary.converted, summary.rejected) == (3, 2, 1)
    assert dict(summary.by_reason) == {"empty_content": 1}


def test_parquet_nested_messages_with_null_struct_fields(tmp_path: Path) -> None:
    rows = [
        {
            "messages": [
                {"role": "user", "content": "Hi", "name": None},
                {"role": "assistant", "content": "Yo", "name": "bot"},
            ]
        }
    ]
    path = tmp_path / "m.parquet"
    datasets.Dataset.from_list(rows).to_parquet(str(path))
    assert [r.ok for r in convert_file(path)] == [True]


def test_not_parquet_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_text("hello")
    with pytest.raises(UsageError, match="not a readable Parquet file"):
        list(convert_file(path))


def test_save_to_disk_folder_and_dataset_dict_splits(tmp_path: Path) -> None:
    single = tmp_path / "single"
    datasets.Dataset.from_list([GOOD]).save_to_disk(str(single))
    assert [(r.unit, r.number, r.ok) for r in convert_file(single)] == [("row", 0, True)]
    both = tmp_path / "dict"
    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list([GOOD, GOOD]),
            "test": datasets.Dataset.from_list([BAD]),
        }
    ).save_to_disk(str(both))
    assert [r.ok for r in convert_file(both, split="test")] == [False]
    with pytest.raises(UsageError, match=r"no split was given; choose one of \['test', 'train'\]"):
        open_source(both)
    with pytest.raises(UsageError, match="there is no split 'dev'"):
        open_source(both, split="dev")


def test_plain_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a dataset folder"):
        open_source(tmp_path)
