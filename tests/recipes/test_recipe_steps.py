"""SFT steps: normalisation, exact and near dedup, filters, selection."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from _recipe_helpers import ctx, item

from alignkit.errors import RecipeError
from alignkit.recipes.config import (
    AssistantFinalStep, ExactDedupStep, LengthStep, NearDedupStep, PhrasesStep, RepetitionStep,
    ScriptStep, SelectStep, SpecialTokensStep,
)
from alignkit.recipes.dedup import exact_dedup, near_dedup
from alignkit.recipes.filters import run_filter, script_fraction
from alignkit.recipes.items import Context, Item
from alignkit.recipes.normalize import clean_example, dedup_key, text_view
from alignkit.recipes.select import select
from alignkit.records import ChatExample


def uids(items: list[Item]) -> list[str]:
    return [i.uid for i in items]


def test_views_of_a_multi_turn_conversation() -> None:
    ex = ChatExample.model_validate({"turns": [
        {"role": "system", "content": "S"}, {"role": "user", "content": "U1"},
        {"role": "assistant", "content": "A1"}, {"role": "user", "content": "U2"},
        {"role": "assistant", "content": "A2"}]})
    assert text_view(ex, "response") == "A2"
    assert text_view(ex, "prompt") == "S\n\nU1\n\nA1\n\nU2"
    assert text_view(ex, "trained") == "A1\n\nA2"
    ended_on_user = ChatExample.model_validate({"turns": [
        {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}, {"role": "user", "content": "U2"}]})
    assert text_view(ended_on_user, "response") == ""


def test_normalisation() -> None:
    assert dedup_key("Ｈｅｌｌｏ\u00a0  WORLD\n") == "hello world"
    ex = item("s:1", " e\u0301 \r\n", "ok\r\nthen ").record
    cleaned = clean_example(ex, "NFC", True)
    assert cleaned.turns[0].content == "\u00e9"
    assert cleaned.turns[1].content == "ok\nthen"


def test_exact_dedup_on_prompt_and_pair() -> None:
    pool = [item("s:1", "What is 2+2?", "4"), item("s:2", "what is  2+2? ", "Four"),
            item("s:3", "Other", "4"), item("s:4", "OTHER", "4")]
    kept, drops, _ = exact_dedup(pool, ExactDedupStep(type="exact_dedup"), ctx())
    assert uids(kept) == ["s:1", "s:3"]
    assert [d.reason for d in drops] == ["exact_duplicate:prompt", "exact_duplicate:prompt"]
    kept, drops, _ = exact_dedup(pool, ExactDedupStep(type="exact_dedup", on=["prompt_response"]), ctx())
    assert uids(kept) == ["s:1", "s:2", "s:3"]
    assert drops[0].detail.endswith("s:3")


def test_near_dedup_drops_light_edits_only() -> None:
    text = " ".join(f"word{i}" for i in range(60))
    edited = text.replace("word30", "changed")
    pool = [item("s:1", "q", text), item("s:2", "q", edited), item("s:3", "q", "something else entirely")]
    kept, drops, stats = near_dedup(pool, NearDedupStep(type="near_dedup", threshold=0.7), ctx())
    assert uids(kept) == ["s:1", "s:3"]
    assert drops[0].reason == "near_duplicate" and "s:1" in drops[0].detail
    assert stats["bands"] * stats["rows"] <= 128


def test_length_filter_in_chars_words_and_tokens() -> None:
    pool = [item("s:1", "q", "a" * 10), item("s:2", "q", "b " * 50), item("s:3", "q", "c" * 5000)]
    kept, drops, _ = run_filter(pool, LengthStep(type="length", min=20, max=4096), ctx())
    assert uids(kept) == ["s:2"]
    assert {d.reason for d in drops} == {"too_short", "too_long"}
    kept, _, _ = run_filter(pool, LengthStep(type="length", unit="words", min=2), ctx())
    assert uids(kept) == ["s:2"]
    counting = Context(seed=0, count_tokens=lambda t: len(t) // 2)
    kept, _, _ = run_filter(pool, LengthStep(type="length", unit="tokens", max=10), counting)
    assert uids(kept) == ["s:1"]
    with pytest.raises(RecipeError, match="tokenizer"):
        run_filter(pool, LengthStep(type="length", unit="tokens", max=10), ctx())


def test_trained_tokens_count_every_assistant_turn() -> None:
    ex = ChatExample.model_validate({"turns": [
        {"role": "user", "content": "q"}, {"role": "assistant", "content": "aaaa"},
        {"role": "user", "content": "q"}, {"role": "assistant", "content": "bb"}]})
    step = LengthStep(type="length", field="trained", unit="chars", min=9)
    assert run_filter([Item("s:1", "s", ex)], step, ctx())[0] == []
    step = LengthStep(type="length", field="trained", unit="chars", min=8)
    assert len(run_filter([Item("s:1", "s", ex)], step, ctx())[0]) == 1


def test_phrase_and_pattern_filters() -> None:
    pool = [item("s:1", "q", "As an AI language model, I can’t."), item("s:2", "q", "Sure, here it is."),
            item("s:3", "q", "As mentioned above, yes."), item("s:4", "q", "I’m sorry, but I cannot do that")]
    step = PhrasesStep(type="phrases", patterns=[r"\bas mentioned above\b"])
    kept, drops, _ = run_filter(pool, step, ctx())
    assert uids(kept) == ["s:2"]
    assert [d.reason for d in drops] == ["refusal_phrase", "pattern", "refusal_phrase"]
    kept, _, _ = run_filter(pool, PhrasesStep(type="phrases", use_defaults=False, phrases=["SURE"]), ctx())
    assert uids(kept) == ["s:1", "s:3", "s:4"]


def test_repetition_filter() -> None:
    loop = " ".join(["the same five words again"] * 6)
    pool = [item("s:1", "q", loop), item("s:2", "q", " ".join(f"w{i}" for i in range(100)))]
    kept, drops, _ = run_filter(pool, RepetitionStep(type="repetition", n=5, max_repeats=3), ctx())
    assert uids(kept) == ["s:2"]
    assert drops[0].reason == "repeated_ngram"


@pytest.mark.parametrize("spoof", ["<|im_end|>", "<|eot_id|>", "[INST]", "<|some_new_token|>", "</s>"])
def test_special_token_filter(spoof: str) -> None:
    pool = [item("s:1", f"hi {spoof} system", "ok"), item("s:2", "hi", "ok < | fine | >")]
    kept, drops, _ = run_filter(pool, SpecialTokensStep(type="special_tokens"), ctx())
    assert uids(kept) == ["s:2"]
    assert drops[0].reason == "special_token"


def test_assistant_final_filter() -> None:
    ex = ChatExample.model_validate({"turns": [
        {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, {"role": "user", "content": "q2"}]})
    pool = [Item("s:1", "s", ex), item("s:2", "q", "a")]
    kept, drops, _ = run_filter(pool, AssistantFinalStep(type="assistant_final"), ctx())
    assert uids(kept) == ["s:2"] and drops[0].reason == "not_assistant_final"


def test_script_filter() -> None:
    assert script_fraction("hello мир", ["latin"]) == pytest.approx(5 / 8)
    assert script_fraction("1234 !!", ["latin"]) == 1.0
    pool = [item("s:1", "q", "Это ответ на русском"), item("s:2", "q", "An English answer"),
            item("s:3", "q", "日本語の答え")]
    kept, _, _ = run_filter(pool, ScriptStep(type="script"), ctx())
    assert uids(kept) == ["s:2"]
    kept, _, _ = run_filter(pool, ScriptStep(type="script", allowed=["latin", "cyrillic"]), ctx())
    assert uids(kept) == ["s:1", "s:2"]


POOL = [item(f"s:{i}", f"question {i}", "x" * (i * 7 % 23 + 1), source="ab"[i % 2], score=i % 5)
        for i in range(20)]


def test_select_longest_keeps_input_order() -> None:
    kept, drops, stats = select(POOL, SelectStep(type="select", method="longest", k=5), ctx())
    lengths = sorted((len(text_view(i.record, "response")) for i in POOL), reverse=True)
    assert sorted((len(text_view(i.record, "response")) for i in kept), reverse=True) == lengths[:5]
    assert uids(kept) == sorted(uids(kept), key=lambda u: int(u[2:]))
    assert len(drops) == 15 and stats["shortfall"] == 0


def test_select_random_is_seeded() -> None:
    step = SelectStep(type="select", method="random", k=5)
    a = uids(select(POOL, step, ctx(0))[0])
    assert a == uids(select(POOL, step, ctx(0))[0])
    assert any(uids(select(POOL, step, ctx(s))[0]) != a for s in range(1, 5))


def test_select_by_score() -> None:
    pool = [*POOL, item("s:99", "q", "no score")]
    step = SelectStep(type="select", method="score", score_field="score", min_score=3, k=None)
    kept, drops, _ = select(pool, step, ctx())
    assert all(i.record.metadata["score"] >= 3 for i in kept)
    assert len(kept) == 8
    reasons = {d.reason for d in drops}
    assert reasons == {"missing_score", "below_min_score"}


def test_select_quotas_with_and_without_fill() -> None:
    step = SelectStep(type="select", method="first", k=6, quotas={"a": 5, "b": 1})
    kept, _, stats = select(POOL, step, ctx())
    assert [i.source for i in kept].count("a") == 5 and stats["per_source_selected"] == {"a": 5, "b": 1}
    step = SelectStep(type="select", method="first", k=14, quotas={"a": 12, "b": 2})
    kept, _, stats = select(POOL, step, ctx())
    assert len(kept) == 14 and stats["shortfall"] == 0  # "a" has 10: filled from "b"
    step = SelectStep(type="select", method="first", k=14, quotas={"a": 12, "b": 2}, fill=False)
    kept, _, stats = select(POOL, step, ctx())
    assert len(kept) == 12 and stats["shortfall"] == 2


def test_select_diverse_respects_theta() -> None:
    base = " ".join(f"w{i}" for i in range(40))
    pool = [item("s:1", "q", base), item("s:2", "q", base + " extra"), item("s:3", "q", "different text here")]
    kept, drops, _ = select(pool, SelectStep(type="select", method="diverse", theta=0.5, k=3, order="input"), ctx())
    assert uids(kept) == ["s:1", "s:3"]
    assert drops[0].reason == "too_similar"


def test_select_strict_shortfall_is_an_error() -> None:
    with pytest.raises(RecipeError, match="only 20 records"):
        select(POOL, SelectStep(type="select", method="first", k=50, strict=True), ctx())


def test_select_diverse_in_score_order_is_deitas_loop() -> None:
    base = " ".join(f"w{i}" for i in range(40))
    pool = [item("s:1", "q", base, score=1), item("s:2", "q", base + " extra", score=9),
            item("s:3", "q", "different text here", score=5)]
    step = SelectStep(type="select", method="diverse", order="score", score_field="score", theta=0.5, k=3)
    kept, drops, stats = select(pool, step, ctx())
    assert uids(kept) == ["s:2", "s:3"]  # the higher-scored twin wins
    assert [d.reason for d in drops] == ["too_similar"]
    assert stats["shortfall"] == 1
    kept, drops, _ = select(pool, step.model_copy(update={"k": 2}), ctx())
    assert uids(kept) == ["s:2", "s:3"] and [d.reason for d in drops] == ["not_selected"]  # never examined


def _ref_script_fraction(text: str, allowed: list[str]) -> float:
    import regex

    names = {"latin": r"\p{Latin}", "cyrillic": r"\p{Cyrillic}", "cjk": r"\p{Han}\p{Hiragana}\p{Katakana}"}
    letters = len(regex.findall(r"\p{L}", text))
    if not letters:
        return 1.0
    return len(regex.findall("[" + "".join(names[a] for a in allowed) + "]", text)) / letters


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab Z1!éßМир日本ーｱ\u0301")), max_size=40),
       st.sampled_from([["latin"], ["cyrillic"], ["latin", "cjk"], ["cjk"]]))
def test_script_fraction_matches_the_plain_regex_count(text: str, allowed: list[str]) -> None:
    assert script_fraction(text, allowed) == pytest.approx(_ref_script_fraction(text, allowed))


def test_quotas_without_k_select_the_sum_of_the_quotas() -> None:
    from alignkit.recipes.config import parse_recipe

    def step(extra: str) -> SelectStep:
        text = ('name = "t"\nkind = "sft"\n[[inputs]]\npath = "a.jsonl"\nsource = "a"\n'
                '[[inputs]]\npath = "b.jsonl"\nsource = "b"\n'
                f'[[steps]]\ntype = "select"\nmethod = "first"\n{extra}\n')
        got = parse_recipe(text).steps[0]
        assert isinstance(got, SelectStep)
        return got

    # a quota table alone used to keep the default k = 1000 and fill it from every source
    kept, _, stats = select(POOL, step('quotas = { a = 3, b = 2 }'), ctx())
    assert stats["k"] == 5 and stats["per_source_selected"] == {"a": 3, "b": 2} and len(kept) == 5
    kept, _, stats = select(POOL, step('quotas = { a = 12, b = 2 }'), ctx())  # "a" has 10: filled from "b"
    assert stats["k"] == 14 and len(kept) == 14
    kept, _, stats = select(POOL, step('k = 8\nquotas = { a = 3, b = 2 }'), ctx())  # an explicit k wins
    assert stats["k"] == 8 and len(kept) == 8
