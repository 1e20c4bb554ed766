"""Compiled pair-rank table: the rank of two adjacent parts of a piece, by their ids.

During a merge every part is a token, so its id names its bytes. The rank of two
adjacent parts joined is ``ranks.get(bytes(left) + bytes(right))`` (tiktoken's
semantics: any concatenation that is a token). :class:`PairTable` answers that from
an open-addressing hash table keyed by ``left << 32 | right`` in native ``vec``
buffers, filled lazily: the first time a pair is seen the joined bytes are sliced
out of the piece and looked up in the rank dict (a miss is stored too), every later
time it costs one integer hash and usually one probe — no slice, no siphash.

The table is a cache: results never depend on it. It grows by doubling up to
``max_slots`` and is emptied when full. Where two tokens share an id (the id then
does not name the bytes), it is disabled and every lookup slices the piece.
"""

from __future__ import annotations

from typing import Final, final

from librt.vecs import append, vec
from mypy_extensions import i32, i64

#: "no token": above every rank, so a merge scan never picks it.
NO_RANK: Final = (1 << 30) - 1
_MIN_SLOTS: Final = 1 << 14
_MAX_SLOTS: Final = 1 << 20  # 12 bytes a slot: at most 12 MiB


def _filled64(n: i64, x: i64) -> vec[i64]:
    v = vec[i64](capacity=n)
    k: i64 = 0
    while k < n:
        v = append(v, x)
        k += 1
    return v


def _filled32(n: i64, x: i32) -> vec[i32]:
    v = vec[i32](capacity=n)
    k: i64 = 0
    while k < n:
        v = append(v, x)
        k += 1
    return v


@final
class PairTable:
    """Rank of the join of two tokens, cached by their ids.

    Example:
        >>> ranks = {b"a": 0, b"b": 1, b"ab": 2}
        >>> table = PairTable(ranks, 2, True)
        >>> table.rank(0, 1, b"ab", 0, 2), table.rank(1, 0, b"ba", 0, 2)
        (2, 1073741823)
    """

    def __init__(self, ranks: dict[bytes, int], max_len: int, enabled: bool, max_slots: int = _MAX_SLOTS) -> None:
        self.ranks: dict[bytes, int] = ranks
        self.max_len: i64 = max_len
        #: False when ids do not name bytes (two tokens share an id): always slice.
        self.enabled: bool = enabled
        self.max_slots: i64 = max(max_slots, 16)
        slots: i64 = min(i64(_MIN_SLOTS), self.max_slots)
        self.mask: i64 = slots - 1
        self.keys: vec[i64] = _filled64(slots, -1)
        self.vals: vec[i32] = _filled32(slots, 0)
        self.used: i64 = 0

    def rank(self, left: i32, right: i32, data: bytes, a: i64, b: i64) -> i32:
        """Rank of ``data[a:b]``, the join of the parts with ids ``left`` and ``right``.

        Returns :data:`NO_RANK` when the join is not a token.
        """
        if b - a > self.max_len:
            return NO_RANK
        if not self.enabled:
            return self._lookup(data, a, b)
        key: i64 = (i64(left) << 32) | i64(right)
        h: i64 = i64(left) * 0x9E3779B1 + i64(right) * 0x85EBCA6B
        mask = self.mask
        s: i64 = (h ^ (h >> 29)) & mask
        keys = self.keys
        while True:
            k = keys[s]
            if k == key:
                return self.vals[s]
            if k < 0:
                break
            s = (s + 1) & mask
        r = self._lookup(data, a, b)
        if 2 * (self.used + 1) > mask + 1:
            self._grow()
            self._insert(key, h, r)
        else:
            keys[s] = key
            self.vals[s] = r
        self.used += 1
        return r

    def _lookup(self, data: bytes, a: i64, b: i64) -> i32:
        r = self.ranks.get(data[a:b])
        return NO_RANK if r is None else i32(r)

    def _insert(self, key: i64, h: i64, r: i32) -> None:
        mask = self.mask
        s: i64 = (h ^ (h >> 29)) & mask
        keys = self.keys
        while keys[s] >= 0:
            s = (s + 1) & mask
        keys[s] = key
        self.vals[s] = r

    def _grow(self) -> None:
        """Double the table (rehash), or empty it when it is at ``max_slots``."""
        old_keys = self.keys
        old_vals = self.vals
        slots: i64 = self.mask + 1
        if slots >= self.max_slots:
            self.keys = _filled64(slots, -1)
            self.used = 0
            return
        slots *= 2
        self.mask = slots - 1
        self.keys = _filled64(slots, -1)
        self.vals = _filled32(slots, 0)
        k: i64 = 0
        n: i64 = len(old_keys)
        while k < n:
            key = old_keys[k]
            if key >= 0:
                left = key >> 32
                right = key & 0xFFFFFFFF
                self._insert(key, left * 0x9E3779B1 + right * 0x85EBCA6B, old_vals[k])
            k += 1

    def clear(self) -> None:
        """Forget every cached pair."""
        self.keys = _filled64(self.mask + 1, -1)
        self.used = 0
