"""From a CS336-style ``(vocab, merges, special_tokens)`` to BPE tokens in merge-priority order.

The compiled core merges the adjacent pair whose concatenation has the lowest
rank. Hugging Face's merges-list BPE gives the same tokens when ranks follow
the order of ``merges`` (checked against ``tokenizers`` on every real file in
tests/bpe/test_bpe_exact.py). So the rank order is: the 256 single bytes (their
rank never matters: a single byte is never a merge candidate), then each
merge's result in list order. Ids are kept beside it; the facade uses ids as
ranks when they increase in that order (GPT-2, Qwen, CS336 vocabularies with
specials first) and remaps ranks to ids otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from alignkit.errors import TokenizerFileError


def bpe_order(
    vocab: dict[int, bytes],
    merges: Sequence[tuple[bytes, bytes]],
    special_tokens: Sequence[str] | Mapping[str, int] | None,
) -> tuple[list[tuple[bytes, int]], dict[int, bytes], dict[str, int]]:
    """``(tokens in rank order with ids, decode-only tokens, specials)``.

    Special tokens are found in ``vocab`` by their UTF-8 bytes or get new ids
    after the largest; a mapping gives their ids. A special id never takes part
    in BPE, so plain text can never produce it.

    Example:
        >>> vocab = {0: b"<|e|>"} | {i + 1: bytes([i]) for i in range(256)} | {257: b"ab"}
        >>> order, added, specials = bpe_order(vocab, [(b"a", b"b")], ["<|e|>"])
        >>> order[-1], added, specials
        ((b'ab', 257), {}, {'<|e|>': 0})
    """
    inverse: dict[bytes, int] = {}
    for i in sorted(vocab):
        inverse.setdefault(vocab[i], i)
    specials: dict[str, int] = {}
    next_id = max(vocab, default=-1) + 1
    given = special_tokens if isinstance(special_tokens, Mapping) else {}
    for s in special_tokens or ():
        sid = given.get(s, inverse.get(s.encode("utf-8")))
        if sid is None:
            sid, next_id = next_id, next_id + 1
        specials[s] = sid
    special_ids = set(specials.values())
    order: list[tuple[bytes, int]] = []
    for byte in range(256):
        bid = inverse.get(bytes([byte]))
        if bid is None:
            raise TokenizerFileError(f"the vocabulary has no token for byte {byte}: a byte-level BPE needs all 256")
        order.append((bytes([byte]), bid))
    order.sort(key=lambda t: t[1])
    seen = {t for t, _ in order}
    for n, (a, b) in enumerate(merges):
        tid = inverse.get(a + b)
        if tid is None:
            raise TokenizerFileError(f"merge {n} ({a!r} + {b!r}) makes a token that is not in the vocabulary")
        if a + b not in seen and tid not in special_ids:
            seen.add(a + b)
            order.append((a + b, tid))
    used = {i for _, i in order} | special_ids
    added = {i: t for i, t in vocab.items() if i not in used}
    return order, added, specials
