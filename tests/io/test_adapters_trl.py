"""TRL preference rows (explicit and implicit prompt) → PreferenceExample."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from _adapter_helpers import convert_one, error_of
from alignkit.records import PreferenceExample


def msg(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


def _pref(row: Mapping[str, object], **options: object) -> PreferenceExample:
    record = convert_one(row, "trl", **options).record
    assert isinstance(record, PreferenceExample)
    return record


def test_explicit_string_prompt() -> None:
    record = _pref({"prompt": "2+2?", "chosen": "4", "rejected": "5"})
    assert [(t.role, t.content) for t in record.history] == [("user", "2+2?")]
    assert (record.chosen_response, record.rejected_response) == ("4", "5")


def test_explicit_conversational_with_system_and_scores() -> None:
    row = {
        "prompt": [msg("system", "S"), msg("user", "Q")],
        "chosen": [msg("assistant", "good")],
        "rejected": [msg("assistant", "bad")],
        "score_chosen": 9,
        "score_rejected": 2.5,
        "source": "uf",
    }
    record = _pref(row)
    assert [t.role for t in record.history] == ["system", "user"]
    assert (record.chosen_score, record.rejected_score) == (9.0, 2.5)
    assert record.metadata == {"source": "uf"}


def test_system_field_goes_first() -> None:
    record = _pref({"system": "S", "prompt": "Q", "chosen": "a", "rejected": "b"})
    assert [(t.role, t.content) for t in record.history] == [("system", "S"), ("user", "Q")]


def test_implicit_prompt_uses_longest_common_message_prefix() -> None:
    shared = [msg("user", "q1"), msg("assistant", "a1"), msg("user", "q2")]
    row = {
        "chosen": [*shared, msg("assistant", "good")],
        "rejected": [*shared, msg("assistant", "bad")],
    }
    record = _pref(row)
    assert [t.content for t in record.history] == ["q1", "a1", "q2"]
    assert (record.response_a, record.response_b) == ("good", "bad")


def test_shuffle_moves_scores_with_their_response() -> None:
    rows = [
        {
            "prompt": f"Q{i}",
            "chosen": f"g{i}",
            "rejected": f"b{i}",
            "score_chosen": 1.0,
            "score_rejected": 0.0,
        }
        for i in range(20)
    ]
    for i, row in enumerate(rows):
        record = _pref(row, shuffle_seed=3)
        assert record.chosen_response == f"g{i}"
        assert (record.chosen_score, record.rejected_score) == (1.0, 0.0)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            {"prompt": "Q", "chosen": "same", "rejected": "same"},
            ("identical_responses", "response_b"),
        ),
        (
            {
                "chosen": [msg("user", "Q"), msg("assistant", "A")],
                "rejected": [msg("user", "Q"), msg("assistant", "A")],
            },
            ("identical_responses", "rejected"),
        ),
        (
            {
                "chosen": [
                    msg("user", "Q"),
                    msg("assistant", "A"),
                    msg("user", "more"),
                    msg("assistant", "B"),
                ],
                "rejected": [msg("user", "Q"), msg("assistant", "C")],
            },
            ("multi_turn_divergence", "chosen.1"),
        ),
        (
            {
                "chosen": [msg("user", "Q1"), msg("assistant", "A")],
                "rejected": [msg("user", "Q2"), msg("assistant", "B")],
            },
            ("multi_turn_divergence", "chosen.0"),
        ),
        (
            {
                "prompt": "Q",
                "chosen": [msg("assistant", "a"), msg("assistant", "b")],
                "rejected": "c",
            },
            ("multi_turn_divergence", "chosen"),
        ),
        (
            {"prompt": "Q", "chosen": [msg("user", "a")], "rejected": "c"},
            ("response_not_assistant", "chosen.0.role"),
        ),
        ({"prompt": 5, "chosen": "a", "rejected": "b"}, ("wrong_type", "prompt")),
        ({"prompt": "Q", "chosen": "a"}, ("missing", "rejected")),
        (
            {"prompt": "Q", "chosen": "a", "rejected": "b", "score_chosen": "high"},
            ("wrong_type", "score_chosen"),
        ),
        (
            {"prompt": [msg("user", "Q"), msg("assistant", "A")], "chosen": "a", "rejected": "b"},
            ("history_not_user_final", "history.1.role"),
        ),
        (
            {
                "system": "S",
                "prompt": [msg("system", "T"), msg("user", "Q")],
                "chosen": "a",
                "rejected": "b",
            },
            ("duplicate_system", "system"),
        ),
        ({"prompt": "Q", "chosen": "", "rejected": "b"}, ("empty_response", "response_a")),
    ],
)
def test_bad_rows_are_rejected(row: dict[str, object], expected: tuple[str, str]) -> None:
    assert error_of(row, "trl") == expected


def test_chosen_rejected_repeating_the_prompt_are_split() -> None:
    shared = [msg("user", "Q")]
    row = {
        "prompt": "Q",
        "chosen": [*shared, msg("assistant", "good")],
        "rejected": [*shared, msg("assistant", "bad")],
    }
    record = _pref(row)
    assert [t.content for t in record.history] == ["Q"]
    assert (record.response_a, record.response_b) == ("good", "bad")


def test_repeated_prompt_must_match_the_prompt() -> None:
    row = {
        "prompt": "other",
        "chosen": [msg("user", "Q"), msg("assistant", "good")],
        "rejected": [msg("user", "Q"), msg("assistant", "bad")],
    }
    assert error_of(row, "trl") == ("prompt_mismatch", "prompt")
