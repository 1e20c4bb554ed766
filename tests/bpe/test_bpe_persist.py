"""The tokenizer's content hash: the fast string-built path equals the canonical JSON's sha256."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.bpe import load_tokenizer
from alignkit.bpe._persist import content_hash
from alignkit.bpe.tokenizer import Tokenizer

_BYTES = [bytes([i]) for i in range(256)]

#: Patterns that JSON must escape (quotes, backslashes, non-ASCII, control characters), and
#: one that contains the text a naive splice could be fooled by.
_PATTERNS = [
    r"""'s|'t| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    r'"tokens":\[\["|[é中]+|\x01|\\',
    r"\S+|\s+",
]


@settings(max_examples=40, deadline=None)
@given(
    extra=st.lists(st.binary(min_size=2, max_size=8), max_size=30, unique=True),
    specials=st.lists(st.text(min_size=1, max_size=6), max_size=4, unique=True),
    pattern=st.sampled_from(_PATTERNS),
    prefix=st.booleans(),
)
def test_fast_hash_equals_canonical_json_hash(
    extra: list[bytes], specials: list[str], pattern: str, prefix: bool
) -> None:
    ranks = {b: i for i, b in enumerate(_BYTES)}
    for token in extra:
        if token not in ranks:
            ranks[token] = len(ranks)
    special_ids = {s: len(ranks) + k for k, s in enumerate(specials)}
    tok = Tokenizer.from_ranks(ranks, special_ids, pattern=pattern, add_prefix_space=prefix)
    assert re.fullmatch("[0-9a-f]{64}", tok.hash)
    assert tok.hash == content_hash(tok.to_dict())


def test_bundled_gpt2_hash_is_the_canonical_one() -> None:
    tok = load_tokenizer("gpt2")
    assert tok.hash == content_hash(tok.to_dict())
    assert "tokens" not in tok.to_dict(with_tokens=False)


@settings(max_examples=60, deadline=None)
@given(
    extra=st.lists(st.binary(min_size=2, max_size=5), max_size=20, unique=True),
    added=st.lists(st.binary(min_size=1, max_size=5), max_size=4),
    specials=st.lists(st.text(min_size=1, max_size=6), max_size=4, unique=True),
    shuffle=st.randoms(use_true_random=False),
)
def test_tables_built_on_first_use_equal_the_plain_maps(
    extra: list[bytes], added: list[bytes], specials: list[str], shuffle: object
) -> None:
    """decode / vocab / token_to_id / n_vocab from the lazily built tables equal a plain id -> bytes map."""
    import random

    assert isinstance(shuffle, random.Random)
    tokens = list(_BYTES) + [t for t in extra if len(t) > 1]
    ids = list(range(len(tokens)))
    shuffle.shuffle(ids)  # ids out of merge order: ranks are remapped
    ranks = dict(zip(tokens, ids))
    top = len(tokens)
    added_map = {top + k: t for k, t in enumerate(added)}
    special_ids = {s: top + len(added) + k for k, s in enumerate(specials)}
    tok = Tokenizer.from_ranks(ranks, special_ids, added=added_map)
    expected = {i: t for t, i in ranks.items()} | added_map | {i: s.encode() for s, i in special_ids.items()}
    assert tok.vocab == expected and tok.n_vocab == max(expected) + 1
    every = sorted(expected)
    assert tok.decode_bytes(every) == b"".join(expected[i] for i in every)
    for i in every[:: max(1, len(every) // 20)]:
        assert tok.id_to_token_bytes(i) == expected[i]
    for s, i in special_ids.items():
        assert tok.token_to_id(s) == i
    assert tok.token_to_id(b"\x00") == ranks[b"\x00"]
