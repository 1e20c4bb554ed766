"""Compiled token filter: one bit per hash of every token, to skip rank-dict lookups.

Most byte strings a merge asks about are not tokens (first-seen pieces of several
tokens, joins of two parts that are no token). :class:`TokenFilter` answers "certainly
not a token" from a bit array indexed by :func:`alignkit.bpe._pieces.piece_hash` of the
bytes, read in place from the (padded) buffer: no slice, no siphash, no dict probe.
A set bit only means "maybe": the caller then asks the rank dict, so results never
depend on the filter (a false "maybe" costs one lookup).
"""

from __future__ import annotations

from typing import Final, final

from librt.vecs import append, vec
from mypy_extensions import i64

from alignkit.bpe._pieces import PAD, piece_hash

_MIN_BITS: Final = 1 << 16


def _bits() -> vec[i64]:
    """``1 << n`` for n < 32, computed with Python ints (mypyc compiles ``1 << x`` with a
    constant 1 as a 32-bit C shift, even through an ``i64`` variable)."""
    v = vec[i64]()
    for n in range(32):
        b: int = 1 << n
        v = append(v, i64(b))
    return v


_BITS: Final = _bits()


@final
class TokenFilter:
    """Bit array over the hashes of a vocabulary's tokens (two bytes or longer).

    Example:
        >>> f = TokenFilter([b"a", b"ab", b"abc"])
        >>> f.maybe(b"xab" + PAD, 1, 2), f.maybe(b"abc" + PAD, 0, 3)
        (True, True)
        >>> f.maybe(b"zq" + PAD, 0, 2)  # not a token (a collision could say True)
        False
    """

    def __init__(self, tokens: list[bytes]) -> None:
        bits: i64 = _MIN_BITS
        while bits < 16 * len(tokens):  # about 1 in 16 bits set: ~6% false "maybe"
            bits *= 2
        self.mask: i64 = bits - 1
        words = vec[i64](capacity=bits // 32)
        k: i64 = 0
        while k < bits // 32:
            words = append(words, 0)
            k += 1
        blob = b"".join(tokens) + PAD
        five: i64 = 5
        at: i64 = 0
        for token in tokens:
            n: i64 = len(token)
            if n >= 2:
                h = piece_hash(blob, at, n) & self.mask
                words[h >> five] |= self._bit(h)
            at += n
        self.words: vec[i64] = words

    def _bit(self, h: i64) -> i64:
        """Bit ``h % 32`` of a word (32 bits a word: no bit reaches the sign)."""
        return _BITS[h & 31]

    def maybe(self, padded: bytes, i: i64, length: i64) -> bool:
        """False when ``padded[i:i + length]`` (``length >= 2``) is certainly not a token."""
        h = piece_hash(padded, i, length) & self.mask
        five: i64 = 5
        return (self.words[h >> five] & self._bit(h)) != 0
