"""The compiled token-list JSON (alignkit.bpe._canon) and the content hash built from it.

The manifest's tokenizer hash is a promise (the same tokenizer from any source file has
the same hash, run after run): the values below were computed by the implementation
before the compiled path existed, and must never change.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.bpe import load_tokenizer
from alignkit.bpe._canon import feed_token_list, token_list_json
from alignkit.bpe._persist import _token_list_text, content_hash
from conftest import shared_path

TOK = ("data", "tokenizers")

#: source (relative to the shared folder; "gpt2" is the bundled one) -> content hash.
PINNED = {
    ("gpt2",): "6381a46b64417db4d8aa51a4084e06246c9661b4d6222f59078212ceb9f40854",
    (*TOK, "tiktoken", "r50k_base.tiktoken"): "6381a46b64417db4d8aa51a4084e06246c9661b4d6222f59078212ceb9f40854",
    (*TOK, "gpt2", "vocab.json"): "6381a46b64417db4d8aa51a4084e06246c9661b4d6222f59078212ceb9f40854",
    (*TOK, "tiktoken", "p50k_base.tiktoken"): "0b7483096fb1940d6f82a05368cfb4fde01003ab8b99ec57168275eaa170337d",
    (*TOK, "tiktoken", "cl100k_base.tiktoken"): "7940cd0cdfe2182f197bc91ce3a13eea834e7db94ef044e917e3f511dc3a48aa",
    (*TOK, "tiktoken", "o200k_base.tiktoken"): "60bedec756c824ca287b74466ef3e48fa194d8cd7770a6c7a1828b5e473bde3f",
    (*TOK, "llama3", "tokenizer.model"): "12aa94bfe09b5fb27d3f89245970b2d8ea297954a0a805d7fb3b9bf19e039faf",
    (*TOK, "qwen3"): "bdfaf7bcaabefadd586fe8183403ad5c0651148a39abef57e0cfc30f52ef33b9",
    (*TOK, "claude-legacy", "tokenizer.json"): "68a8777ec880de90363a1554a0ae64fcecaad8dcbb25d9990f596a03c4cdc361",
}


def _expected(tokens: list[bytes], ids: list[int]) -> bytes:
    import binascii

    rows = [[binascii.b2a_base64(t, newline=False).decode("ascii"), i] for t, i in zip(tokens, ids)]
    return json.dumps(rows, separators=(",", ":")).encode("ascii")


@settings(max_examples=200, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(st.binary(max_size=12), st.integers(min_value=-(1 << 70), max_value=1 << 70)), max_size=20
    )
)
def test_token_list_json_equals_the_canonical_json(pairs: list[tuple[bytes, int]]) -> None:
    tokens, ids = [t for t, _ in pairs], [i for _, i in pairs]
    assert token_list_json(tokens, ids) == _expected(tokens, ids)
    assert _token_list_text(tokens, ids).encode("ascii") == _expected(tokens, ids)


def test_token_list_json_edges() -> None:
    assert token_list_json([], []) == b"[]"
    edges = [0, 9, 10, 99, 100, 151_643, 99_999_999, 100_000_000, (1 << 31) - 1, 1 << 31, (1 << 62) - 1, 1 << 62, -1]
    tokens = [bytes(range(k % 256, k % 256 + k % 5)) for k in range(len(edges))]
    assert token_list_json(tokens, edges) == _expected(tokens, edges)
    with pytest.raises(ValueError, match="2 tokens but 1 ids"):
        token_list_json([b"a", b"b"], [1])


@settings(max_examples=200, deadline=None)
@given(
    runs=st.lists(
        st.tuples(st.sampled_from([0, 7, 95, 996, 9_990, 99_999_990, -3, (1 << 62) - 4]), st.integers(0, 14)),
        max_size=4,
    ),
    chunk=st.integers(1, 80),
)
def test_fed_pieces_join_to_the_token_list(runs: list[tuple[int, int]], chunk: int) -> None:
    """Runs of consecutive ids (digits counted up, carried at 9s, past 10**8), fed in pieces of ``chunk`` bytes or more."""
    ids = [start + k for start, count in runs for k in range(count)]
    tokens = [bytes([k % 256]) * (k % 5) for k in range(len(ids))]
    pieces: list[bytes] = []
    feed_token_list(tokens, ids, pieces.append, chunk)
    assert b"".join(pieces) == _expected(tokens, ids) == token_list_json(tokens, ids)
    assert all(len(p) >= chunk for p in pieces[:-1])
    with pytest.raises(ValueError, match="1 tokens but 0 ids"):
        feed_token_list([b"a"], [], pieces.append)


@pytest.mark.slow
@pytest.mark.parametrize("parts", list(PINNED), ids=lambda p: "/".join(p[-2:]))
def test_real_tokenizer_hash_is_pinned_and_canonical(parts: tuple[str, ...]) -> None:
    tok = load_tokenizer("gpt2" if parts == ("gpt2",) else shared_path(*parts))
    assert tok.hash == PINNED[parts]
    assert content_hash(tok.to_dict()) == PINNED[parts]
    assert token_list_json(tok._tokens, tok._ids) == _token_list_text(tok._tokens, tok._ids).encode("ascii")
