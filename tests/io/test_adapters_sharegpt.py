"""ShareGPT ``conversations`` rows → ChatExample."""

from __future__ import annotations

import pytest

from _adapter_helpers import convert_one, error_of
from alignkit.io.adapters.sharegpt import ROLE_MAP
from alignkit.records import ChatExample

H = {"from": "human", "value": "Hi"}
G = {"from": "gpt", "value": "Hello!"}


def test_human_gpt_turns_and_id() -> None:
    record = convert_one({"id": "identity_0", "conversations": [H, G]}, "sharegpt").record
    assert isinstance(record, ChatExample)
    assert [(t.role, t.content) for t in record.turns] == [("user", "Hi"), ("assistant", "Hello!")]
    assert record.id == "identity_0"
    assert record.metadata == {}


@pytest.mark.parametrize("speaker", ["chatgpt", "bing", "bard", "assistant", "GPT", "model"])
def test_assistant_speaker_aliases(speaker: str) -> None:
    record = convert_one({"conversations": [H, {"from": speaker, "value": "x"}]}, "sharegpt").record
    assert isinstance(record, ChatExample)
    assert record.turns[1].role == "assistant"


def test_role_map_covers_every_record_role() -> None:
    assert set(ROLE_MAP.values()) == {"system", "user", "assistant", "tool"}


def test_system_turn_tool_turns_and_role_content_items() -> None:
    row = {
        "conversations": [
            {"from": "system", "value": "S"},
            {"role": "user", "content": "Q"},
            {"from": "function_call", "value": '{"name": "f"}'},
            {"from": "observation", "value": "42"},
            G,
        ]
    }
    record = convert_one(row, "sharegpt").record
    assert isinstance(record, ChatExample)
    assert [t.role for t in record.turns] == ["system", "user", "assistant", "tool", "assistant"]


def test_top_level_system_field_becomes_first_turn() -> None:
    record = convert_one({"system": "Be brief.", "conversations": [H, G]}, "sharegpt").record
    assert isinstance(record, ChatExample)
    assert (record.turns[0].role, record.turns[0].content) == ("system", "Be brief.")


def test_list_of_strings_alternates_user_and_assistant() -> None:
    record = convert_one({"conversations": ["q1", "a1", "q2", "a2"]}, "sharegpt").record
    assert isinstance(record, ChatExample)
    assert [t.role for t in record.turns] == ["user", "assistant", "user", "assistant"]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"conversations": []}, ("empty_conversation", "conversations")),
        (
            {"conversations": [{"from": "alien", "value": "x"}, G]},
            ("unknown_role", "conversations.0.from"),
        ),
        (
            {"conversations": [{"from": "human", "value": 3}, G]},
            ("wrong_type", "conversations.0.value"),
        ),
        ({"conversations": [{"value": "x"}, G]}, ("wrong_type", "conversations.0.from")),
        ({"conversations": [H, H, G]}, ("consecutive_roles", "conversations.1")),
        ({"conversations": [H, G, G]}, ("consecutive_roles", "conversations.2")),
        ({"conversations": [G, H, G]}, ("leading_assistant", "conversations.0")),
        (
            {"conversations": [{"from": "system", "value": "S"}, G, H, G]},
            ("leading_assistant", "conversations.1"),
        ),
        (
            {"system": "S", "conversations": [{"from": "system", "value": "T"}, H, G]},
            ("duplicate_system", "system"),
        ),
        ({"conversations": [H]}, ("no_assistant_turn", "turns")),
        ({"conversations": "Hi"}, ("wrong_type", "conversations")),
    ],
)
def test_bad_rows_are_rejected(row: dict[str, object], expected: tuple[str, str]) -> None:
    assert error_of(row, "sharegpt") == expected


def test_merge_consecutive_joins_with_blank_line_and_counts() -> None:
    row = {"conversations": [H, {"from": "human", "value": "again"}, G]}
    result = convert_one(row, "sharegpt", merge_consecutive=True)
    assert isinstance(result.record, ChatExample)
    assert result.record.turns[0].content == "Hi\n\nagain"
    assert result.notes == ("merged_consecutive",)


def test_drop_leading_assistant_keeps_system_and_counts() -> None:
    row = {"conversations": [{"from": "system", "value": "S"}, G, G, H, G]}
    result = convert_one(row, "sharegpt", drop_leading_assistant=True)
    assert isinstance(result.record, ChatExample)
    assert [t.role for t in result.record.turns] == ["system", "user", "assistant"]
    assert result.notes == ("dropped_leading_assistant",)
