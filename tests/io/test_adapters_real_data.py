"""Acceptance on real data (skipped where ``../shared/data`` is absent): every row is
converted or reported with a reason, and the counts are the documented ones."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from conftest import shared_path
from alignkit.io.adapters import ConvertResult, ConvertSummary, convert_file
from alignkit.records import ChatExample, PreferenceExample

HH = "alignment/preference/hh-rlhf"

#: split → (rows, converted, rejected by reason); see the README section "Converting other formats".
HH_COUNTS = {
    "harmless-base": (2312, 2304, {"consecutive_roles": 4, "empty_response": 4}),
    "helpful-base": (
        2354,
        2341,
        {"consecutive_roles": 7, "empty_content": 1, "empty_response": 3, "identical_responses": 2},
    ),
    "helpful-online": (
        1137,
        1131,
        {"empty_content": 1, "empty_response": 3, "identical_responses": 2},
    ),
    "helpful-rejection-sampled": (2749, 2717, {"identical_responses": 32}),
}


def _run(path: Path, fmt: str = "auto") -> tuple[ConvertSummary, list[ConvertResult]]:
    summary = ConvertSummary()
    results = []
    for result in convert_file(path, fmt):
        summary.add(result)
        results.append(result)
    return summary, results


@pytest.mark.parametrize("split", sorted(HH_COUNTS))
def test_hh_rlhf_test_splits(split: str) -> None:
    path = shared_path("data", HH, split, "test.jsonl.gz")
    with gzip.open(path, "rb") as handle:
        total = sum(1 for _ in handle)
    summary, results = _run(path)
    rows, converted, reasons = HH_COUNTS[split]
    assert total == rows
    assert summary.converted + summary.rejected == total == summary.rows
    assert summary.converted == converted
    assert dict(summary.by_reason) == reasons
    for result in results:
        assert result.ok != (result.error is not None)
        if isinstance(result.record, PreferenceExample):
            assert result.record.history[-1].role == "user"
            assert result.record.chosen == "a"


def test_hh_rlhf_reasons_name_lines_in_the_file() -> None:
    path = shared_path("data", HH, "helpful-base", "test.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    _, results = _run(path, "hh_rlhf")
    for result in results:
        if result.error is not None and result.error.error_type == "identical_responses":
            row = json.loads(lines[result.number - 1])
            assert row["chosen"] == row["rejected"]


def test_fastchat_sharegpt_json_array() -> None:
    path = shared_path("data", "alignment/sft/fastchat/dummy_conversation.json")
    total = len(json.loads(path.read_text(encoding="utf-8")))
    summary, results = _run(path)
    assert total == 500
    assert (summary.rows, summary.converted, summary.rejected) == (500, 500, 0)
    first = results[0]
    assert (first.unit, first.number) == ("item", 0)
    assert isinstance(first.record, ChatExample)
    assert first.record.id == "identity_0"
    assert first.record.turns[0].content == "Who are you?"


def test_gsm8k_question_answer() -> None:
    path = shared_path("data", "alignment/sft/gsm8k/test.jsonl")
    summary, results = _run(path)
    assert (summary.rows, summary.converted, summary.rejected) == (1319, 1319, 0)
    record = results[0].record
    assert isinstance(record, ChatExample)
    assert record.turns[1].content.split("#### ")[-1] == "18"


def test_super_ni_messages() -> None:
    path = shared_path("data", "alignment/sft/super_ni/super_ni_data_1000.jsonl")
    summary, results = _run(path)
    assert (summary.rows, summary.converted, summary.rejected) == (1000, 1000, 0)
    record = results[0].record
    assert isinstance(record, ChatExample)
    assert record.metadata["dataset"] == "super_ni"
    assert record.id is not None and record.id.startswith("super_ni_task252")


def test_self_instruct_seed_tasks_one_record_per_instance() -> None:
    path = shared_path("data", "alignment/sft/self-instruct/seed_tasks.jsonl")
    instances = sum(
        len(json.loads(line)["instances"]) for line in path.read_text(encoding="utf-8").splitlines()
    )
    summary, results = _run(path)
    assert summary.rows == 175
    assert summary.converted + summary.rejected == instances
    assert summary.rejected == 0
    assert results[0].record is not None and results[0].record.id == "seed_task_0#0"


def test_lima_conversations_of_plain_strings() -> None:
    path = shared_path("data", "alignment/sft/lima/lima_train.jsonl")
    summary, results = _run(path)
    assert (summary.rows, summary.converted, summary.rejected) == (1030, 1030, 0)
    record = results[0].record
    assert isinstance(record, ChatExample)
    assert [t.role for t in record.turns][:2] == ["user", "assistant"]
