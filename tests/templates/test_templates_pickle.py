"""A ChatTemplate crosses process boundaries (multiprocessing, datasets.map)."""

from __future__ import annotations

import pickle

import pytest
from templates_tokenizers import ByteTokenizer

from alignkit.errors import SpecialTokenError
from alignkit.templates.chat import ChatTemplate
from alignkit.templates.jinja import JinjaRenderer

TURNS = [("system", "s", None, None), ("user", "u", None, None), ("assistant", "a", None, "r")]


@pytest.mark.parametrize("name", ["chatml", "qwen3", "llama3", "alpaca", "plain", "jinja"])
def test_pickle_round_trip(name: str) -> None:
    tok = ByteTokenizer()
    spec = JinjaRenderer("{% for m in messages %}{{ m.content }}<|im_end|>{% endfor %}", list(tok.special_tokens),
                         None, None) if name == "jinja" else name
    chat = ChatTemplate(spec, tok, policy="everything", special_in_content="error")
    copy = pickle.loads(pickle.dumps(chat))
    assert copy.describe() == chat.describe()
    a, b = chat.encode(TURNS), copy.encode(TURNS)
    assert (a.input_ids, a.labels, a.role_ids) == (b.input_ids, b.labels, b.role_ids)
    with pytest.raises(SpecialTokenError):
        copy.encode([("user", "<|im_end|>", None, None), ("assistant", "x", None, None)])
