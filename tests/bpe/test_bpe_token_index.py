"""The core's native token index and the tiktoken load that builds no rank dict.

Runs against whichever build is installed (pure in the dev venv, compiled in CI): the
index is checked against a plain dict lookup of the same bytes.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from conftest import shared_path
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.bpe import Tokenizer
from alignkit.bpe._core import BPECore
from alignkit.bpe._filter import TokenFilter, TokenIndex, token_hash
from alignkit.bpe._pieces import PAD, piece_hash, zeros_i64
from alignkit.bpe.loaders._rank_file import parse_canonical, parse_fast
from alignkit.bpe.loaders.tiktoken_file import load_ranks, load_tiktoken, parse_ranks
from alignkit.bpe.patterns import GPT2
from alignkit.errors import TokenizerFileError

# Few distinct bytes, so tokens share prefixes, lengths and words (zero bytes included).
_BYTES = st.binary(min_size=1, max_size=20).map(lambda b: bytes(x % 3 * 0x7F for x in b)) | st.binary(
    min_size=1, max_size=20
)


def _index(tokens: list[bytes]) -> TokenIndex:
    index = TokenIndex(tokens)
    for k, token in enumerate(tokens):
        assert index.add(token_hash(token), k)
    return index


@given(st.lists(_BYTES, min_size=1, max_size=60, unique=True), st.lists(_BYTES, max_size=20), st.binary(max_size=9))
@settings(max_examples=200, deadline=None)
def test_index_equals_a_dict_lookup(tokens: list[bytes], others: list[bytes], before: bytes) -> None:
    index = _index(tokens)
    ids = {t: k for k, t in enumerate(tokens)}
    for piece in tokens + others:
        data = before + piece + PAD
        a = len(before)
        assert index.get(piece_hash(data, a, len(piece)), data, a, len(piece)) == ids.get(piece, -1)
        assert index.find(data, a, len(piece)) == ids.get(piece, -1)


@given(st.lists(_BYTES | st.just(b""), max_size=60), st.lists(_BYTES, max_size=20))
@settings(max_examples=200, deadline=None)
def test_add_tokens_is_add_per_token(tokens: list[bytes], others: list[bytes]) -> None:
    """The one-loop build: the same lookups as add() per token, the filter marked, the first repeat named."""
    index, token_filter = TokenIndex(tokens), TokenFilter(len(tokens))
    twice = index.add_tokens(token_filter)
    seen: dict[bytes, int] = {}
    expected = -1
    for k, t in enumerate(tokens):
        if t and t in seen:
            expected = k
            break
        if t:
            seen[t] = k
    assert twice == expected
    if twice < 0:
        for piece in tokens + others:
            if piece:
                assert index.find(piece + PAD, 0, len(piece)) == seen.get(piece, -1)
            if len(piece) >= 2 and piece in seen:
                assert token_filter.maybe(piece + PAD, 0, len(piece))


def test_zeros() -> None:
    for n in (0, 1, 4095, 4096, 4097, 10_000):
        v = zeros_i64(n)
        assert len(v) == n and not any(v)


def test_index_refuses_a_token_twice_and_a_fallback_asks_the_dict() -> None:
    index = TokenIndex([b"ab", b"cd", b"ab"])
    assert index.add(token_hash(b"ab"), 0) and index.add(token_hash(b"cd"), 1)
    assert not index.add(token_hash(b"ab"), 2)
    both = TokenIndex([], {b"ab": 7})
    assert both.find(b"ab" + PAD, 0, 2) == 7 and both.find(b"ba" + PAD, 0, 2) == -1


def test_core_from_tokens_builds_its_rank_dict_only_when_asked() -> None:
    tokens = [bytes([b]) for b in range(256)] + [b"he", b"ll", b"hell", b" wor", b"ld"]
    ranks = {t: k for k, t in enumerate(tokens)}
    lazy = BPECore({}, GPT2, tokens=list(tokens))
    eager = BPECore(ranks, GPT2)
    text = "hello world, hell hello"
    assert lazy.encode_ordinary(text) == eager.encode_ordinary(text)
    assert lazy.encode_piece(b"hell") == [258] and lazy.decode_bytes([258, 111]) == b"hello"
    assert lazy._ranks is None  # encoding and decoding never built it
    assert lazy.ranks == ranks
    with pytest.raises(ValueError, match="twice"):
        BPECore({}, GPT2, tokens=tokens + [b"ll"])


def test_core_from_tokens_keeps_the_id_list_it_is_given() -> None:
    tokens = [bytes([b]) for b in range(256)] + [b"he", b"ll", b"hell"]
    ids = list(range(len(tokens)))
    core = BPECore({}, GPT2, tokens=tokens, ids=ids)
    assert core.id_objs is ids and core.encode_ordinary("hello") == [258, 111]
    assert core.ranks == {t: k for k, t in enumerate(tokens)}
    with pytest.raises(ValueError, match="must be 0, 1, ..., n - 1"):
        BPECore({}, GPT2, tokens=tokens, ids=ids[:-1] + [900])
    with pytest.raises(ValueError, match="259 tokens but 258 ids"):
        BPECore({}, GPT2, tokens=tokens, ids=ids[:-1])


def _file(tokens: list[bytes]) -> bytes:
    return b"".join(base64.b64encode(t) + b" " + str(k).encode() + b"\n" for k, t in enumerate(tokens))


def test_parse_fast_gives_dense_files_as_a_token_list() -> None:
    assert parse_fast(_file([b"a", b"bc"])) == ({}, [b"a", b"bc"])
    assert parse_fast(b"YQ== 1\nYg== 0\n") == ({b"a": 1, b"b": 0}, None)
    assert parse_fast(b"YQ==  0\n") is None
    dup = _file([b"a", b"b", b"a"])
    assert parse_fast(dup) == ({}, [b"a", b"b", b"a"])  # the list path does not look for repeats...
    assert parse_canonical(dup) is None  # ...the dict path does


def test_a_dense_file_with_a_token_twice_is_named_by_line(tmp_path: Path) -> None:
    tokens = [bytes([b]) for b in range(256)] + [b"x%d" % k for k in range(50256 - 257)] + [b"x7"]
    path = tmp_path / "r50k_base.tiktoken"  # as many lines as r50k's file, the last one a repeat
    path.write_bytes(_file(tokens))
    with pytest.raises(TokenizerFileError, match=r":50256: duplicate"):
        load_ranks(path)
    with pytest.raises(TokenizerFileError, match=r":50256: duplicate"):
        load_tiktoken(path, "r50k_base")


def test_real_dense_load_has_no_rank_dict_until_asked() -> None:
    path = shared_path("data", "tokenizers", "tiktoken", "o200k_base.tiktoken")
    tok = load_tiktoken(path)
    text = "The quick brown fox — naïve café, 東京 2024!\n\n  x"
    ids = tok.encode_ordinary(text)
    assert tok.decode(ids) == text and tok.encode("hello world") == [24912, 2375]
    assert tok._core._ranks is None
    ranks = parse_ranks(path.read_text(), str(path))
    assert tok._core.ranks == ranks and load_ranks(path) == ranks
    general = Tokenizer.from_ranks(ranks, tok.special_tokens, pattern=tok.pattern, name="o200k_base")
    assert general.encode_ordinary(text) == ids and general.hash == tok.hash
