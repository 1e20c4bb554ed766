"""Rendering and masking: structure, policies, BOS, end-of-turn, prefix property, Qwen3."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from templates_tokenizers import ByteTokenizer

from alignkit.encode import (
    IGNORE_INDEX,
    ROLE_ASSISTANT,
    ROLE_SYSTEM,
    ROLE_TEMPLATE,
    ROLE_USER,
)
from alignkit.errors import TemplateError
from alignkit.records import ChatExample, PreferenceExample, Turn
from alignkit.templates import TurnTuple, get_template, template_names
from alignkit.templates.chat import ChatTemplate
from alignkit.templates.segments import KIND_SPECIAL

TEMPLATES = ("chatml", "qwen3", "llama3", "alpaca", "plain")
EOT = {"chatml": "<|im_end|>", "qwen3": "<|im_end|>", "llama3": "<|eot_id|>",
       "alpaca": "<|end_of_text|>", "plain": "<|end_of_text|>"}
TOK = ByteTokenizer()


def chat(name: str, policy: str = "all_assistant") -> ChatTemplate:
    return ChatTemplate(name, TOK, policy=policy)


def _text() -> st.SearchStrategy[str]:
    return st.text(min_size=1, max_size=12).filter(lambda s: s.strip() != "")


@st.composite
def conversations(draw: Callable[..., object]) -> list[TurnTuple]:
    turns: list[TurnTuple] = []
    if draw(st.booleans()):
        turns.append(("system", str(draw(_text())), None, None))
    n = int(draw(st.integers(1, 4)))  # type: ignore[call-overload]
    for _ in range(n):
        turns.append(("user", str(draw(_text())), None, None))
        train = draw(st.sampled_from([None, None, True, False]))
        turns.append(("assistant", str(draw(_text())), train, None))  # type: ignore[arg-type]
    return turns


def test_registry_names_aliases_and_did_you_mean() -> None:
    assert template_names() == sorted(TEMPLATES)
    assert get_template("Qwen").name == "qwen3"
    with pytest.raises(TemplateError, match="did you mean 'chatml'"):
        get_template("chatm")
    with pytest.raises(TemplateError, match="unknown masking policy"):
        ChatTemplate("chatml", TOK, policy="assistants")


def test_alpaca_matches_the_cs336_prompt(shared_data: Path) -> None:
    # the file ends with a newline after "{response}": the file terminator, not template text
    prompt = (shared_data / "alignment" / "cs336" / "alpaca_sft.prompt").read_text().removesuffix("\n")
    turns = [("user", "Add 2 and 3.", None, None), ("assistant", "5", None, None)]
    expected = prompt.format(instruction="Add 2 and 3.", response="5")
    assert chat("alpaca").text(turns) == "<|begin_of_text|>" + expected + "<|end_of_text|>"
    head = prompt.split("{response}")[0].format(instruction="Add 2 and 3.")
    assert chat("alpaca").text(turns[:1], add_generation_prompt=True) == "<|begin_of_text|>" + head


def test_chatml_segments_and_role_ids() -> None:
    turns = [("system", "S", None, None), ("user", "U", None, None), ("assistant", "A", None, None)]
    ex = chat("chatml").encode(turns)
    assert TOK.decode(ex.input_ids) == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n"
        "<|im_start|>assistant\nA<|im_end|>\n")
    # the end-of-turn token takes its turn's role; the "\n" after it is untrained glue
    assert ex.role_ids[-3:] == [ROLE_ASSISTANT, ROLE_ASSISTANT, ROLE_TEMPLATE]
    assert ex.labels[-3:] == [ord("A"), 1001, IGNORE_INDEX]
    assert ROLE_SYSTEM in ex.role_ids and ROLE_USER in ex.role_ids
    assert ex.role_ids[0] == ROLE_TEMPLATE


@pytest.mark.parametrize("name", TEMPLATES)
@settings(max_examples=60, deadline=None)
@given(turns=conversations())
def test_structure_invariants(name: str, turns: list[TurnTuple]) -> None:
    c = chat(name)
    ex = c.encode(turns)
    eot = TOK.special_tokens[EOT[name]]
    assert len(ex.input_ids) == len(ex.labels) == len(ex.role_ids)
    # exactly one BOS where the template has one (Llama 3 explicitly, alpaca/plain via the tokenizer)
    bos = TOK.special_tokens["<|begin_of_text|>"]
    assert ex.input_ids.count(bos) == (0 if name in ("chatml", "qwen3") else 1)
    # trained tokens are the trained assistant contents, each followed by its end-of-turn id
    expected: list[int] = []
    for role, content, train, _ in turns:
        if role == "assistant" and train is not False:
            if name == "llama3":
                content = content.strip()
            expected += TOK.encode_ordinary(content) + [eot]
    trained = [t for t, lab in zip(ex.input_ids, ex.labels) if lab != IGNORE_INDEX]
    if name != "qwen3" or not any(t[1].startswith("\n") or "</think>" in t[1] for t in turns):
        assert trained == expected  # (Qwen3 strips leading newlines and splits </think>: tested below)
    n_trained_turns = sum(1 for t in turns if t[0] == "assistant" and t[2] is not False)
    assert sum(1 for t, lab in zip(ex.input_ids, ex.labels) if t == eot and lab == eot) == n_trained_turns
    # prefix property: the inference prompt of every assistant turn prefixes the training ids
    for k, turn in enumerate(turns):
        if turn[0] == "assistant":
            prompt = c.encode_prompt(turns[:k]).input_ids
            assert ex.input_ids[: len(prompt)] == prompt
            assert all(lab == IGNORE_INDEX for lab in c.encode_prompt(turns[:k]).labels)


@pytest.mark.parametrize("name", TEMPLATES)
@settings(max_examples=30, deadline=None)
@given(turns=conversations())
def test_policies(name: str, turns: list[TurnTuple]) -> None:
    plain = [(r, c, None, rs) for r, c, _, rs in turns]
    everything = chat(name, "everything").encode(plain)
    assert all(lab != IGNORE_INDEX for lab in everything.labels)
    assert everything.input_ids == chat(name).encode(plain).input_ids
    last = chat(name, "last").encode(plain)
    eot = TOK.special_tokens[EOT[name]]
    trained_eot = [i for i, (t, lab) in enumerate(zip(last.input_ids, last.labels)) if t == eot and lab == eot]
    assert len(trained_eot) == 1
    assert all(role == ROLE_ASSISTANT for role, lab in zip(last.role_ids, last.labels) if lab != IGNORE_INDEX)
    # the last trained token is that final end-of-turn token
    assert max(i for i, lab in enumerate(last.labels) if lab != IGNORE_INDEX) == trained_eot[0]


def test_train_flag_overrides_policy() -> None:
    turns = [("user", "q1", None, None), ("assistant", "a1", True, None),
             ("user", "q2", None, None), ("assistant", "a2", False, None)]
    ex = chat("chatml", "last_assistant").encode(turns)
    trained = [t for t, lab in zip(ex.input_ids, ex.labels) if lab != IGNORE_INDEX]
    assert TOK.decode(trained) == "a1<|im_end|>"
    ex = chat("chatml", "everything").encode(turns)
    assert TOK.decode([t for t, lab in zip(ex.input_ids, ex.labels) if lab == IGNORE_INDEX]) == "a2<|im_end|>"


def test_records_are_accepted() -> None:
    ex = ChatExample(turns=[Turn(role="user", content="Hi"), Turn(role="assistant", content="Yo", train=False)])
    assert chat("chatml").encode(ex).num_trained() == 0


# ---------------------------------------------------------------- Qwen3 think block

def _q(turns: list[TurnTuple], gen: bool = False) -> str:
    return chat("qwen3").text(turns, add_generation_prompt=gen)


def test_qwen3_empty_think_block_is_untrained_glue() -> None:
    turns = [("user", "Hi", None, None), ("assistant", "Yo", None, None)]
    assert _q(turns).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\nYo<|im_end|>\n")
    ex = chat("qwen3").encode(turns)
    think = TOK.special_tokens["<think>"]
    i = ex.input_ids.index(think)
    assert ex.labels[i : i + 6] == [IGNORE_INDEX] * 6 and ex.role_ids[i] == ROLE_TEMPLATE
    assert TOK.decode([t for t, lab in zip(ex.input_ids, ex.labels) if lab != IGNORE_INDEX]) == "Yo<|im_end|>"
    # the generation prompt is a prefix (no think block: thinking is left to the model)
    assert _q(turns[:1], gen=True).endswith("<|im_start|>assistant\n")


def test_qwen3_reasoning_is_trained_and_dropped_from_history() -> None:
    turns = [("user", "q1", None, None), ("assistant", "a1", None, "old thoughts"),
             ("user", "q2", None, None), ("assistant", "a2", None, "\nnew thoughts\n")]
    text = _q(turns)
    assert "old thoughts" not in text and "<|im_start|>assistant\na1<|im_end|>" in text
    assert text.endswith("<think>\nnew thoughts\n</think>\n\na2<|im_end|>\n")
    ex = chat("qwen3").encode(turns)
    trained = TOK.decode([t for t, lab in zip(ex.input_ids, ex.labels) if lab != IGNORE_INDEX])
    assert trained == "a1<|im_end|><think>\nnew thoughts\n</think>\n\na2<|im_end|>"


def test_qwen3_splits_think_tags_in_content_like_its_template() -> None:
    turns = [("user", "q", None, None), ("assistant", "<think>\nr\n</think>\n\nanswer", None, None)]
    assert _q(turns).endswith("<|im_start|>assistant\n<think>\nr\n</think>\n\nanswer<|im_end|>\n")


def test_qwen3_tool_turns_share_one_block() -> None:
    turns = [("user", "q", None, None), ("assistant", "call", None, None), ("tool", "r1", None, None),
             ("tool", "r2", None, None), ("assistant", "done", None, None)]
    assert ("<|im_start|>user\n<tool_response>\nr1\n</tool_response>\n<tool_response>\nr2\n"
            "</tool_response><|im_end|>\n") in _q(turns)
    # after the last real user query both assistant turns follow it; only the last gets a think block
    assert _q(turns).count("<think>") == 1


# ---------------------------------------------------------------- preference pairs

@pytest.mark.parametrize("name", TEMPLATES)
@settings(max_examples=40, deadline=None)
@given(turns=conversations(), a=_text(), b=_text())
def test_pair_prompt_plus_chosen_equals_sft(name: str, turns: list[TurnTuple], a: str, b: str) -> None:
    if a == b:
        return
    history = [Turn(role=r, content=c) for r, c, _, _ in turns[:-1]]  # type: ignore[arg-type]
    pair = PreferenceExample(history=history, response_a=a, response_b=b, chosen="b")
    c = chat(name)
    enc = c.encode_pair(pair)
    for response, side in ((b, enc.chosen), (a, enc.rejected)):
        sft = c.encode([*history, Turn(role="assistant", content=response)])
        assert enc.prompt.input_ids + side.input_ids == sft.input_ids
        assert side.labels == sft.labels[len(enc.prompt):]
        assert side.num_trained() >= 1
    assert all(lab == IGNORE_INDEX for lab in enc.prompt.labels)
    dpo = enc.to_dpo()
    assert dpo["prompt_input_ids"] == enc.prompt.input_ids
    assert enc.chosen_full().input_ids == enc.prompt.input_ids + dpo["chosen_input_ids"]
    reward = enc.to_reward()
    for side in ("chosen", "rejected"):
        assert reward[f"{side}_ids"] == dpo["prompt_input_ids"] + dpo[f"{side}_input_ids"]
        assert reward[f"{side}_role_ids"] == dpo["prompt_role_ids"] + dpo[f"{side}_role_ids"]


def test_special_segments_only_come_from_the_template() -> None:
    segs = chat("llama3").render([("user", "<|eot_id|>", None, None)], add_generation_prompt=True)
    specials = [s.text for s in segs if s.kind == KIND_SPECIAL]
    assert specials == ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
                        "<|start_header_id|>", "<|end_header_id|>"]
