"""The encoder's ASCII shortcut (``Tokenizer.ascii_core``) gives exactly ``encode_ordinary``'s ids."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.bpe.tokenizer import Tokenizer
from alignkit.encode import Encoder
from alignkit.templates.segments import ROLE_TEMPLATE, ROLE_USER

_VOCAB = {i: bytes([i]) for i in range(256)} | {256: b"ab", 257: b" a", 258: b"\xc3\xa9"}
_MERGES = [(b"a", b"b"), (b" ", b"a"), (b"\xc3", b"\xa9")]


def _tokenizer(**options: object) -> Tokenizer:
    return Tokenizer(_VOCAB, _MERGES, ["<|endoftext|>"], **options)  # type: ignore[arg-type]


_TOKENIZERS: list[Tokenizer] = []


@settings(max_examples=200, deadline=None)
@given(text=st.text(st.sampled_from("ab \n\u00e9e\u0301\U0001f600\ud800x"), max_size=12),
       role=st.sampled_from([ROLE_USER, ROLE_TEMPLATE]))
def test_text_ids_equal_encode_ordinary(text: str, role: int) -> None:
    if not _TOKENIZERS:
        _TOKENIZERS.extend([_tokenizer(normalizer="NFC"), _tokenizer(add_prefix_space=True)])
    for tok in _TOKENIZERS:
        enc = Encoder(tok, tok.special_tokens)
        assert enc.text_ids(text, role) == tok.encode_ordinary(text)
        assert enc.text_ids(text, role) == tok.encode_ordinary(text)  # cached glue too


def test_ascii_core_only_where_it_is_exact() -> None:
    assert _tokenizer().ascii_core() is not None
    assert Encoder(_tokenizer(), {}).ascii_core is not None
    assert _tokenizer(add_prefix_space=True).ascii_core() is None  # " " is prepended
    vocab = {i: bytes([i]) for i in range(256)} | {300: b"ab", 256: b" a"}
    shuffled = Tokenizer(vocab, [(b"a", b"b"), (b" ", b"a")], [])  # ids not in merge order
    assert shuffled.ascii_core() is None  # ids are remapped
    assert Encoder(shuffled, {}).text_ids(" ab", ROLE_USER) == shuffled.encode_ordinary(" ab")

    class Plain:  # any tokenizer without the method still works
        def encode_ordinary(self, text: str) -> list[int]:
            return list(text.encode())

    assert Encoder(Plain(), {}).ascii_core is None and Encoder(Plain(), {}).text_ids("hi", 1) == [104, 105]


@settings(max_examples=200, deadline=None)
@given(text=st.text(st.sampled_from("ab \n\u00e9e\u0301\U0001f600\ud800x\u3000"), max_size=12))
def test_buffer_ids_of_any_content_equal_encode_ordinary(text: str) -> None:
    """Non-ASCII content goes through the facade's own preparation, then the core into the vector."""
    from alignkit.sft_buffer import SftBuffer
    from alignkit.templates.segments import KIND_TEXT, Segment

    tok = _tokenizer(normalizer="NFC")
    enc = Encoder(tok, tok.special_tokens)
    assert enc.prepare is not None
    buf = SftBuffer(enc)
    buf.add([Segment(ROLE_USER, KIND_TEXT, text, True)])
    assert list(buf.ids) == tok.encode_ordinary(text)


def test_prepare_only_for_alignkit_tokenizers_with_an_exact_core() -> None:
    assert Encoder(_tokenizer(add_prefix_space=True), {}).prepare is None  # no ASCII core

    class Plain:
        def encode_ordinary(self, text: str) -> list[int]:
            return list(text.encode())

    assert Encoder(Plain(), {}).prepare is None
