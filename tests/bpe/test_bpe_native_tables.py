"""The native tables of the BPE core: piece cache, pair table, and merges over random vocabularies.

Runs against whichever build is installed (pure in the dev venv, compiled in CI): the
same assertions are the compiled-vs-reference differential test of the ``vec`` code.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from librt.vecs import vec
from mypy_extensions import i32

from alignkit.bpe import _reference_encode as ref
from alignkit.bpe import patterns
from alignkit.bpe._core import BPECore
from alignkit.bpe._decode import TokenDecoder
from alignkit.bpe._filter import TokenFilter, token_hash
from alignkit.bpe._pairs import NO_RANK, PairTable
from alignkit.bpe._pieces import MAX_PIECE, PAD, PieceCache, piece_hash

# Few distinct bytes (so pieces share prefixes and words), zero bytes included.
PIECES = st.binary(min_size=2, max_size=MAX_PIECE).map(lambda b: bytes(x % 3 * 0x7F for x in b)) | st.binary(
    min_size=2, max_size=MAX_PIECE
)


def _filter(tokens: list[bytes]) -> TokenFilter:
    token_filter = TokenFilter(len(tokens))
    for token in tokens:
        token_filter.add(token)
    return token_filter


# --- piece cache ------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(pieces=st.lists(PIECES, min_size=1, max_size=60, unique=True), limit=st.sampled_from([1, 5, 40, 1000]))
def test_piece_cache_returns_what_was_stored_for_exactly_that_piece(pieces: list[bytes], limit: int) -> None:
    cache = PieceCache(limit)
    blob = b"".join(pieces) + PAD
    stored: dict[bytes, list[int]] = {}
    at = 0
    for n, piece in enumerate(pieces):
        ids = [n * 10 + k for k in range(1 + n % 3)]  # one id or a span
        assert cache.find(blob, at, len(piece)) < 0, "a piece never stored was found"
        cache.store(blob, at, len(piece), vec[i32]([-5, *ids]), 1)  # ids start at 1
        if len(stored) >= limit:
            stored = {}  # the cache empties itself when full
        stored[piece] = ids
        at += len(piece)
        for old, old_ids in stored.items():
            padded = b"x" + old + b"\xff" * 8  # another buffer, other bytes around the piece
            slot = cache.find(padded, 1, len(old))
            assert slot >= 0, old
            assert list(cache.emit(slot, vec[i32]([3]))) == [3, *old_ids]


def test_piece_cache_with_limit_zero_stores_nothing() -> None:
    cache = PieceCache(0)
    cache.store(b"ab" + PAD, 0, 2, vec[i32]([1]), 0)
    assert cache.find(b"ab" + PAD, 0, 2) < 0


@given(piece=PIECES, before=st.binary(max_size=9), after=st.binary(max_size=9))
def test_piece_hash_depends_on_the_piece_bytes_only(piece: bytes, before: bytes, after: bytes) -> None:
    assert piece_hash(before + piece + after + PAD, len(before), len(piece)) == piece_hash(
        piece + PAD, 0, len(piece)
    )
    assert piece_hash(piece + PAD, 0, len(piece)) >= 0


# --- pair table -------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    tokens=st.lists(st.binary(min_size=1, max_size=4), min_size=2, max_size=40, unique=True),
    pairs=st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39)), max_size=300),
    max_slots=st.sampled_from([16, 64, 1 << 20]),
)
def test_pair_table_equals_a_dict_lookup_of_the_joined_bytes(
    tokens: list[bytes], pairs: list[tuple[int, int]], max_slots: int
) -> None:
    ranks = {t: i for i, t in enumerate(tokens)}
    for t in tokens[:10]:
        for u in tokens[:10]:
            ranks.setdefault(t + u, len(ranks))
    max_len = max(len(t) for t in ranks)
    table = PairTable(ranks, max_len, True, max_slots)  # 16 slots: emptied again and again
    filtered = PairTable(ranks, max_len, True, max_slots, _filter(list(ranks)))
    for _ in range(2):
        for a, b in pairs:
            left, right = tokens[a % len(tokens)], tokens[b % len(tokens)]
            joined = left + right
            expected = ranks.get(joined, NO_RANK)
            padded = b"." + joined + PAD
            assert table.rank(ranks[left], ranks[right], padded, 1, 1 + len(joined)) == expected
            assert filtered.rank(ranks[left], ranks[right], padded, 1, 1 + len(joined)) == expected


# --- merges over random vocabularies --------------------------------------------------


@st.composite
def vocabularies(draw: st.DrawFn) -> dict[bytes, int]:
    """All 256 bytes (shuffled ids) plus joins of existing tokens and a few unreachable tokens."""
    ids = draw(st.permutations(range(256)))
    ranks = {bytes([b]): ids[b] for b in range(256)}
    tokens = [b"a", b"b", b" ", b"\x00", b"\xd0", b"\xb0"]
    for i, j in draw(st.lists(st.tuples(st.integers(0, 999), st.integers(0, 999)), max_size=60)):
        token = tokens[i % len(tokens)] + tokens[j % len(tokens)]
        if token not in ranks:
            ranks[token] = len(ranks)
            tokens.append(token)
    for token in draw(st.lists(st.binary(min_size=2, max_size=6), max_size=5)):
        ranks.setdefault(token, len(ranks))
    return ranks


PIECE_TEXT = st.lists(
    st.sampled_from([b"a", b"b", b" ", b"\x00", b"\xd0\xb0", b"ab"]), min_size=1, max_size=120
).map(b"".join)


@settings(max_examples=150, deadline=None)
@given(ranks=vocabularies(), pieces=st.lists(PIECE_TEXT, min_size=1, max_size=8))
def test_merges_equal_the_reference_on_random_vocabularies(
    ranks: dict[bytes, int], pieces: list[bytes]
) -> None:
    core = BPECore(ranks, r"[\s\S]+", cache_size=3)
    for piece in pieces + pieces:  # again, with the pair table and cache filled
        assert core.encode_piece(piece) == ref.merge_piece(ranks, piece), piece
    text = b"".join(pieces).decode("utf-8")
    split = BPECore(ranks, patterns.CL100K, cache_size=5)
    ids = split.encode_ordinary(text)
    assert ids == ref.encode(ranks, patterns.CL100K, text)
    assert split.encode_ordinary(text) == ids  # warm == cold
    assert split.decode_bytes(ids) == text.encode()


def test_tokens_sharing_an_id_disable_the_pair_table() -> None:
    ranks = {bytes([b]): b for b in range(256)}
    ranks.update({b"ab": 256, b"abc": 257, b"xy": 257, b"bc": 258})  # 257 names two tokens
    core = BPECore(ranks, r"[\s\S]+")
    assert not core.pairs.enabled
    for piece in (b"abc", b"xyz", b"abcxy", b"xyabc", b"bcab"):
        assert core.encode_piece(piece) == ref.merge_piece(ranks, piece)


# --- native output ----------------------------------------------------------------


def test_encode_bytes_into_appends_to_a_vec_and_is_a_numpy_view() -> None:
    ranks = {bytes([b]): b for b in range(256)} | {b"he": 256, b"ll": 257, b"hell": 258}
    core = BPECore(ranks, patterns.GPT2)
    out = core.encode_bytes_into(b"hello hello", vec[i32]([7]))
    assert list(out) == [7, *core.encode_bytes(b"hello hello")]
    view = np.frombuffer(memoryview(out), dtype=np.int32)
    assert view.tolist() == list(out)
    assert core.decode_vec(out[1:]) == b"hello hello"
    with pytest.raises(KeyError, match="token id 300"):
        core.decode_vec(vec[i32]([1, 300]))


def test_piece_cache_keeps_every_piece_when_it_grows() -> None:
    pieces = [f"{n:x}-{'é' * (n % 23)}".encode() for n in range(6000)]  # 3..50 bytes
    cache = PieceCache(10_000)
    blob = b"".join(pieces) + PAD
    at = 0
    for n, piece in enumerate(pieces):
        cache.store(blob, at, len(piece), vec[i32]([n] if n % 2 else [n, n]), 0)
        at += len(piece)
    assert cache.mask + 1 >= 8192  # grew (at least once) past its first 4096 slots
    at = 0
    for n, piece in enumerate(pieces):
        slot = cache.find(blob, at, len(piece))
        assert list(cache.emit(slot, vec[i32]())) == ([n] if n % 2 else [n, n])
        at += len(piece)


def test_ids_beyond_twenty_bits_disable_the_pair_table() -> None:
    ranks = {bytes([b]): b for b in range(256)} | {b"ab": 1 << 20, b"abc": (1 << 20) + 1, b"bc": 300}
    core = BPECore(ranks, r"[\s\S]+")
    assert not core.pairs.enabled
    for piece in (b"abc", b"abcabc", b"bcab", b"cab"):
        assert core.encode_piece(piece) == ref.merge_piece(ranks, piece)


@settings(max_examples=100, deadline=None)
@given(
    tokens=st.lists(st.binary(min_size=1, max_size=70), max_size=200),
    other=st.binary(min_size=2, max_size=70),
)
def test_token_filter_never_rejects_a_token(tokens: list[bytes], other: bytes) -> None:
    token_filter = _filter(tokens)
    for token in tokens:
        if len(token) >= 2:
            assert token_filter.maybe(b"\xff" + token + PAD, 1, len(token))
            assert token_hash(token) == piece_hash(b"\xff" + token + PAD, 1, len(token))
    if other not in tokens and token_filter.maybe(other + PAD, 0, len(other)):
        pass  # a false "maybe" is allowed (the rank dict decides)


def test_token_filter_rejects_most_non_tokens() -> None:
    tokens = [f"t{n}".encode() for n in range(5000)]
    token_filter = _filter(tokens)
    others = [f"u{n}".encode() for n in range(5000)]
    passed = sum(token_filter.maybe(o + PAD, 0, len(o)) for o in others)
    assert passed < 5000 * 0.15  # about 1 bit in 16 is set


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(max_size=20), min_size=1, max_size=40),
    st.lists(st.integers(min_value=-3, max_value=45), max_size=60),
)
def test_token_decoder_equals_joining_the_tokens(tokens: list[bytes], ids: list[int]) -> None:
    """Tokens of 0 (a hole), 1-8 (one word) and 9+ bytes; unknown ids raise KeyError naming the id."""
    dec = TokenDecoder(tokens)
    known = [i for i in ids if 0 <= i < len(tokens) and tokens[i]]
    assert dec.decode_bytes(known) == b"".join(tokens[i] for i in known)
    assert dec.decode_vec(vec[i32](known)) == b"".join(tokens[i] for i in known)
    bad = [i for i in ids if i not in known]
    if bad:
        with pytest.raises(KeyError, match=f"token id {bad[0]} is not"):
            dec.decode_bytes(ids)
        with pytest.raises(KeyError, match=f"token id {bad[0]} is not"):
            dec.decode_vec(vec[i32](ids))


def test_tokenizer_decodes_specials_and_added_tokens_without_a_second_core() -> None:
    from alignkit.bpe.tokenizer import load_default

    tok = load_default()
    eot = tok.special_tokens["<|endoftext|>"]
    ids = tok.encode("Hi <|endoftext|> there", allowed_special="all")
    assert eot in ids
    assert tok.decode_bytes(ids) == b"Hi <|endoftext|> there"
    assert isinstance(tok._decoding_core(), TokenDecoder)
    with pytest.raises(ValueError, match="not in this tokenizer's vocabulary"):
        tok.decode_bytes([eot + 1])


@settings(max_examples=100, deadline=None)
@given(tokens=st.lists(st.binary(min_size=2, max_size=20), max_size=50), other=PIECES)
def test_token_filter_maybe_hash_equals_maybe_of_the_bytes(tokens: list[bytes], other: bytes) -> None:
    token_filter = _filter(tokens)
    for piece in [*tokens, other]:
        padded = b"\x01" + piece + PAD
        assert token_filter.maybe_hash(piece_hash(padded, 1, len(piece))) == token_filter.maybe(padded, 1, len(piece))


def test_piece_cache_store_at_uses_the_slot_and_hash_of_a_failed_find() -> None:
    cache = PieceCache(3)  # emptied on the 4th piece: store_at must then find a new slot
    pieces = [b"alpha", b"beta-gamma-delta", b"ab", b"xyz" * 7, b"alpha"]
    blob = b"".join(pieces) + PAD
    at = 0
    for n, piece in enumerate(pieces[:4]):
        slot = cache.find(blob, at, len(piece))
        assert slot < 0 and cache.hash == piece_hash(blob, at, len(piece))
        cache.store_at(slot, cache.hash, blob, at, len(piece), vec[i32]([n, n + 1]), 0)
        assert list(cache.emit(cache.find(blob, at, len(piece)), vec[i32]())) == [n, n + 1]
        at += len(piece)
    assert cache.used == 1  # the 4th store emptied the cache first
    assert cache.find(b"alpha" + PAD, 0, 5) < 0
