"""Golden renderings: the exact text and trained text of one conversation per template.

Checked by hand against each template's definition (Qwen3's and Llama 3's Jinja, the
CS336 prompt file); any change to a spec shows up here first.
"""

from __future__ import annotations

import pytest
from templates_tokenizers import ByteTokenizer

from alignkit.encode import IGNORE_INDEX
from alignkit.templates.chat import ChatTemplate

TURNS = [("system", "Be brief.", None, None), ("user", " 2+2? ", None, None), ("assistant", "4", None, None),
         ("user", "And 3+3?", None, None), ("assistant", "6\n", None, "add")]

GOLDEN = {
    "chatml": (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n 2+2? <|im_end|>\n"
        "<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n"
        "<|im_start|>assistant\n6\n<|im_end|>\n",
        "4<|im_end|>6\n<|im_end|>"),
    "qwen3": (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n 2+2? <|im_end|>\n"
        "<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n"
        "<|im_start|>assistant\n<think>\nadd\n</think>\n\n6\n<|im_end|>\n",
        "4<|im_end|><think>\nadd\n</think>\n\n6\n<|im_end|>"),
    "llama3": (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n6<|eot_id|>",
        "4<|eot_id|>6<|eot_id|>"),
    "alpaca": (
        "<|begin_of_text|>Be brief.\n\n### Instruction:\n 2+2? \n\n### Response:\n4<|end_of_text|>"
        "\n\n### Instruction:\nAnd 3+3?\n\n### Response:\n6\n<|end_of_text|>",
        "4<|end_of_text|>6\n<|end_of_text|>"),
    "plain": (
        "<|begin_of_text|>Be brief.\n 2+2? \n4<|end_of_text|>\nAnd 3+3?\n6\n<|end_of_text|>\n",
        "4<|end_of_text|>6\n<|end_of_text|>"),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden(name: str) -> None:
    tok = ByteTokenizer()
    ex = ChatTemplate(name, tok).encode(TURNS)
    text, trained = GOLDEN[name]
    assert tok.decode(ex.input_ids) == text
    assert tok.decode([t for t, lab in zip(ex.input_ids, ex.labels) if lab != IGNORE_INDEX]) == trained
