"""Parity with transformers' ``apply_chat_template`` on real conversations.

For Meta-Llama-3-8B-Instruct (its tokenizer_config.json plus Llama 3's tiktoken-format
``tokenizer.model``, which transformers converts with its TikToken extractor when
``tiktoken`` is installed) and Qwen3 (``tokenizer.json`` + ``tokenizer_config.json``),
alignkit's ids must equal ``apply_chat_template(messages, tokenize=True)``, with and
without ``add_generation_prompt``. Neither stock template has ``{% generation %}``,
so ``return_assistant_tokens_mask`` cannot be used; the trained tokens are checked
against an independent derivation instead: transformers' own encoding of each
assistant content (trimmed for Llama 3, as its template does) followed by the
end-of-turn id.

The 50-conversation version runs always (with the test's reference tokenizers and
with alignkit's own ``load_tokenizer`` + ``ChatTemplate.from_folder``); the
500-conversation one is marked slow.

Known, deliberate difference (not in this data): alignkit encodes template glue and
content as separate segments, so where transformers' whole-string tokenization would
merge a token across that boundary (content starting with a newline after ChatML's
``"assistant\n"``), alignkit keeps the boundary: that is what keeps the inference
prompt a token prefix of the training ids (reliability F4).
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Any

import pytest
from templates_realdata import Message, real_conversations
from templates_tokenizers import llama3_tokenizer, qwen3_tokenizer

from alignkit.encode import IGNORE_INDEX
from alignkit.templates.chat import ChatTemplate

transformers = pytest.importorskip("transformers")


def _folder(tmp: Path, shared: Path, name: str) -> Path:
    out = tmp / name
    out.mkdir()
    if name == "llama3":
        src = shared / "tokenizers" / "llama3"
        for f in (src / "Meta-Llama-3-8B-Instruct").iterdir():
            shutil.copy(f, out / f.name)
        shutil.copy(src / "tokenizer.model", out / "tokenizer.model")
    else:
        src = shared / "tokenizers" / "qwen3"
        shutil.copy(src / "tokenizer_config.json", out / "tokenizer_config.json")
        with gzip.open(src / "tokenizer.json.gz", "rb") as fh:
            (out / "tokenizer.json").write_bytes(fh.read())
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> dict[str, tuple[Any, ChatTemplate]]:
    pytest.importorskip("tiktoken")
    tmp = tmp_path_factory.mktemp("hf")
    out: dict[str, tuple[Any, ChatTemplate]] = {}
    for name, build in (("llama3", llama3_tokenizer), ("qwen3", qwen3_tokenizer)):
        hf = transformers.AutoTokenizer.from_pretrained(str(_folder(tmp, shared_data, name)))
        out[name] = (hf, ChatTemplate(name, build(shared_data)))
    return out


@pytest.fixture(scope="module")
def facade_models(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> dict[str, tuple[Any, ChatTemplate]]:
    """alignkit's own Tokenizer facade and template detection on the same folders."""
    from alignkit.bpe.loaders import load_tokenizer

    pytest.importorskip("tiktoken")
    tmp = tmp_path_factory.mktemp("facade")
    out: dict[str, tuple[Any, ChatTemplate]] = {}
    for name in ("llama3", "qwen3"):
        folder = _folder(tmp, shared_data, name)
        hf = transformers.AutoTokenizer.from_pretrained(str(folder))
        chat = ChatTemplate.from_folder(folder, load_tokenizer(folder))
        assert chat.name == name
        out[name] = (hf, chat)
    return out


def _hf_ids(hf: Any, messages: list[Message], gen: bool) -> list[int]:
    enc = hf.apply_chat_template(messages, tokenize=True, add_generation_prompt=gen, return_dict=True)
    return list(enc["input_ids"])


def _expected_trained(hf: Any, name: str, messages: list[Message]) -> list[int]:
    eot = hf.convert_tokens_to_ids("<|eot_id|>" if name == "llama3" else "<|im_end|>")
    out: list[int] = []
    for m in messages:
        if m["role"] == "assistant":
            content = m["content"].strip() if name == "llama3" else m["content"]
            out += hf(content, add_special_tokens=False)["input_ids"] + [eot]
    return out


def _check(models: dict[str, tuple[Any, ChatTemplate]], conversations: list[list[Message]]) -> None:
    assert conversations
    for name, (hf, chat) in models.items():
        for messages in conversations:
            turns = [(m["role"], m["content"], None, None) for m in messages]
            ours = chat.encode(turns)
            assert ours.input_ids == _hf_ids(hf, messages, False), (name, messages)
            assert chat.encode(turns, add_generation_prompt=True).input_ids == _hf_ids(hf, messages, True)
            last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
            prompt = chat.encode_prompt(turns[: last_user + 1]).input_ids
            assert prompt == _hf_ids(hf, messages[: last_user + 1], True), (name, messages)
            assert ours.input_ids[: len(prompt)] == prompt
            trained = [t for t, lab in zip(ours.input_ids, ours.labels) if lab != IGNORE_INDEX]
            assert trained == _expected_trained(hf, name, messages), (name, messages)
            assert ours.input_ids.count(hf.convert_tokens_to_ids("<|begin_of_text|>")) == (
                1 if name == "llama3" else 0)


def test_parity_50_conversations(models: dict[str, tuple[Any, ChatTemplate]], shared_data: Path) -> None:
    convs = real_conversations(shared_data, 10)
    assert len(convs) == 50 and any(len(c) > 3 for c in convs)
    assert any(c[0]["role"] == "system" for c in convs)
    _check(models, convs)


def test_parity_50_conversations_tokenizer_facade(
        facade_models: dict[str, tuple[Any, ChatTemplate]], shared_data: Path) -> None:
    _check(facade_models, real_conversations(shared_data, 10))


@pytest.mark.slow
def test_parity_500_conversations(models: dict[str, tuple[Any, ChatTemplate]], shared_data: Path) -> None:
    convs = real_conversations(shared_data, 100)
    assert len(convs) == 500 and sum(len(c) > 3 for c in convs) > 100
    _check(models, convs)


def test_glue_content_boundary_is_kept(models: dict[str, tuple[Any, ChatTemplate]]) -> None:
    """The one deliberate difference: no token straddles template glue and content."""
    hf, chat = models["qwen3"]
    messages = [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "\nA1"},
                {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}]
    turns = [(m["role"], m["content"], None, None) for m in messages]
    ours = chat.encode(turns).input_ids
    theirs = _hf_ids(hf, messages, False)
    assert ours != theirs and hf.decode(ours) == hf.decode(theirs)
    # transformers' own inference prompt is not a prefix of its training ids here; ours is
    hf_prompt = _hf_ids(hf, messages[:1], True)
    assert theirs[: len(hf_prompt)] != hf_prompt
    prompt = chat.encode_prompt(turns[:1]).input_ids
    assert prompt == hf_prompt and ours[: len(prompt)] == prompt


QWEN3_BRANCHES = [
    # reasoning on the final turn, and on a history turn (dropped by the template)
    [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1", "reasoning_content": "r1"},
     {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2", "reasoning_content": "\nr2 here\n"}],
    # think tags inside content are split by the template
    [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>\nhmm\n</think>\n\nyes"}],
    # tool calls: consecutive tool turns share one user block; both assistant turns follow the last query
    [{"role": "system", "content": "sys"}, {"role": "user", "content": "weather?"},
     {"role": "assistant", "content": "calling", "reasoning_content": "need tool"},
     {"role": "tool", "content": "sunny 21"}, {"role": "tool", "content": "wind 3"},
     {"role": "assistant", "content": "Sunny, 21 degrees"}],
    # tool results whose edges merge with the template's newlines: "}\n", ".\n", ")\n", "\n\n"
    [{"role": "user", "content": "look it up"}, {"role": "assistant", "content": "calling"},
     {"role": "tool", "content": '{"temp": 21, "sky": "clear"}'}, {"role": "tool", "content": "Done."},
     {"role": "tool", "content": "\nf(x)"}, {"role": "tool", "content": "two lines\n"},
     {"role": "assistant", "content": "It is clear."}],
    # a user turn that is a wrapped tool response does not count as the last query
    [{"role": "user", "content": "go"}, {"role": "assistant", "content": "step", "reasoning_content": "think"},
     {"role": "user", "content": "<tool_response>ok</tool_response>"}, {"role": "assistant", "content": "done"}],
]


@pytest.mark.parametrize("messages", QWEN3_BRANCHES)
def test_qwen3_template_branches(models: dict[str, tuple[Any, ChatTemplate]], messages: list[dict[str, str]]) -> None:
    hf, chat = models["qwen3"]
    turns = [(m["role"], m["content"], None, m.get("reasoning_content")) for m in messages]
    wrapped = any(m["content"].startswith("<tool_response>") for m in messages)
    for gen in (False, True):
        assert chat.text(turns, gen) == hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)
        if not wrapped:  # transformers would turn "<tool_response>" in content into a special id
            assert chat.encode(turns, add_generation_prompt=gen).input_ids == _hf_ids(hf, messages, gen)


def test_qwen3_enable_thinking_false_prompt(models: dict[str, tuple[Any, ChatTemplate]]) -> None:
    hf, chat = models["qwen3"]
    messages = [{"role": "user", "content": "2+2?"}]
    turns = [("user", "2+2?", None, None)]
    ids = chat.encode_prompt(turns, enable_thinking=False).input_ids
    expected = hf.apply_chat_template(messages, tokenize=True, add_generation_prompt=True,
                                      enable_thinking=False, return_dict=True)["input_ids"]
    assert ids == list(expected)
    # a non-reasoning answer's training ids start with this prompt (its empty think block is glue)
    full = chat.encode([*turns, ("assistant", "4", None, None)]).input_ids
    assert full[: len(ids)] == ids
