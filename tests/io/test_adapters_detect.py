"""Auto-detection of the input format, the registry, and pass-through of alignkit records."""

from __future__ import annotations

import pytest

from _adapter_helpers import convert_one, error_of
from alignkit.errors import UsageError
from alignkit.io.adapters import FORMATS, convert_rows, detect_format
from alignkit.records import ChatExample, PreferenceExample

U = {"role": "user", "content": "Hi"}
A = {"role": "assistant", "content": "Yo"}
EXAMPLES: dict[str, dict[str, object]] = {
    "alignkit": {"turns": [U, A]},
    "openai": {"messages": [U, A]},
    "sharegpt": {
        "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Yo"}]
    },
    "alpaca": {"instruction": "i", "input": "", "output": "o"},
    "self_instruct": {"instruction": "i", "instances": [{"input": "", "output": "o"}]},
    "pairs": {"question": "q", "answer": "a"},
    "hh_rlhf": {
        "chosen": "\n\nHuman: Q\n\nAssistant: A",
        "rejected": "\n\nHuman: Q\n\nAssistant: B",
    },
    "trl": {"prompt": "Q", "chosen": "A", "rejected": "B"},
}


def test_every_format_has_an_example() -> None:
    assert set(EXAMPLES) == set(FORMATS)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_format_is_detected_and_converts(name: str) -> None:
    row = EXAMPLES[name]
    assert detect_format([(1, row)], "f.jsonl", "line") == name
    results = list(convert_rows([row]))
    assert [r.ok for r in results] == [True], results


def test_trl_implicit_prompt_is_detected_as_trl() -> None:
    row = {"chosen": [U, A], "rejected": [U, {"role": "assistant", "content": "no"}]}
    assert detect_format([(1, row)], "f", "line") == "trl"


def test_unknown_keys_error_lists_formats_and_suggests_from() -> None:
    with pytest.raises(UsageError) as info:
        detect_format([(3, {"text": "x"})], "data.jsonl", "line")
    message = str(info.value)
    assert "data.jsonl: cannot detect the input format: line 3 has keys ['text']" in message
    assert all(name in message for name in FORMATS)
    assert "--from" in message


def test_row_matching_two_formats_is_ambiguous() -> None:
    row = {"messages": [U, A], "conversations": []}
    with pytest.raises(
        UsageError, match=r"ambiguous input format: item 0 .* matches openai, sharegpt"
    ):
        detect_format([(0, row)], "f.json", "item")


def test_rows_of_different_formats_are_ambiguous() -> None:
    rows = [(1, EXAMPLES["openai"]), (2, EXAMPLES["pairs"])]
    with pytest.raises(UsageError, match=r"rows look like openai \(line 1\), pairs \(line 2\)"):
        detect_format(rows, "f", "line")


def test_no_rows_detects_nothing() -> None:
    assert detect_format([], "f", "line") is None


def test_unknown_format_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown format 'csv'"):
        list(convert_rows([{"a": 1}], "csv"))


def test_pass_through_keeps_records_as_they_are() -> None:
    pref = {"history": [U], "response_a": "x", "response_b": "y", "chosen": "b", "id": "p1"}
    record = convert_one(pref, "alignkit").record
    assert isinstance(record, PreferenceExample)
    assert (record.chosen, record.id) == ("b", "p1")
    assert isinstance(convert_one({"turns": [U, A]}, "alignkit").record, ChatExample)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"turns": [U, A], "extra": 1}, ("extra_forbidden", "extra")),
        ({"turns": [U, A], "history": [U]}, ("ambiguous_record", "")),
        ({"text": "x"}, ("unknown_record_kind", "")),
    ],
)
def test_pass_through_errors(row: dict[str, object], expected: tuple[str, str]) -> None:
    assert error_of(row, "alignkit") == expected


def test_ultrafeedback_style_rows_are_trl() -> None:
    row = {
        "prompt": "Hi",
        "messages": [U, A],
        "chosen": [U, A],
        "rejected": [U, {"role": "assistant", "content": "no"}],
        "score_chosen": 8.0,
        "score_rejected": 3.0,
    }
    assert detect_format([(1, row)], "f", "line") == "trl"
    record = convert_one(row, "trl").record
    assert isinstance(record, PreferenceExample)
    assert (record.chosen_response, record.rejected_response) == ("Yo", "no")
