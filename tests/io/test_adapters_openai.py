"""OpenAI ``messages`` rows → ChatExample."""

from __future__ import annotations

import pytest

from alignkit.records import ChatExample
from _adapter_helpers import convert_one, error_of

U = {"role": "user", "content": "Hi"}
A = {"role": "assistant", "content": "Hello!"}


def test_plain_messages_become_turns_and_extra_keys_metadata() -> None:
    row = {
        "id": 7,
        "dataset": "super_ni",
        "messages": [{"role": "system", "content": "Be kind."}, U, A],
    }
    record = convert_one(row, "openai").record
    assert isinstance(record, ChatExample)
    assert [(t.role, t.content) for t in record.turns] == [
        ("system", "Be kind."),
        ("user", "Hi"),
        ("assistant", "Hello!"),
    ]
    assert record.id == "7"
    assert record.metadata == {"dataset": "super_ni"}


def test_text_parts_are_joined_and_developer_is_system() -> None:
    row = {
        "messages": [
            {"role": "developer", "content": "Rules."},
            {"role": "user", "content": [{"type": "text", "text": "Hello "}, "world"]},
            A,
        ]
    }
    record = convert_one(row, "openai").record
    assert isinstance(record, ChatExample)
    assert record.turns[0].role == "system"
    assert record.turns[1].content == "Hello world"


@pytest.mark.parametrize("part_type", ["image_url", "input_image", "input_audio", "file"])
def test_non_text_parts_are_refused_with_their_location(part_type: str) -> None:
    row = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "see"}, {"type": part_type, part_type: {}}],
            },
            A,
        ]
    }
    assert error_of(row, "openai") == ("non_text_content", "messages.0.content.1.type")


def test_unknown_part_type_is_refused() -> None:
    row = {"messages": [{"role": "user", "content": [{"type": "weird"}]}, A]}
    assert error_of(row, "openai") == ("unsupported_part", "messages.0.content.0")


def test_reasoning_and_train_are_kept() -> None:
    row = {
        "messages": [
            U,
            {"role": "assistant", "content": "4", "reasoning_content": "2+2", "train": False},
        ]
    }
    record = convert_one(row, "openai").record
    assert isinstance(record, ChatExample)
    assert record.turns[1].reasoning == "2+2"
    assert record.turns[1].train is False


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"messages": []}, ("empty_conversation", "messages")),
        ({"messages": ["hi"]}, ("wrong_type", "messages.0")),
        ({"messages": [{"role": "robot", "content": "x"}, A]}, ("unknown_role", "messages.0.role")),
        ({"messages": [{"content": "x"}, A]}, ("wrong_type", "messages.0.role")),
        (
            {"messages": [U, {"role": "assistant", "content": None}]},
            ("missing_content", "messages.1.content"),
        ),
        (
            {"messages": [U, {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]}]},
            ("tool_calls_unsupported", "messages.1.tool_calls"),
        ),
        (
            {"messages": [U, {"role": "assistant", "content": 3}]},
            ("wrong_type", "messages.1.content"),
        ),
        ({"messages": [U, U, A]}, ("consecutive_roles", "messages.1")),
        ({"messages": [A, U, A]}, ("leading_assistant", "messages.0")),
        ({"messages": [U]}, ("no_assistant_turn", "turns")),
        (
            {"messages": [U, {"role": "assistant", "content": "  "}]},
            ("empty_content", "turns.1.content"),
        ),
        (
            {"messages": [U, A, {"role": "system", "content": "late"}]},
            ("system_not_first", "turns.2.role"),
        ),
    ],
)
def test_bad_rows_are_rejected_with_type_and_location(
    row: dict[str, object], expected: tuple[str, str]
) -> None:
    assert error_of(row, "openai") == expected


def test_fixes_are_applied_only_when_asked_and_counted() -> None:
    row = {"messages": [A, U, {"role": "user", "content": "more"}, A]}
    result = convert_one(row, "openai", merge_consecutive=True, drop_leading_assistant=True)
    assert isinstance(result.record, ChatExample)
    assert [t.content for t in result.record.turns] == ["Hi\n\nmore", "Hello!"]
    assert sorted(result.notes) == ["dropped_leading_assistant", "merged_consecutive"]


def test_consecutive_tool_results_are_allowed() -> None:
    tool = {"role": "tool", "content": "42"}
    row = {"messages": [U, {"role": "assistant", "content": "calling"}, tool, tool, A]}
    assert convert_one(row, "openai").ok


def test_empty_content_is_accepted_with_allow_empty() -> None:
    row = {"messages": [U, {"role": "assistant", "content": ""}]}
    assert convert_one(row, "openai", allow_empty=True).ok


def test_part_type_that_is_not_a_string_is_refused() -> None:
    row = {"messages": [{"role": "user", "content": [{"type": ["text"], "text": "x"}]}, A]}
    assert error_of(row, "openai") == ("unsupported_part", "messages.0.content.0")
