"""Compiled pair-rank table: the rank of two adjacent parts of a piece, by their ids.

During a merge every part is a token, so its id names its bytes. The rank of two
adjacent parts joined is ``ranks.get(bytes(left) + bytes(right))`` (tiktoken's
semantics: any concatenation that is a token). :class:`PairTable` answers that from
an open-addressing hash table keyed by the two ids in one native ``vec[i64]``
(see :class:`PairTable`), filled lazily: the first time a pair is seen the joined bytes are sliced
out of the piece and looked up in the rank dict (a miss is stored too), every later
time it costs one integer hash and usually one probe — no slice, no siphash.

The table is a cache: results never depend on it. It grows by doubling up to
``max_slots`` and is emptied when full. Where two tokens share an id (the id then
does not name the bytes), it is disabled and every lookup slices the piece.
"""

from __future__ import annotations

from typing import Final, final

from librt.vecs import vec
from mypy_extensions import i32, i64

from alignkit.bpe._filter import TokenFilter, TokenIndex
from alignkit.bpe._pieces import piece_hash, zeros_i64

#: "no token": above every rank, so a merge scan never picks it.
NO_RANK: Final = (1 << 30) - 1
#: the table holds ids below this (a key is two 20-bit ids); larger vocabularies slice.
MAX_ID: Final = 1 << 20
_VAL_BITS: Final = 21
_VAL_MASK: Final = (1 << 21) - 1  # also the stored value of "no token"
_MIN_SLOTS: Final = 1 << 14
_MAX_SLOTS: Final = 1 << 21  # 8 bytes a slot: at most 16 MiB
_FAST_GROWTH: Final = 1 << 16  # below this many slots the table grows fourfold (fewer rehashes)


@final
class PairTable:
    """Rank of the join of two tokens, cached by their ids.

    A slot is one ``i64``: ``(left << 20 | right) + 1`` shifted left by 21 bits, or'ed
    with the rank (``2**21 - 1`` for "no token"); 0 is an empty slot. One probe reads
    one word.

    Example:
        >>> ranks = {b"a": 0, b"b": 1, b"ab": 2}
        >>> table = PairTable(ranks, 2, True)
        >>> table.rank(0, 1, b"ab", 0, 2), table.rank(1, 0, b"ba", 0, 2)
        (2, 1073741823)
    """

    def __init__(
        self,
        ranks: dict[bytes, int],
        max_len: int,
        enabled: bool,
        max_slots: int = _MAX_SLOTS,
        token_filter: TokenFilter | None = None,
        index: TokenIndex | None = None,
    ) -> None:
        #: the tokens looked up in place (``index``), or the rank dict where none is given.
        self.index: TokenIndex = index if index is not None else TokenIndex([], ranks)
        #: skips the rank dict for bytes that are certainly no token (``data`` must then be padded).
        self.filter: TokenFilter | None = token_filter
        self.max_len: i64 = max_len
        #: False: every lookup slices the piece. The caller must pass False when ids do
        #: not name bytes (two tokens share an id) or do not all fit below ``MAX_ID - 1``.
        self.enabled: bool = enabled
        self.max_slots: i64 = max(max_slots, 16)
        slots: i64 = min(i64(_MIN_SLOTS), self.max_slots)
        self.mask: i64 = slots - 1
        self.tab: vec[i64] = zeros_i64(slots)
        self.used: i64 = 0

    def rank(self, left: i32, right: i32, data: bytes, a: i64, b: i64) -> i32:
        """Rank of ``data[a:b]``, the join of the parts with ids ``left`` and ``right``.

        Returns :data:`NO_RANK` when the join is not a token.
        """
        if b - a > self.max_len:
            return NO_RANK
        if not self.enabled:
            return self._lookup(data, a, b)
        twenty: i64 = 20
        bits: i64 = _VAL_BITS
        tag: i64 = ((i64(left) << twenty) | i64(right)) + 1
        h: i64 = i64(left) * 0x9E3779B1 + i64(right) * 0x85EBCA6B
        mask = self.mask
        s: i64 = (h ^ (h >> 29)) & mask
        tab = self.tab
        while True:
            e = tab[s]
            if e == 0:
                break
            if (e >> bits) == tag:
                v = e & _VAL_MASK
                if v == _VAL_MASK:
                    return NO_RANK
                return i32(v)
            s = (s + 1) & mask
        r = self._lookup(data, a, b)
        entry: i64 = (tag << bits) | _VAL_MASK
        if r != NO_RANK:
            entry = (tag << bits) | i64(r)
        if 4 * (self.used + 1) > 3 * (mask + 1):  # load <= 3/4
            self._grow()
            self._insert(entry, h)
        else:
            tab[s] = entry
        self.used += 1
        return r

    def _lookup(self, data: bytes, a: i64, b: i64) -> i32:
        f = self.filter
        index = self.index
        if f is None:
            if index.fallback is not None:
                r = index.fallback.get(data[a:b])
                return NO_RANK if r is None else i32(r)
            h = piece_hash(data, a, b - a)
        else:
            h = piece_hash(data, a, b - a)
            if not f.maybe_hash(h):
                return NO_RANK
        t = index.get(h, data, a, b - a)
        if t < 0:
            return NO_RANK
        return i32(t)

    def _insert(self, entry: i64, h: i64) -> None:
        mask = self.mask
        s: i64 = (h ^ (h >> 29)) & mask
        tab = self.tab
        while tab[s] != 0:
            s = (s + 1) & mask
        tab[s] = entry

    def _grow(self) -> None:
        """Grow the table (rehash; fourfold while small), or empty it when it is at ``max_slots``."""
        old = self.tab
        slots: i64 = self.mask + 1
        if slots >= self.max_slots:
            self.tab = zeros_i64(slots)
            self.used = 0
            return
        slots = min(4 * slots if slots < _FAST_GROWTH else 2 * slots, self.max_slots)
        self.mask = slots - 1
        self.tab = zeros_i64(slots)
        bits: i64 = _VAL_BITS
        twenty: i64 = 20
        k: i64 = 0
        n: i64 = len(old)
        while k < n:
            e = old[k]
            if e != 0:
                key = (e >> bits) - 1
                left = key >> twenty
                right = key & (MAX_ID - 1)
                self._insert(e, left * 0x9E3779B1 + right * 0x85EBCA6B)
            k += 1

    def clear(self) -> None:
        """Forget every cached pair."""
        self.tab = zeros_i64(self.mask + 1)
        self.used = 0
