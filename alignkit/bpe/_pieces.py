"""Compiled piece cache: ids of pieces, keyed by the piece's bytes read as 64-bit words.

A piece of 2..64 bytes is read straight out of the (zero-padded) UTF-8 buffer as
little-endian 64-bit words, the last one masked to the piece's length: nothing is
sliced and no siphash is computed. The table is open-addressed in native ``vec``
buffers: per slot the first word (compared first), a tag (length and hash bits) and
the value: a token id (``>= 0``) or ``-1 - offset`` of a record in one shared ``vec[i64]``
arena, ``[count, other words of the piece..., ids...]``: a long piece is checked and
emitted from one place in memory.

Results never depend on the cache: it holds at most ``limit`` pieces and is emptied
when full (``limit == 0`` disables it).
"""

from __future__ import annotations

from typing import Final, final

from librt.strings import read_i64_le
from librt.vecs import append, extend, vec
from mypy_extensions import i32, i64

#: longest piece the cache keys (eight 64-bit words).
MAX_PIECE: Final = 64
#: zero bytes to append to a buffer so that every word of a piece can be read.
PAD: Final = b"\x00" * 8
_MIN_SLOTS: Final = 1 << 12
_FAST_GROWTH: Final = 1 << 16  # below this many slots the table grows fourfold
_MAX_LIMIT: Final = 1 << 22  # pieces: keeps the table below 2**23 slots (the hash bits in a tag)
_TAG_HASH: Final[i64] = (1 << 23) - 1
_SEVEN: Final[i64] = 7  # bits of the length in a tag (MAX_PIECE < 128)
_THIRTY_TWO: Final[i64] = 32


def _masks() -> vec[i64]:
    """``masks[n]``: the low ``n`` bytes of a word (a table: mypyc compiles ``i64(1) << x``
    as a 32-bit C shift, so the masks are computed with Python ints)."""
    v = vec[i64]()
    for n in range(8):
        m: int = (1 << (8 * n)) - 1
        v = append(v, i64(m))
    return append(v, -1)


_MASK: Final = _masks()


def _zero_chunk() -> vec[i64]:
    v = vec[i64](capacity=4096)
    for _ in range(4096):
        v = append(v, 0)
    return v


_ZEROS: Final = _zero_chunk()


def zeros_i64(n: i64) -> vec[i64]:
    """A vector of ``n`` zeros (the native tables' common start), extended 4096 at a time
    (a copy each, not an append per item).

    Example:
        >>> list(zeros_i64(3)), len(zeros_i64(5000))
        ([0, 0, 0], 5000)
    """
    v = vec[i64](capacity=n)
    while len(v) + 4096 <= n:
        v = extend(v, _ZEROS)
    while len(v) < n:
        v = append(v, 0)
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
    ``tab[2s + 1]`` is ``tag << 32 | value`` (0: empty), so a probe touches one cache
    line. The tag is the piece's length and the low 23 bits of its hash (the table
    grows without reading any piece again). A piece of one id and at most 8 bytes keeps
    the id as its value; any other has a record ``[count, words 2.., ids...]`` in ``arena``.

    Example:
        >>> cache = PieceCache(100)
        >>> data = b"hello" + PAD
        >>> slot = cache.find(data, 0, 5)
        >>> slot < 0
        True
        >>> cache.store_at(slot, cache.hash, data, 0, 5, vec[i32]([7, 8]), 0)
        >>> list(cache.emit(cache.find(data, 0, 5), vec[i32]()))
        [7, 8]
    """

    def __init__(self, limit: int) -> None:
        #: most pieces held before the cache is emptied (0: nothing is stored; at most 2**22).
        self.limit: i64 = min(max(limit, 0), _MAX_LIMIT)
        #: the hash of the piece last passed to :meth:`find` (see :func:`piece_hash`).
        self.hash: i64 = 0
        self._reset(_MIN_SLOTS)

    def _reset(self, slots: i64) -> None:
        self.mask: i64 = slots - 1
        self.tab: vec[i64] = zeros_i64(2 * slots)
        #: records of pieces: ``[count, words after the first..., ids...]``.
        self.arena: vec[i64] = vec[i64]()
        self.used: i64 = 0

    def clear(self) -> None:
        """Forget every piece (keeps the current table size)."""
        self._reset(self.mask + 1)

    def find(self, padded: bytes, i: i64, length: i64) -> i64:
        """The slot holding the piece, or ``-1 - slot`` of the empty slot where it would go.

        Sets :attr:`hash` to the piece's :func:`piece_hash` (inlined here for the first word).
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
        h ^= h >> 29
        self.hash = h
        mask = self.mask
        s: i64 = h & mask
        tab = self.tab
        shift: i64 = 32
        tag: i64 = ((h & _TAG_HASH) << _SEVEN) | length
        while True:
            m = tab[2 * s + 1]
            if m == 0:
                return -1 - s
            if (m >> shift) == tag and tab[2 * s] == w0 and (length <= 8 or self._same_tail(m, padded, i, length)):
                return s
            s = (s + 1) & mask

    def value(self, slot: i64) -> i32:
        """The id cached in ``slot`` (``>= 0``), or ``-1 - offset`` of its record."""
        v: i64 = self.tab[2 * slot + 1] & 0xFFFFFFFF
        if v >= 0x80000000:
            v -= 0x100000000
        return i32(v)

    def _same_tail(self, m: i64, padded: bytes, i: i64, length: i64) -> bool:
        """Whether the words after the first of a piece longer than 8 bytes match the
        record of the slot whose tag-and-value word is ``m``."""
        arena = self.arena
        at: i64 = 0x100000000 - (m & 0xFFFFFFFF)  # the value is -1 - offset: words start at offset + 1
        k: i64 = 8
        while k < length:
            if arena[at] != word(padded, i + k, length - k):
                return False
            at += 1
            k += 8
        return True

    def emit(self, slot: i64, out: vec[i32]) -> vec[i32]:
        """Append the ids cached in ``slot`` (from :meth:`find`) to ``out``."""
        m: i64 = self.tab[2 * slot + 1]
        v: i64 = m & 0xFFFFFFFF
        if v < 0x80000000:
            return append(out, i32(v))
        arena = self.arena
        at: i64 = 0xFFFFFFFF - v  # -1 - value: the record's count
        length: i64 = (m >> _THIRTY_TWO) & 127
        end: i64 = at + 1 + arena[at]
        at += 1 + (length - 1) // 8  # past the words after the first
        end += (length - 1) // 8
        while at < end:
            out = append(out, i32(arena[at]))
            at += 1
        return out

    def store(self, padded: bytes, i: i64, length: i64, ids: vec[i32], start: i64) -> None:
        """Cache ``ids[start:]`` as the ids of the piece ``padded[i:i + length]``."""
        slot = self.find(padded, i, length)
        if slot < 0:
            self.store_at(slot, self.hash, padded, i, length, ids, start)

    def store_at(self, found: i64, h: i64, padded: bytes, i: i64, length: i64, ids: vec[i32], start: i64) -> None:
        """:meth:`store` of a piece that :meth:`find` did not find: ``found`` is what it
        returned, ``h`` the :attr:`hash` it set, and the cache has not changed since."""
        if self.limit == 0:
            return
        s: i64 = -1 - found
        if self.used >= self.limit:
            self.clear()
            s = self._free_slot(h)
        elif 4 * (self.used + 1) > 3 * (self.mask + 1):  # load <= 3/4
            self._grow()
            s = self._free_slot(h)
        count: i64 = len(ids) - start
        v: i64 = 0
        if count == 1 and length <= 8:
            v = i64(ids[start])
        else:
            arena = self.arena
            v = -1 - len(arena)
            arena = append(arena, count)
            k: i64 = 8
            while k < length:
                arena = append(arena, word(padded, i + k, length - k))
                k += 8
            k = start
            end: i64 = len(ids)
            while k < end:
                arena = append(arena, i64(ids[k]))
                k += 1
            self.arena = arena
        shift: i64 = 32
        tag: i64 = ((h & _TAG_HASH) << _SEVEN) | length
        self.tab[2 * s] = word(padded, i, length)
        self.tab[2 * s + 1] = (tag << shift) | (v & 0xFFFFFFFF)
        self.used += 1

    def _free_slot(self, h: i64) -> i64:
        """The first empty slot from the home slot of hash ``h`` on."""
        mask = self.mask
        tab = self.tab
        s: i64 = h & mask
        while tab[2 * s + 1] != 0:
            s = (s + 1) & mask
        return s

    def _grow(self) -> None:
        """Four times the slots while small (fewer rehashes), then twice; the arena stays.

        A slot's tag holds the low 23 bits of its piece's hash: enough for the home slot
        in any table this cache grows to (``limit <= 2**22`` keeps it below 2**23 slots).
        """
        old = self.tab
        arena = self.arena
        used = self.used
        n: i64 = self.mask + 1
        self._reset(4 * n if n < _FAST_GROWTH else 2 * n)
        self.arena = arena
        self.used = used
        mask = self.mask
        tab = self.tab
        shift: i64 = 32
        k: i64 = 0
        while k < n:
            m = old[2 * k + 1]
            if m != 0:
                s: i64 = (m >> (shift + _SEVEN)) & mask
                while tab[2 * s + 1] != 0:
                    s = (s + 1) & mask
                tab[2 * s] = old[2 * k]
                tab[2 * s + 1] = m
            k += 1
