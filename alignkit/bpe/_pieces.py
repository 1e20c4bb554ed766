"""Compiled piece cache: ids of pieces, keyed by the piece's bytes read as 64-bit words.

A piece of 2..64 bytes is read straight out of the (zero-padded) UTF-8 buffer as
little-endian 64-bit words, the last one masked to the piece's length: nothing is
sliced and no siphash is computed. The table is open-addressed in native ``vec``
buffers: per slot the length, the first word (compared first), the offset of the
remaining words in a shared word arena, and the value: a token id (``>= 0``) or
``-1 - offset`` of a span ``[count, id, id, ...]`` in one shared ``vec[i32]``.

Results never depend on the cache: it holds at most ``limit`` pieces and is emptied
when full (``limit == 0`` disables it).
"""

from __future__ import annotations

from typing import Final, final

from librt.strings import read_i64_le
from librt.vecs import append, vec
from mypy_extensions import i32, i64

#: longest piece the cache keys (eight 64-bit words).
MAX_PIECE: Final = 64
#: zero bytes to append to a buffer so that every word of a piece can be read.
PAD: Final = b"\x00" * 8
_MIN_SLOTS: Final = 1 << 12


def _masks() -> vec[i64]:
    """``masks[n]``: the low ``n`` bytes of a word (a table: mypyc compiles ``i64(1) << x``
    as a 32-bit C shift, so the masks are computed with Python ints)."""
    v = vec[i64]()
    for n in range(8):
        m: int = (1 << (8 * n)) - 1
        v = append(v, i64(m))
    return append(v, -1)


_MASK: Final = _masks()


def zeros_i64(n: i64) -> vec[i64]:
    """A vector of ``n`` zeros (the native tables' common start)."""
    v = vec[i64](capacity=n)
    k: i64 = 0
    while k < n:
        v = append(v, 0)
        k += 1
    return v


def zeros_i32(n: i64) -> vec[i32]:
    """A vector of ``n`` zeros."""
    v = vec[i32](capacity=n)
    k: i64 = 0
    while k < n:
        v = append(v, 0)
        k += 1
    return v


def word(padded: bytes, i: i64, left: i64) -> i64:
    """The word at byte ``i`` of a piece with ``left >= 1`` bytes left from ``i`` on.

    Bytes past the piece are masked off, so a piece's words depend on its bytes only.

    Example:
        >>> word(b"abc" + PAD, 0, 2) == ord("a") | ord("b") << 8
        True
    """
    w = read_i64_le(padded, i)
    if left < 8:
        w &= _MASK[left]
    return w


def _mix(h: i64, w: i64) -> i64:
    """Fold one word into a hash; every product stays below 2**63 (no overflow)."""
    h ^= (w & 0xFFFFFFFF) * 0x5BD1E995
    h ^= ((w >> 32) & 0xFFFFFFFF) * 0x27D4EB2F
    return (h & 0xFFFFFFFF) * 0x165667B1 ^ (h >> 32)


def piece_hash(padded: bytes, i: i64, length: i64) -> i64:
    """Hash of the piece ``padded[i:i + length]`` (non-negative).

    Example:
        >>> piece_hash(b"hello" + PAD, 0, 5) == piece_hash(b"xhello" + PAD, 1, 5)
        True
    """
    h: i64 = _mix(length, word(padded, i, length))
    k: i64 = 8
    while k < length:
        h = _mix(h, word(padded, i + k, length - k))
        k += 8
    return h ^ (h >> 29)


@final
class PieceCache:
    """Ids of pieces of 2..64 bytes in native buffers.

    Slot ``s`` is two words of ``tab``: ``tab[2s]`` is the piece's first word and
    ``tab[2s + 1]`` is ``length << 32 | value`` (0: empty), so a probe touches one cache
    line. Pieces longer than 8 bytes keep their other words in ``words[koff[s]:]``.

    Example:
        >>> cache = PieceCache(100)
        >>> data = b"hello" + PAD
        >>> cache.find(data, 0, 5) < 0
        True
        >>> cache.store(data, 0, 5, vec[i32]([7, 8]), 0)
        >>> list(cache.emit(cache.find(data, 0, 5), vec[i32]()))
        [7, 8]
    """

    def __init__(self, limit: int) -> None:
        #: most pieces held before the cache is emptied (0: nothing is stored).
        self.limit: i64 = max(limit, 0)
        self._reset(_MIN_SLOTS)

    def _reset(self, slots: i64) -> None:
        self.mask: i64 = slots - 1
        self.tab: vec[i64] = zeros_i64(2 * slots)
        self.koff: vec[i32] = zeros_i32(slots)  # the other words: words[koff:...]
        self.words: vec[i64] = vec[i64]()
        self.spans: vec[i32] = vec[i32]()
        self.used: i64 = 0

    def clear(self) -> None:
        """Forget every piece (keeps the current table size)."""
        self._reset(self.mask + 1)

    def find(self, padded: bytes, i: i64, length: i64) -> i64:
        """The slot holding the piece, or ``-1 - slot`` of the empty slot where it would go.

        (:func:`piece_hash` and :func:`word`, inlined for the first word.)
        """
        w0 = read_i64_le(padded, i)
        if length < 8:
            w0 &= _MASK[length]
        h: i64 = length ^ (w0 & 0xFFFFFFFF) * 0x5BD1E995
        h ^= ((w0 >> 32) & 0xFFFFFFFF) * 0x27D4EB2F
        h = (h & 0xFFFFFFFF) * 0x165667B1 ^ (h >> 32)
        k: i64 = 8
        while k < length:
            h = _mix(h, word(padded, i + k, length - k))
            k += 8
        mask = self.mask
        s: i64 = (h ^ (h >> 29)) & mask
        tab = self.tab
        shift: i64 = 32
        while True:
            m = tab[2 * s + 1]
            if m == 0:
                return -1 - s
            if (
                (m >> shift) == length
                and tab[2 * s] == w0
                and (length <= 8 or self._same_tail(s, padded, i, length))
            ):
                return s
            s = (s + 1) & mask

    def value(self, slot: i64) -> i32:
        """The id cached in ``slot`` (``>= 0``), or ``-1 - offset`` of its span."""
        v: i64 = self.tab[2 * slot + 1] & 0xFFFFFFFF
        if v >= 0x80000000:
            v -= 0x100000000
        return i32(v)

    def _same_tail(self, s: i64, padded: bytes, i: i64, length: i64) -> bool:
        words = self.words
        at: i64 = i64(self.koff[s])
        k: i64 = 8
        while k < length:
            if words[at] != word(padded, i + k, length - k):
                return False
            at += 1
            k += 8
        return True

    def emit(self, slot: i64, out: vec[i32]) -> vec[i32]:
        """Append the ids cached in ``slot`` (from :meth:`find`) to ``out``."""
        v = self.value(slot)
        if v >= 0:
            return append(out, v)
        spans = self.spans
        at: i64 = -1 - i64(v)
        end: i64 = at + 1 + i64(spans[at])
        at += 1
        while at < end:
            out = append(out, spans[at])
            at += 1
        return out

    def store(self, padded: bytes, i: i64, length: i64, ids: vec[i32], start: i64) -> None:
        """Cache ``ids[start:]`` as the ids of the piece ``padded[i:i + length]``."""
        if self.limit == 0:
            return
        if self.used >= self.limit:
            self.clear()
        if 4 * (self.used + 1) > 3 * (self.mask + 1):  # load <= 3/4
            self._grow()
        s = -1 - self.find(padded, i, length)
        if s < 0:
            return  # already cached (cannot happen in the encoder, harmless)
        count: i64 = len(ids) - start
        v: i64 = 0
        if count == 1:
            v = i64(ids[start])
        else:
            spans = self.spans
            v = -1 - len(spans)
            spans = append(spans, i32(count))
            k = start
            end: i64 = len(ids)
            while k < end:
                spans = append(spans, ids[k])
                k += 1
            self.spans = spans
        if length > 8:
            words = self.words
            self.koff[s] = i32(len(words))
            k = 8
            while k < length:
                words = append(words, word(padded, i + k, length - k))
                k += 8
            self.words = words
        shift: i64 = 32
        self.tab[2 * s] = word(padded, i, length)
        self.tab[2 * s + 1] = (length << shift) | (v & 0xFFFFFFFF)
        self.used += 1

    def _grow(self) -> None:
        """Double the table; the arenas stay (slots keep their offsets)."""
        old = self.tab
        oldoff = self.koff
        words = self.words
        spans = self.spans
        used = self.used
        n: i64 = self.mask + 1
        self._reset(2 * n)
        self.words = words
        self.spans = spans
        self.used = used
        mask = self.mask
        tab = self.tab
        shift: i64 = 32
        k: i64 = 0
        while k < n:
            m = old[2 * k + 1]
            if m != 0:
                s = self._rehash(old[2 * k], m >> shift, oldoff[k]) & mask
                while tab[2 * s + 1] != 0:
                    s = (s + 1) & mask
                tab[2 * s] = old[2 * k]
                tab[2 * s + 1] = m
                self.koff[s] = oldoff[k]
            k += 1

    def _rehash(self, w0: i64, length: i64, off: i32) -> i64:
        """:func:`piece_hash` of a stored piece, from its words."""
        h: i64 = _mix(length, w0)
        at: i64 = i64(off)
        k: i64 = 8
        while k < length:
            h = _mix(h, self.words[at])
            at += 1
            k += 8
        return h ^ (h >> 29)
