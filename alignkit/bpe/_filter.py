"""Compiled token filter: two bits per token in one word, to skip rank-dict lookups.

Most byte strings a merge asks about are not tokens (first-seen pieces of several
tokens, joins of two parts that are no token). :class:`TokenFilter` answers "certainly
not a token" from a blocked Bloom filter indexed by :func:`alignkit.bpe._pieces.piece_hash`
of the bytes, read in place from the (padded) buffer: no slice, no siphash, no dict probe.
A token sets two bits of one 64-bit word (one memory access per question); both bits set
only means "maybe": the caller then asks the rank dict, so results never depend on the
filter (a false "maybe" costs one lookup; about 1% of non-tokens: o200k, 512 KiB).
"""

from __future__ import annotations

from typing import Final, final

from librt.strings import read_i16_le, read_i32_le, read_i64_le
from librt.vecs import append, vec
from mypy_extensions import i64

from alignkit.bpe._pieces import _mix, piece_hash

_MIN_WORDS: Final = 1 << 11


def _bits() -> vec[i64]:
    """``1 << n`` for n < 63, computed with Python ints (mypyc compiles ``1 << x`` with a
    constant 1 as a 32-bit C shift, even through an ``i64`` variable)."""
    v = vec[i64]()
    for n in range(63):
        b: int = 1 << n
        v = append(v, i64(b))
    return v


_BITS: Final = _bits()
_THIRTY_TWO: Final[i64] = 32
_THIRTY_SEVEN: Final[i64] = 37
_EIGHT: Final[i64] = 8


def token_hash(token: bytes) -> i64:
    """:func:`alignkit.bpe._pieces.piece_hash` of a whole bytes object (no padding needed).

    Example:
        >>> from alignkit.bpe._pieces import PAD
        >>> token_hash(b"hello") == piece_hash(b"xhello" + PAD, 1, 5)
        True
    """
    n: i64 = len(token)
    h: i64 = n
    k: i64 = 0
    while k + 8 <= n:
        h = _mix(h, read_i64_le(token, k))
        k += 8
    left: i64 = n - k
    if left > 0:  # the last word from two overlapping reads inside the token
        w: i64 = token[k]
        if left >= 4:
            hi4: i64 = i64(read_i32_le(token, n - 4)) & 0xFFFFFFFF
            w = (i64(read_i32_le(token, k)) & 0xFFFFFFFF) | (hi4 << (_EIGHT * (left - 4)))
        elif left >= 2:
            hi2: i64 = i64(read_i16_le(token, n - 2)) & 0xFFFF
            w = (i64(read_i16_le(token, k)) & 0xFFFF) | (hi2 << (_EIGHT * (left - 2)))
        h = _mix(h, w)
    return h ^ (h >> 29)


@final
class TokenFilter:
    """Bit array over the hashes of a vocabulary's tokens (two bytes or longer).

    Example:
        >>> from alignkit.bpe._pieces import PAD
        >>> f = TokenFilter(3)
        >>> for token in (b"a", b"ab", b"abc"):
        ...     f.add(token)
        >>> f.maybe(b"xab" + PAD, 1, 2), f.maybe(b"abc" + PAD, 0, 3)
        (True, True)
        >>> f.maybe(b"zq" + PAD, 0, 2)  # not a token (a collision could say True)
        False
    """

    def __init__(self, count: int) -> None:
        """An empty filter sized for ``count`` tokens; :meth:`add` each token."""
        size: i64 = _MIN_WORDS
        while 4 * size < count:  # about 3 tokens (6 bits) per word of 62
            size *= 2
        #: ``hash & mask`` is a token's word.
        self.mask: i64 = size - 1
        words = vec[i64](capacity=size)
        k: i64 = 0
        while k < size:
            words = append(words, 0)
            k += 1
        self.words: vec[i64] = words

    def add(self, token: bytes) -> None:
        """Mark ``token`` (tokens shorter than two bytes are never asked about)."""
        if len(token) >= 2:
            h = token_hash(token)
            self.words[h & self.mask] |= _BITS[(h >> _THIRTY_TWO) & 31] | _BITS[31 + ((h >> _THIRTY_SEVEN) & 31)]

    def maybe(self, padded: bytes, i: i64, length: i64) -> bool:
        """False when ``padded[i:i + length]`` (``length >= 2``) is certainly not a token."""
        return self.maybe_hash(piece_hash(padded, i, length))

    def maybe_hash(self, h: i64) -> bool:
        """:meth:`maybe` of the bytes whose :func:`~alignkit.bpe._pieces.piece_hash` is ``h``."""
        two = _BITS[(h >> _THIRTY_TWO) & 31] | _BITS[31 + ((h >> _THIRTY_SEVEN) & 31)]
        return (self.words[h & self.mask] & two) == two
