"""Obvious, slow reference encoder: ``regex.findall`` + the naive merge loop.

Used only by tests, as the oracle for the compiled scanners and merge core
(:mod:`alignkit.bpe._core`). It is written for clarity, not speed.
"""

from __future__ import annotations

import regex


def split(pattern: str, text: str) -> list[str]:
    """Return the pre-tokenizer pieces of ``text``.

    Example:
        >>> from alignkit.bpe.patterns import GPT2
        >>> split(GPT2, "Hello  world")
        ['Hello', ' ', ' world']
    """
    return [str(p) for p in regex.findall(pattern, text)]


def merge_piece(ranks: dict[bytes, int], piece: bytes) -> list[int]:
    """Encode one piece: the piece's own id if it is a token (as tiktoken does), else
    repeatedly merge the adjacent pair of lowest rank (leftmost on ties).

    Example:
        >>> ranks = {b"a": 0, b"b": 1, b"ab": 2, b"abb": 3}
        >>> merge_piece(ranks, b"abb"), merge_piece(ranks, b"abab")
        ([3], [2, 2])
    """
    if piece in ranks:
        return [ranks[piece]]
    parts = [piece[i : i + 1] for i in range(len(piece))]
    while len(parts) > 1:
        best = None
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, i)
        if best is None:
            break
        i = best[1]
        parts[i : i + 2] = [parts[i] + parts[i + 1]]
    return [ranks[p] for p in parts]


def encode(ranks: dict[bytes, int], pattern: str, text: str) -> list[int]:
    """Encode ``text`` (lone surrogates pass through as "surrogatepass" bytes).

    Example:
        >>> ranks = {bytes([b]): b for b in range(256)}
        >>> ranks[b"hi"] = 256
        >>> from alignkit.bpe.patterns import GPT2
        >>> encode(ranks, GPT2, "hi!")
        [256, 33]
    """
    out: list[int] = []
    for word in split(pattern, text):
        out.extend(merge_piece(ranks, word.encode("utf-8", "surrogatepass")))
    return out
