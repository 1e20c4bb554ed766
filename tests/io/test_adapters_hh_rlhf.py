"""HH-RLHF ``chosen``/``rejected`` transcripts → PreferenceExample."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _adapter_helpers import convert_one, error_of
from alignkit.io.adapters import ConvertOptions, convert_rows
from alignkit.io.adapters.hh_rlhf import split_pair
from alignkit.records import PreferenceExample


def hh(*turns: str, reply: str) -> str:
    """A transcript: alternating Human/Assistant turns, then an assistant reply."""
    text = "".join(
        f"\n\n{'Human' if i % 2 == 0 else 'Assistant'}: {t}" for i, t in enumerate(turns)
    )
    return f"{text}\n\nAssistant: {reply}"


def _pref(row: Mapping[str, object], **options: object) -> PreferenceExample:
    record = convert_one(row, "hh_rlhf", **options).record
    assert isinstance(record, PreferenceExample)
    return record


def test_single_turn_pair() -> None:
    record = _pref({"chosen": hh("Hi", reply="Hello!"), "rejected": hh("Hi", reply="Go away.")})
    assert [(t.role, t.content) for t in record.history] == [("user", "Hi")]
    assert (record.response_a, record.response_b, record.chosen) == ("Hello!", "Go away.", "a")


def test_multi_turn_history_is_parsed_into_turns() -> None:
    turns = ("q1", "a1", "q2")
    record = _pref({"chosen": hh(*turns, reply="good"), "rejected": hh(*turns, reply="bad")})
    assert [(t.role, t.content) for t in record.history] == [
        ("user", "q1"),
        ("assistant", "a1"),
        ("user", "q2"),
    ]


def test_response_containing_assistant_marker_is_not_split_there() -> None:
    # The right-most-marker rule would cut the chosen reply in two.
    chosen = hh("Q", reply="Sure.\n\nAssistant: as I said, yes")
    rejected = hh("Q", reply="No.")
    result = convert_one({"chosen": chosen, "rejected": rejected}, "hh_rlhf")
    assert isinstance(result.record, PreferenceExample)
    assert result.record.response_a == "Sure.\n\nAssistant: as I said, yes"
    assert result.record.response_b == "No."
    assert [t.content for t in result.record.history] == ["Q"]
    assert result.notes == ("response_spans_turns",)


def test_transcripts_diverging_before_the_last_turn_split_at_the_common_prefix() -> None:
    chosen = hh("Q", reply="A1\n\nHuman: more?\n\nAssistant: A2")
    rejected = hh("Q", reply="B1")
    history, a, b = split_pair(chosen, rejected)
    assert history == "\n\nHuman: Q"
    assert (a, b) == ("A1\n\nHuman: more?\n\nAssistant: A2", "B1")


def test_common_prefix_inside_a_reply_backs_off_to_the_marker() -> None:
    record = _pref({"chosen": hh("Q", reply="Yes, indeed"), "rejected": hh("Q", reply="Yes, no")})
    assert (record.response_a, record.response_b) == ("Yes, indeed", "Yes, no")


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            {"chosen": hh("Q", reply="A"), "rejected": hh("Q", reply="A")},
            ("identical_responses", "rejected"),
        ),
        (
            {"chosen": hh("Q1", reply="A"), "rejected": hh("Q2", reply="A")},
            ("no_common_prompt", "rejected"),
        ),
        (
            {
                "chosen": "preamble" + hh("Q", reply="A"),
                "rejected": "preamble" + hh("Q", reply="B"),
            },
            ("bad_transcript", "chosen"),
        ),
        (
            {"chosen": hh("Q", reply=""), "rejected": hh("Q", reply="B")},
            ("empty_response", "response_a"),
        ),
        (
            {"chosen": hh("", reply="A"), "rejected": hh("", reply="B")},
            ("empty_content", "history.0.content"),
        ),
        (
            {
                "chosen": "\n\nHuman: a\n\nHuman: b\n\nAssistant: A",
                "rejected": "\n\nHuman: a\n\nHuman: b\n\nAssistant: B",
            },
            ("consecutive_roles", "chosen (turn 1)"),
        ),
        ({"chosen": hh("Q", reply="A"), "rejected": 3}, ("wrong_type", "rejected")),
        ({"chosen": hh("Q", reply="A")}, ("missing", "rejected")),
    ],
)
def test_bad_rows_are_rejected(row: dict[str, object], expected: tuple[str, str]) -> None:
    assert error_of(row, "hh_rlhf") == expected


def test_merge_consecutive_fixes_repeated_human_turns() -> None:
    row = {
        "chosen": "\n\nHuman: a\n\nHuman: b\n\nAssistant: A",
        "rejected": "\n\nHuman: a\n\nHuman: b\n\nAssistant: B",
    }
    record = _pref(row, merge_consecutive=True)
    assert [t.content for t in record.history] == ["a\n\nb"]


def test_shuffle_seed_is_deterministic_and_keeps_the_preference() -> None:
    rows = [
        {"chosen": hh(f"Q{i}", reply=f"good{i}"), "rejected": hh(f"Q{i}", reply=f"bad{i}")}
        for i in range(40)
    ]
    runs = [
        list(convert_rows(rows, "hh_rlhf", ConvertOptions(shuffle_seed=seed))) for seed in (1, 1, 2)
    ]
    positions = [
        [r.record.chosen for r in run if isinstance(r.record, PreferenceExample)] for run in runs
    ]
    assert positions[0] == positions[1]
    assert positions[0] != positions[2]
    assert {"a", "b"} == set(positions[0])
    for i, result in enumerate(runs[0]):
        assert isinstance(result.record, PreferenceExample)
        assert result.record.chosen_response == f"good{i}"
        assert result.record.rejected_response == f"bad{i}"


_TEXT = st.text(
    alphabet=st.sampled_from(list("ab :\nHumanAssist")), min_size=1, max_size=12
).filter(
    lambda s: (
        s.strip() != ""
        and "\n\nHuman:" not in s
        and "\n\nAssistant:" not in s
        and not s.endswith("\n")
        and not s.startswith("Human:")
        and not s.startswith("Assistant:")
    )
)


_TAIL = st.lists(
    st.sampled_from(["a", " ", "\n", ":", "\n\nAssistant: ", "\n\nHuman: "]), max_size=6
).map("".join)


@given(
    history=st.lists(_TEXT, max_size=4),
    first=st.text(alphabet="xyz", min_size=1, max_size=3),
    tail_a=_TAIL,
    tail_b=_TAIL,
)
def test_split_recovers_history_and_replies(
    history: list[str], first: str, tail_a: str, tail_b: str
) -> None:
    turns = ["question", *history]
    if len(turns) % 2 == 0:  # alternating, odd length: the history ends on a user turn
        turns.pop()
    reply_a, reply_b = f"A{first}{tail_a}", f"B{first}{tail_b}"
    record = _pref({"chosen": hh(*turns, reply=reply_a), "rejected": hh(*turns, reply=reply_b)})
    assert [t.content for t in record.history] == turns
    assert [t.role for t in record.history] == [
        "user" if i % 2 == 0 else "assistant" for i in range(len(turns))
    ]
    assert (record.response_a, record.response_b) == (reply_a, reply_b)
