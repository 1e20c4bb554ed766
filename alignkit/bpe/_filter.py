"""Compiled token filter and token index: the vocabulary looked up by the hash of the bytes.

Most byte strings a merge asks about are not tokens (first-seen pieces of several
tokens, joins of two parts that are no token). :class:`TokenFilter` answers "certainly
not a token" from a blocked Bloom filter indexed by :func:`alignkit.bpe._pieces.piece_hash`
of the bytes, read in place from the (padded) buffer: no slice, no siphash, no dict probe.
A token sets two bits of one 64-bit word (one memory access per question); both bits set
only means "maybe": the caller then asks the rank dict, so results never depend on the
filter (a false "maybe" costs one lookup; about 1% of non-tokens: o200k, 512 KiB).

:class:`TokenIndex` is the lookup itself: open addressing over the same hash, a slot
holding hash bits and the token's id, the candidate compared byte by byte with the
token's bytes in place (no slice, no siphash, no bytes object per token in a dict).
"""

from __future__ import annotations

from typing import Final, final

from librt.strings import read_i16_le, read_i32_le, read_i64_le
from librt.vecs import append, vec
from mypy_extensions import i64

from alignkit.bpe._pieces import piece_hash, zeros_i64

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
_LOW32: Final[i64] = 0xFFFFFFFF
_TAG_BITS: Final[i64] = 0x7FFFFFFF


def token_hash(token: bytes) -> i64:
    """:func:`alignkit.bpe._pieces.piece_hash` of a whole bytes object (no padding needed).

    The same arithmetic as :func:`alignkit.bpe._pieces._mix`, written out here (a call into
    another module costs more than the fold itself; a test compares the two hashes).

    Example:
        >>> from alignkit.bpe._pieces import PAD
        >>> token_hash(b"hello") == piece_hash(b"xhello" + PAD, 1, 5)
        True
    """
    n: i64 = len(token)
    h: i64 = n
    k: i64 = 0
    while k + 8 <= n:
        w = read_i64_le(token, k)
        h ^= (w & 0xFFFFFFFF) * 0x5BD1E995
        h ^= ((w >> 32) & 0xFFFFFFFF) * 0x27D4EB2F
        h = (h & 0xFFFFFFFF) * 0x165667B1 ^ (h >> 32)
        k += 8
    left: i64 = n - k
    if left > 0:  # the last word from two overlapping reads inside the token
        w = token[k]
        if left >= 4:
            hi4: i64 = i64(read_i32_le(token, n - 4)) & 0xFFFFFFFF
            w = (i64(read_i32_le(token, k)) & 0xFFFFFFFF) | (hi4 << (_EIGHT * (left - 4)))
        elif left >= 2:
            hi2: i64 = i64(read_i16_le(token, n - 2)) & 0xFFFF
            w = (i64(read_i16_le(token, k)) & 0xFFFF) | (hi2 << (_EIGHT * (left - 2)))
        h ^= (w & 0xFFFFFFFF) * 0x5BD1E995
        h ^= ((w >> 32) & 0xFFFFFFFF) * 0x27D4EB2F
        h = (h & 0xFFFFFFFF) * 0x165667B1 ^ (h >> 32)
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
        self.words: vec[i64] = zeros_i64(size)

    def add(self, token: bytes) -> None:
        """Mark ``token`` (tokens shorter than two bytes are never asked about)."""
        if len(token) >= 2:
            self.add_hash(token_hash(token))

    def add_hash(self, h: i64) -> None:
        """Mark the token whose :func:`token_hash` is ``h`` (two bytes or longer)."""
        self.words[h & self.mask] |= _BITS[(h >> _THIRTY_TWO) & 31] | _BITS[31 + ((h >> _THIRTY_SEVEN) & 31)]

    def maybe(self, padded: bytes, i: i64, length: i64) -> bool:
        """False when ``padded[i:i + length]`` (``length >= 2``) is certainly not a token."""
        return self.maybe_hash(piece_hash(padded, i, length))

    def maybe_hash(self, h: i64) -> bool:
        """:meth:`maybe` of the bytes whose :func:`~alignkit.bpe._pieces.piece_hash` is ``h``."""
        two = _BITS[(h >> _THIRTY_TWO) & 31] | _BITS[31 + ((h >> _THIRTY_SEVEN) & 31)]
        return (self.words[h & self.mask] & two) == two


@final
class TokenIndex:
    """Id of a byte string that is a token, found by its :func:`~alignkit.bpe._pieces.piece_hash`.

    Slot ``s`` of ``tab`` is 0 (empty) or ``tag << 32 | (id + 1)``, the tag being bits
    32..62 of the token's hash; a probe starts at ``hash & mask``. A tag match is
    confirmed by comparing the bytes with ``tokens[id]``. With ``fallback`` (a vocabulary
    where ids do not name one byte string each) every lookup asks that dict instead.

    Example:
        >>> from alignkit.bpe._pieces import PAD
        >>> tokens = [b"a", b"ab", b"abc"]
        >>> index = TokenIndex(tokens)
        >>> all(index.add(token_hash(t), k) for k, t in enumerate(tokens))
        True
        >>> data = b"xabc" + PAD
        >>> index.get(piece_hash(data, 1, 2), data, 1, 2), index.get(piece_hash(data, 0, 2), data, 0, 2)
        (1, -1)
    """

    def __init__(self, tokens: list[bytes], fallback: dict[bytes, int] | None = None) -> None:
        """An empty index over ``tokens`` (id -> bytes); :meth:`add` each token's hash and id."""
        size: i64 = 1024
        count: i64 = len(tokens) if fallback is None else 0
        while size < 2 * count:  # load <= 1/2
            size *= 2
        self.mask: i64 = size - 1
        self.tab: vec[i64] = zeros_i64(size)
        #: bytes of each id (what a tag match is checked against).
        self.tokens: list[bytes] = tokens
        self.fallback: dict[bytes, int] | None = fallback

    def add(self, h: i64, token_id: i64) -> bool:
        """Index ``tokens[token_id]`` (whose hash is ``h``); False if those bytes are indexed already."""
        token = self.tokens[token_id]
        size: i64 = len(token)
        mask = self.mask
        tag: i64 = (h >> _THIRTY_TWO) & _TAG_BITS
        s: i64 = h & mask
        tab = self.tab
        while True:
            e = tab[s]
            if e == 0:
                break
            if (e >> _THIRTY_TWO) == tag and self._same((e & _LOW32) - 1, token, 0, size):
                return False
            s = (s + 1) & mask
        tab[s] = (tag << _THIRTY_TWO) | (token_id + 1)
        return True

    def add_tokens(self, token_filter: TokenFilter) -> i64:
        """:meth:`add` every non-empty token of ``tokens`` under its index, marking the ones
        of two bytes or more in ``token_filter``: -1, or the first index whose bytes were
        indexed already (then the index is incomplete).

        One loop with the hash and the insert written out (no call per token).
        """
        mask = self.mask
        tab = self.tab
        fmask = token_filter.mask
        words = token_filter.words
        at: i64 = 0
        for token in self.tokens:  # (compiled: the list read in place)
            size: i64 = len(token)
            if size > 0:
                h = token_hash(token)
                if size >= 2:
                    words[h & fmask] |= _BITS[(h >> _THIRTY_TWO) & 31] | _BITS[31 + ((h >> _THIRTY_SEVEN) & 31)]
                tag: i64 = (h >> _THIRTY_TWO) & _TAG_BITS
                s: i64 = h & mask
                while True:
                    e = tab[s]
                    if e == 0:
                        break
                    if (e >> _THIRTY_TWO) == tag and self._same((e & _LOW32) - 1, token, 0, size):
                        return at
                    s = (s + 1) & mask
                tab[s] = (tag << _THIRTY_TWO) | (at + 1)
            at += 1
        return -1

    def get(self, h: i64, data: bytes, a: i64, length: i64) -> i64:
        """Id of ``data[a:a + length]`` (whose hash is ``h``), or -1 when it is not a token."""
        fallback = self.fallback
        if fallback is not None:
            r = fallback.get(data[a : a + length])
            return -1 if r is None else r
        mask = self.mask
        tag: i64 = (h >> _THIRTY_TWO) & _TAG_BITS
        s: i64 = h & mask
        tab = self.tab
        while True:
            e = tab[s]
            if e == 0:
                return -1
            if (e >> _THIRTY_TWO) == tag:
                t: i64 = (e & _LOW32) - 1
                if self._same(t, data, a, length):
                    return t
            s = (s + 1) & mask

    def find(self, data: bytes, a: i64, length: i64) -> i64:
        """:meth:`get` of ``data[a:a + length]`` (``data`` padded: at least 8 bytes after it)."""
        return self.get(piece_hash(data, a, length), data, a, length)

    def _same(self, token_id: i64, data: bytes, a: i64, length: i64) -> bool:
        token = self.tokens[token_id]
        if len(token) != length:
            return False
        k: i64 = 0
        while k < length:
            if token[k] != data[a + k]:
                return False
            k += 1
        return True
