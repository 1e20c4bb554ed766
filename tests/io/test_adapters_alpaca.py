"""Alpaca, self-instruct and prompt/response pair rows → ChatExample."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from _adapter_helpers import convert_one, error_of
from alignkit.io.adapters import ConvertOptions, convert_rows
from alignkit.records import ChatExample


def _turns(row: Mapping[str, object], fmt: str) -> list[tuple[str, str]]:
    record = convert_one(row, fmt).record
    assert isinstance(record, ChatExample)
    return [(t.role, t.content) for t in record.turns]


def test_alpaca_input_joined_with_blank_line() -> None:
    row = {"instruction": "Translate.", "input": "cat", "output": "chat"}
    assert _turns(row, "alpaca") == [("user", "Translate.\n\ncat"), ("assistant", "chat")]


@pytest.mark.parametrize("empty", ["", "   ", None])
def test_alpaca_empty_input_is_left_out(empty: str | None) -> None:
    row = {"instruction": "Say hi.", "input": empty, "output": "hi"}
    assert _turns(row, "alpaca") == [("user", "Say hi."), ("assistant", "hi")]


def test_alpaca_system_and_history() -> None:
    row = {"system": "S", "history": [["q0", "a0"]], "instruction": "q1", "output": "a1"}
    assert _turns(row, "alpaca") == [
        ("system", "S"),
        ("user", "q0"),
        ("assistant", "a0"),
        ("user", "q1"),
        ("assistant", "a1"),
    ]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"instruction": 1, "output": "x"}, ("wrong_type", "instruction")),
        ({"instruction": "i", "output": None}, ("missing", "output")),  # null = absent
        ({"instruction": "i", "input": 5, "output": "o"}, ("wrong_type", "input")),
        ({"instruction": "i", "output": "o", "history": [["q"]]}, ("wrong_type", "history.0")),
        ({"instruction": "", "output": "o"}, ("empty_content", "turns.0.content")),
        ({"instruction": "i", "output": ""}, ("empty_content", "turns.1.content")),
    ],
)
def test_alpaca_bad_rows(row: dict[str, object], expected: tuple[str, str]) -> None:
    assert error_of(row, "alpaca") == expected


def test_self_instruct_gives_one_record_per_instance() -> None:
    row = {
        "id": "seed_task_1",
        "name": "n",
        "instruction": "Add.",
        "is_classification": False,
        "instances": [{"input": "1 1", "output": "2"}, {"input": "", "output": "0"}],
    }
    results = list(convert_rows([row], "self_instruct"))
    assert [r.part for r in results] == [0, 1]
    records = [r.record for r in results]
    assert all(isinstance(r, ChatExample) for r in records)
    first, second = records
    assert isinstance(first, ChatExample) and isinstance(second, ChatExample)
    assert first.turns[0].content == "Add.\n\n1 1" and second.turns[0].content == "Add."
    assert (first.id, second.id) == ("seed_task_1#0", "seed_task_1#1")
    assert first.metadata == {"name": "n", "is_classification": False, "instance": 0}


def test_self_instruct_bad_instance_is_reported_alone() -> None:
    row = {"instruction": "Add.", "instances": [{"input": "1 1", "output": "2"}, {"input": "x"}]}
    results = list(convert_rows([row], "self_instruct"))
    assert results[0].ok
    assert results[1].error is not None
    assert (results[1].error.error_type, results[1].error.loc) == ("missing", "instances.1.output")


def test_self_instruct_without_instances_is_rejected() -> None:
    assert error_of({"instruction": "i", "instances": []}, "self_instruct") == (
        "empty_instances",
        "instances",
    )


@pytest.mark.parametrize(
    ("row", "prompt", "response"),
    [
        ({"prompt": "p", "response": "r"}, "p", "r"),
        ({"prompt": "p", "completion": "c"}, "p", "c"),
        ({"question": "2+2?", "answer": "#### 4"}, "2+2?", "#### 4"),
    ],
)
def test_pairs_key_variants(row: dict[str, object], prompt: str, response: str) -> None:
    assert _turns(row, "pairs") == [("user", prompt), ("assistant", response)]


def test_pairs_system_and_conversational_prompt_completion() -> None:
    row = {
        "system": "S",
        "prompt": [{"role": "user", "content": "p"}],
        "completion": [{"role": "assistant", "content": "c"}],
    }
    assert _turns(row, "pairs") == [("system", "S"), ("user", "p"), ("assistant", "c")]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            {"prompt": "p", "completion": [{"role": "assistant", "content": "c"}]},
            ("wrong_type", "prompt"),
        ),
        ({"question": "q", "answer": 4}, ("wrong_type", "answer")),
        ({"question": "q"}, ("missing", "")),
        (
            {
                "prompt": [{"role": "user", "content": "p"}],
                "completion": [{"role": "user", "content": "c"}],
            },
            ("consecutive_roles", "completion.0"),
        ),
    ],
)
def test_pairs_bad_rows(row: dict[str, object], expected: tuple[str, str]) -> None:
    assert error_of(row, "pairs") == expected


def test_source_option_fills_source() -> None:
    results = list(
        convert_rows([{"question": "q", "answer": "a"}], "pairs", ConvertOptions(source="gsm8k"))
    )
    assert results[0].record is not None and results[0].record.source == "gsm8k"


def test_kto_rows_with_a_boolean_label_are_not_sft() -> None:
    row = {"prompt": "Q", "completion": "bad answer", "label": False}
    assert error_of(row, "pairs") == ("unpaired_preference", "label")
