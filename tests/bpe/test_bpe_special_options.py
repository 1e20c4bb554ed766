"""``encode``'s special-token options against tiktoken itself, and its argument type checks.

tiktoken's rule: ``disallowed_special="all"`` means every special not allowed, and an
explicitly given disallowed set is checked as given, whatever is allowed. alignkit keeps
its own default (every declared special allowed): tiktoken is given that default explicitly.
"""

from __future__ import annotations

from functools import cache

import pytest
from conftest import shared_path

from alignkit.bpe import Tokenizer, default_tokenizer, load_tokenizer
from alignkit.bpe.loaders.tiktoken_file import ENCODINGS
from alignkit.errors import SpecialTokenError

EOT = "<|endoftext|>"
FIM = "<|fim_prefix|>"


@cache
def _pair(name: str) -> tuple[Tokenizer, object]:
    tiktoken = pytest.importorskip("tiktoken")
    from tiktoken.load import load_tiktoken_bpe

    path = shared_path("data", "tokenizers", "tiktoken", f"{name}.tiktoken")
    enc = ENCODINGS[name]
    ref = tiktoken.Encoding(name, pat_str=enc.pattern, mergeable_ranks=load_tiktoken_bpe(str(path)),
                            special_tokens=enc.specials)
    return load_tokenizer(path), ref


OPTIONS = [
    {"disallowed_special": {EOT}},
    {"allowed_special": "all", "disallowed_special": {EOT}},
    {"allowed_special": {EOT}, "disallowed_special": {EOT}},
    {"allowed_special": {EOT, FIM}, "disallowed_special": {FIM}},
    {"allowed_special": {EOT}, "disallowed_special": {FIM}},
    {"allowed_special": set(), "disallowed_special": {FIM}},
    {"allowed_special": {EOT}},
    {"allowed_special": set()},
    {"allowed_special": set(), "disallowed_special": ()},
    {"allowed_special": "all", "disallowed_special": ()},
    {"allowed_special": "all", "disallowed_special": "all"},
]
TEXTS = ["x" + EOT, f"a{FIM}b{EOT}c", "plain text", f"{EOT}{EOT}", f"<|endoftext{FIM}"]


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
@pytest.mark.parametrize("options", OPTIONS, ids=repr)
def test_explicit_special_options_raise_or_encode_as_tiktoken(name: str, options: dict[str, object]) -> None:
    ours, ref = _pair(name)
    for text in TEXTS:
        if FIM in text and FIM not in ours.special_tokens:
            continue  # o200k has no fim tokens
        if FIM in repr(options) and FIM not in ours.special_tokens:
            continue
        ref_options = {"allowed_special": "all", **options}  # alignkit's default allowed set
        try:
            want: list[int] | None = list(ref.encode(text, **ref_options))  # type: ignore[attr-defined]
        except ValueError:
            want = None
        if want is None:
            with pytest.raises(SpecialTokenError):
                ours.encode(text, **options)  # type: ignore[arg-type]
        else:
            assert ours.encode(text, **options) == want, (text, options)  # type: ignore[arg-type]


def test_alignkit_default_still_allows_every_special() -> None:
    tok = default_tokenizer()
    assert tok.encode("x" + EOT) == [87, 50256]
    assert tok.encode("x" + EOT, disallowed_special="all") == [87, 50256]  # "all" = all not allowed = none


def test_explicit_disallow_says_which_token_and_where() -> None:
    tok = default_tokenizer()
    with pytest.raises(SpecialTokenError) as err:
        tok.encode("hello x" + EOT, disallowed_special={EOT})
    message = str(err.value)
    assert repr(EOT) in message and "character 7" in message and "disallowed_special" in message


@pytest.mark.parametrize("method", ["encode", "encode_ordinary"])
@pytest.mark.parametrize(("value", "kind"), [(b"hi", "bytes"), (None, "NoneType"), (3, "int"), (["hi"], "list")])
def test_encode_of_a_non_str_names_the_method_and_the_type(method: str, value: object, kind: str) -> None:
    tok = default_tokenizer()
    with pytest.raises(TypeError) as err:
        getattr(tok, method)(value)
    message = str(err.value)
    assert message.startswith(f"{method}() takes str, got {kind}")
    if kind == "bytes":
        assert ".decode('utf-8')" in message
