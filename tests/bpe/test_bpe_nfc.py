"""The NFC fast test (``alignkit.bpe._nfc``) and its generated table.

``nfc_inert`` may say "ask unicodedata" (``False``) for NFC text, but a ``True`` must
always be right: every ``True`` is checked against ``unicodedata.is_normalized``.
"""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.bpe import _gen_nfc, _nfc_table
from alignkit.bpe._nfc import nfc_inert
from alignkit.bpe.tokenizer import Tokenizer
from conftest import shared_path

_BITS = _nfc_table.INERT


def _inert(cp: int) -> bool:
    return cp < _nfc_table.LIMIT and bool(_BITS[cp >> 3] >> (cp & 7) & 1)


def _expected(text: str) -> bool:
    """The answer by the table's definition, one code point at a time."""
    return all(ord(ch) < 0x300 or _inert(ord(ch)) for ch in text)


@pytest.fixture(scope="module")
def second() -> set[int]:
    return _gen_nfc.second_characters()


def test_every_inert_code_point_is_nfc_alone_and_never_combines(second: set[int]) -> None:
    """Checked against this Python's own unicodedata, whatever its Unicode version."""
    inert = [cp for cp in range(_nfc_table.LIMIT) if _inert(cp)]
    assert len(inert) > 100_000  # the table is not empty or truncated
    for cp in inert:
        ch = chr(cp)
        assert unicodedata.combining(ch) == 0, hex(cp)
        assert unicodedata.normalize("NFC", ch) == ch, hex(cp)
        assert cp not in second, hex(cp)
    assert all(_inert(cp) for cp in range(0x300))  # what nfc_inert skips without the table


def test_committed_table_is_current() -> None:
    if unicodedata.unidata_version != _nfc_table.UNICODE_VERSION:
        pytest.skip(f"table from Unicode {_nfc_table.UNICODE_VERSION}, this Python has "
                    f"{unicodedata.unidata_version}: regenerate with python -m alignkit.bpe._gen_nfc")
    assert _gen_nfc.inert_bitmap() == _BITS, "regenerate with: python -m alignkit.bpe._gen_nfc"


def test_known_characters() -> None:
    for text in ["", "plain", "naïve café", "“quoted” — dash…", "漢字かなカナ한국어", "Привет",
                 "😀🎉", "\U00020000", "ÅΩ"]:
        assert nfc_inert(text.encode()), text
    for text in ["e\u0301", "\u212b", "\u2126", "\u0958", "\u1100\u1161", "\u0340", "\U00030000",
                 "\U000e0100", "\U0010ffff", "ok \u0301"]:
        assert not nfc_inert(text.encode()), ascii(text)


_ALPHABET = st.one_of(
    st.characters(max_codepoint=0x7F),
    st.characters(min_codepoint=0x80, max_codepoint=0x36F),  # Latin-1, Latin Extended, combining marks
    st.sampled_from("\u0340\u0374\u037e\u0387\u0958\u09cb\u0b4b\u0cca\u1100\u1161\u11a8\uac00\u212b\u2126"
                    "\u3099\u309a\u304b\uf900\ufb1d\U0001d15e\U0002f800"),  # singletons, Maybe, Hangul
    st.characters(min_codepoint=0x370, max_codepoint=0x2FFF),
    st.characters(min_codepoint=0x3000, max_codepoint=0x10FFFF, codec="utf-8"),
)


@settings(max_examples=600, deadline=None)
@given(text=st.text(alphabet=_ALPHABET, max_size=24))
def test_true_means_nfc_and_follows_the_table(text: str) -> None:
    data = text.encode("utf-8")
    answer = nfc_inert(data)
    assert answer == _expected(text)
    if answer:
        assert unicodedata.is_normalized("NFC", text)


def test_real_conversations() -> None:
    """Content of real chats in many languages: every True is NFC; most non-ASCII turns are True."""
    path = shared_path("data", "alignment")
    texts: list[str] = []
    for file in sorted(path.rglob("*.jsonl"))[:40]:
        with file.open(encoding="utf-8") as handle:
            for line in handle:
                texts.extend(s for s in _strings(json.loads(line)) if not s.isascii())
    assert len(texts) > 1000
    inert = 0
    for text in texts:
        if nfc_inert(text.encode("utf-8", "surrogatepass")):
            inert += 1
            assert unicodedata.is_normalized("NFC", text)
    assert inert > len(texts) // 2


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.fixture(scope="module")
def nfc_and_plain() -> tuple[Tokenizer, Tokenizer]:
    vocab = {i: bytes([i]) for i in range(256)}
    vocab[256] = "é".encode()
    merges = [("é".encode()[:1], "é".encode()[1:])]
    return Tokenizer(vocab, merges, [], normalizer="NFC"), Tokenizer(vocab, merges, [])


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=_ALPHABET, max_size=16))
def test_nfc_tokenizer_encodes_the_nfc_form(nfc_and_plain: tuple[Tokenizer, Tokenizer], text: str) -> None:
    """Whether or not the fast test skips ``unicodedata``, an NFC tokenizer encodes NFC(text)."""
    nfc, plain = nfc_and_plain
    assert nfc.encode_ordinary(text) == plain.encode_ordinary(unicodedata.normalize("NFC", text))
