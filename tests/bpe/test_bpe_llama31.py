"""``PATH#llama3.1``: the Llama 3.1 special-token names of llama-models' ``tokenizer.py``.

Llama 3.0 and 3.1 share the rank file; 3.1 renames some of the 256 special slots
(``alignkit.bpe.loaders.tiktoken_file._llama31_specials`` says which list and why).
"""

from __future__ import annotations

import pytest
from conftest import shared_path

from alignkit.bpe import load_tokenizer
from alignkit.bpe.loaders.tiktoken_file import ENCODINGS, guess_name, resolve_name


def _model(name: str) -> str:
    return f"{shared_path('data', 'tokenizers', 'llama3', 'tokenizer.model')}#{name}"


def test_llama31_table_has_the_renamed_slots() -> None:
    specials = ENCODINGS["llama3.1"].specials
    assert len(specials) == 256 and sorted(specials.values()) == list(range(128000, 128256))
    named = {
        "<|begin_of_text|>": 128000, "<|end_of_text|>": 128001,
        "<|reserved_special_token_0|>": 128002, "<|reserved_special_token_1|>": 128003,
        "<|finetune_right_pad_id|>": 128004, "<|step_id|>": 128005,
        "<|start_header_id|>": 128006, "<|end_header_id|>": 128007,
        "<|eom_id|>": 128008, "<|eot_id|>": 128009, "<|python_tag|>": 128010, "<|image|>": 128011,
        "<|reserved_special_token_2|>": 128012, "<|reserved_special_token_245|>": 128255,
    }
    assert {k: specials[k] for k in named} == named
    assert ENCODINGS["llama3.1"].pattern == ENCODINGS["llama3"].pattern
    assert ENCODINGS["llama3"].specials["<|reserved_special_token_4|>"] == 128008  # 3.0 unchanged


@pytest.mark.parametrize("alias", ["llama3.1", "Llama3.1", "llama-3.1"])
def test_llama31_names_resolve_to_their_own_encoding(alias: str) -> None:
    assert resolve_name(alias) == "llama3.1"


def test_a_bare_llama_rank_file_is_still_guessed_as_llama3() -> None:
    assert guess_name("tokenizer.model", 128000) == "llama3"


def test_llama31_rank_file_encodes_and_decodes_its_specials() -> None:
    tok = load_tokenizer(_model("llama3.1"))
    assert tok.encode("<|eom_id|>") == [128008]
    assert tok.encode("<|python_tag|>") == [128010]
    assert tok.encode("<|finetune_right_pad_id|>") == [128004]
    assert tok.decode([128008, 128010]) == "<|eom_id|><|python_tag|>"
    assert len(tok.special_tokens) == 256
    assert tok.encode("hello world") == load_tokenizer(_model("llama3")).encode("hello world")
    assert tok.source.endswith("#llama3.1")


def test_llama30_rank_file_keeps_the_30_names() -> None:
    tok = load_tokenizer(_model("llama3"))
    assert tok.decode([128008]) == "<|reserved_special_token_4|>"
    assert "<|eom_id|>" not in tok.special_tokens
