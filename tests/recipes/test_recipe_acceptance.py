"""Acceptance on the real data of the shared folder (skipped where it is absent).

LIMA is read from the shared folder at test time only; nothing of it is stored here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import shared_path

from alignkit.recipes import parse_recipe, run_recipe
from alignkit.recipes.normalize import dedup_key, text_view, words
from alignkit.records import ChatExample, PreferenceExample

SFT_INPUTS = [
    ("sft/gsm8k/train.jsonl", "gsm8k", "auto"),
    ("sft/super_ni/super_ni_data_1000.jsonl", "super_ni", "auto"),
    ("sft/self-instruct/seed_tasks.jsonl", "self_instruct", "auto"),
    ("sft/fastchat/dummy_conversation.json", "sharegpt_dummy", "auto"),
    ("preference/hh-rlhf/helpful-base/test.jsonl.gz", "hh_rlhf_chosen", "hh_rlhf"),
    ("preference/hh-rlhf/harmless-base/test.jsonl.gz", "hh_rlhf_harmless_chosen", "hh_rlhf"),
    ("sft/lima/lima_train.jsonl", "lima", "auto"),
]
THRESHOLD = 0.8


def _inputs(rows: list[tuple[str, str, str]]) -> str:
    out = []
    for rel, source, fmt in rows:
        path = shared_path("data", "alignment", *rel.split("/"))
        out.append(f'[[inputs]]\npath = "{path.as_posix()}"\nsource = "{source}"\nformat = "{fmt}"\n')
    return "".join(out)


def _ngrams(text: str, n: int = 5) -> frozenset[tuple[str, ...]]:
    ws = words(text)
    n = min(n, len(ws))
    return frozenset(tuple(ws[i : i + n]) for i in range(len(ws) - n + 1)) if ws else frozenset()


def _max_pair_jaccard(sets: list[frozenset[tuple[str, ...]]]) -> float:
    """Brute force over all pairs (skipping pairs whose sizes alone rule out ``THRESHOLD``)."""
    order = sorted(range(len(sets)), key=lambda i: len(sets[i]))
    best = 0.0
    for x, i in enumerate(order):
        a = sets[i]
        for j in order[x + 1 :]:
            b = sets[j]
            if len(a) < THRESHOLD * len(b):
                break
            inter = len(a & b)
            best = max(best, inter / (len(a) + len(b) - inter))
    return best


@pytest.mark.slow
def test_lima_sized_selection_on_the_real_pool() -> None:
    text = f'''name = "acceptance"
kind = "sft"
seed = 0
{_inputs(SFT_INPUTS)}
[[steps]]
type = "normalize"
[[steps]]
type = "exact_dedup"
[[steps]]
type = "near_dedup"
field = "prompt_response"
threshold = {THRESHOLD}
[[steps]]
type = "assistant_final"
[[steps]]
type = "special_tokens"
[[steps]]
type = "phrases"
[[steps]]
type = "length"
max = 4096
[[steps]]
type = "select"
method = "random"
k = 1000
quotas = {{ lima = 400, gsm8k = 150, super_ni = 150, self_instruct = 100, hh_rlhf_chosen = 100, sharegpt_dummy = 100 }}
'''
    result = run_recipe(parse_recipe(text))
    records = result.records
    assert len(records) == 1000
    assert all(isinstance(r, ChatExample) for r in records)
    chats = [r for r in records if isinstance(r, ChatExample)]
    # zero exact duplicates, on prompt and on prompt+response
    for view in ("prompt", "prompt_response"):
        keys = [dedup_key(text_view(r, view)) for r in chats]
        assert len(set(keys)) == len(keys), view
    # no pair at or above the near-dup threshold, by brute force
    assert _max_pair_jaccard([_ngrams(text_view(r, "prompt_response")) for r in chats]) < THRESHOLD
    # the report's counts add up
    rep = json.loads(result.report.to_json())
    read = sum(i["read"] for i in rep["inputs"])
    assert rep["accounting"] == {"read": read, "dropped": read - 1000, "output": 1000, "adds_up": True}
    for s in rep["steps"]:
        assert s["in"] == s["out"] + s["dropped"]
    assert rep["steps"][-1]["stats"]["per_source_selected"]["lima"] == 400
    assert sum(rep["output"]["per_source"].values()) == 1000
    assert len(result.drops) == read - 1000 + sum(i["rejected"] for i in rep["inputs"])


def test_pairs_from_vicuna_bench_reviews() -> None:
    folder = shared_path("data", "alignment", "preference", "vicuna-bench-gpt4-reviews")
    text = f'''name = "vicuna"
kind = "preference"
seed = 0
[[inputs]]
path = "{folder.as_posix()}"
source = "vicuna-bench"
format = "vicuna_reviews"
[[steps]]
type = "pairs"
strategy = "best_vs_worst"
'''
    result = run_recipe(parse_recipe(text))
    recs = result.records
    assert len(recs) > 600
    answers: dict[int, set[str]] = {}
    for p in sorted((folder / "answer").glob("*.jsonl")):
        for line in p.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            answers.setdefault(row["question_id"], set()).add(row["text"])
    for r in recs:
        assert isinstance(r, PreferenceExample)
        assert r.chosen_score is not None and r.rejected_score is not None
        assert r.chosen_score > r.rejected_score
        assert r.response_a != r.response_b
        qid = r.metadata["question_id"]
        assert isinstance(qid, int)
        assert {r.response_a, r.response_b} <= answers[qid]  # joined to the right question
    on_a = sum(r.chosen == "a" for r in recs) / len(recs)
    assert 0.45 <= on_a <= 0.55
    rep = result.report.data
    reviews = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in (folder / "review").rglob("*.jsonl"))
    assert rep["steps"][0]["in"] == reviews == 1040  # 13 review files of 80
    assert sum(rep["steps"][0]["reasons"].values()) + len(recs) == reviews
    assert set(rep["steps"][0]["reasons"]) <= {"tie", "identical_responses", "empty_response"}


@pytest.mark.slow
def test_pairs_from_real_hh_rlhf() -> None:
    rows = [(f"preference/hh-rlhf/{split}/test.jsonl.gz", f"hh/{split}", "hh_rlhf")
            for split in ("helpful-base", "harmless-base")]
    text = f'name = "hh"\nkind = "preference"\n{_inputs(rows)}\n[[steps]]\ntype = "pairs"\n' \
           '[[steps]]\ntype = "exact_dedup"\non = ["pair"]\n[[steps]]\ntype = "length_bias"\nmax_ratio = 3.0\n'
    result = run_recipe(parse_recipe(text))
    rep = result.report.data
    rows_in = sum(i["records"] for i in rep["inputs"])
    assert rows_in == 2354 + 2312
    assert rows_in == len(result.records) + len(result.drops)
    before, after = rep["steps"][-1]["stats"]["chosen_longer_before"], rep["steps"][-1]["stats"]["chosen_longer_after"]
    assert 0 < after <= before < 1
    assert all(r.chosen_response != r.rejected_response for r in result.records)
    on_a = sum(r.chosen == "a" for r in result.records) / len(result.records)
    assert abs(on_a - 0.5) < 0.01


def test_shipped_sample_pairs_match_their_origin() -> None:
    """The Vicuna-bench sample folder is a verbatim subset of the shared one."""
    shared = shared_path("data", "alignment", "preference", "vicuna-bench-gpt4-reviews")
    sample = Path(__file__).resolve().parents[2] / "sample_data" / "vicuna-bench"
    if not sample.exists():
        pytest.skip("sample_data/vicuna-bench is not in this checkout")
    def canon(line: str) -> str:
        return json.dumps(json.loads(line), sort_keys=True)

    full = {canon(line) for p in shared.rglob("*.jsonl") for line in p.read_text(encoding="utf-8").splitlines()}
    lines = [line for p in sample.rglob("*.jsonl") for line in p.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 100
    assert all(canon(line) in full for line in lines)
