"""Compiled BPE core: pre-tokenize with a compiled scanner, merge pieces, decode.

Interface (stable; the facade :mod:`alignkit.bpe.tokenizer` builds on it)::

    core = BPECore(ranks, pattern)       # ranks: token bytes -> id (id == merge priority)
    core.encode_ordinary(text) -> list[int]
    core.encode_bytes(utf8) -> list[int]
    core.encode_piece(piece: bytes) -> list[int]
    core.decode_bytes(ids) -> bytes

Semantics are tiktoken's: a piece that is itself a token gets that id; otherwise
the adjacent pair whose concatenation has the lowest rank is merged, leftmost
first on ties, until no pair is a token. Known split patterns
(:mod:`alignkit.bpe.patterns`) run a compiled scanner (:mod:`alignkit.bpe._scan`);
any other pattern falls back to the ``regex`` module.

Lone surrogates are not rejected: the text is encoded with ``surrogatepass`` and
a surrogate is one "other" character, as ``regex`` sees it. The facade replaces
them with U+FFFD before calling the core (as tiktoken does), so ids never carry them.
"""

from __future__ import annotations

from typing import Final, final

import regex

from alignkit.bpe._scan import KIND_REGEX, classify, next_end, pattern_kind

_NO_RANK: Final = 1 << 62
_CACHE_MAX: Final = 1 << 16  # entries; the cache is cleared when full
_CACHE_PIECE_MAX: Final = 48  # bytes; longer pieces are not cached
_HEAP_MIN: Final = 48  # bytes; pieces this long use the O(n log n) merge


def _missing(piece: bytes) -> KeyError:
    return KeyError(
        f"the bytes {piece!r} are not a token and cannot be merged from tokens: "
        "a byte-level vocabulary must contain all 256 single bytes"
    )


@final
class BPECore:
    """Byte-level BPE encoder/decoder over a rank table.

    Example:
        >>> ranks = {bytes([b]): b for b in range(256)}
        >>> ranks[b"he"], ranks[b"ll"], ranks[b"hell"] = 256, 257, 258
        >>> from alignkit.bpe.patterns import GPT2
        >>> core = BPECore(ranks, GPT2)
        >>> core.encode_ordinary("hello")
        [258, 111]
        >>> core.decode_bytes([258, 111])
        b'hello'
    """

    def __init__(self, ranks: dict[bytes, int], pattern: str) -> None:
        self.ranks: dict[bytes, int] = dict(ranks)
        self.pattern: str = pattern
        self.kind: int = pattern_kind(pattern)
        self.regex: regex.Pattern[str] | None = (
            regex.compile(pattern) if self.kind == KIND_REGEX else None
        )
        size = max(self.ranks.values()) + 1 if self.ranks else 0
        decoder: list[bytes | None] = [None] * size
        max_len = 0
        for token, rank in self.ranks.items():
            if rank < 0:
                raise ValueError(f"rank {rank} of token {token!r} is negative")
            decoder[rank] = token
            if len(token) > max_len:
                max_len = len(token)
        self.decoder: list[bytes | None] = decoder
        self.max_len: int = max_len
        byte_ids: list[int] = []
        for b in range(256):
            byte_ids.append(self.ranks.get(bytes([b]), -1))
        self.byte_ids: list[int] = byte_ids
        self.cache: dict[bytes, list[int]] = {}

    def clear_cache(self) -> None:
        """Drop the piece cache (results never depend on it; this only frees memory)."""
        self.cache = {}

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode text with no special-token handling.

        Example:
            >>> core = BPECore({bytes([b]): b for b in range(256)}, r"\\w+|\\W")
            >>> core.encode_ordinary("a b")
            [97, 32, 98]
        """
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            data = text.encode("utf-8", "surrogatepass")
        return self.encode_bytes(data)

    def encode_bytes(self, data: bytes) -> list[int]:
        """Encode UTF-8 bytes (as produced by ``str.encode``; no special tokens).

        Example:
            >>> from alignkit.bpe.patterns import O200K
            >>> BPECore({bytes([b]): b for b in range(256)}, O200K).encode_bytes(b"Hi")
            [72, 105]
        """
        kind = self.kind
        if kind == KIND_REGEX:
            return self._encode_regex(data)
        ranks = self.ranks
        cache = self.cache
        byte_ids = self.byte_ids
        cls = classify(data)
        n = len(data)
        out: list[int] = []
        i = 0
        while i < n:
            e = next_end(kind, data, cls, i)
            if e == i + 1:
                t = byte_ids[data[i]]
                if t < 0:
                    raise _missing(data[i:e])
                out.append(t)
            else:
                piece = data[i:e]
                r = ranks.get(piece, -1)
                if r >= 0:
                    out.append(r)
                else:
                    ids = cache.get(piece)
                    if ids is None:
                        ids = self._merge(piece)
                        if e - i <= _CACHE_PIECE_MAX:
                            if len(cache) >= _CACHE_MAX:
                                cache.clear()
                            cache[piece] = ids
                    out.extend(ids)
            i = e
        return out

    def _encode_regex(self, data: bytes) -> list[int]:
        compiled = self.regex
        assert compiled is not None
        text = data.decode("utf-8", "surrogatepass")
        out: list[int] = []
        for word in compiled.findall(text):
            out.extend(self.encode_piece(str(word).encode("utf-8", "surrogatepass")))
        return out

    def encode_piece(self, piece: bytes) -> list[int]:
        """Encode one pre-tokenized piece (no splitting).

        Example:
            >>> core = BPECore({b"a": 0, b"b": 1, b"ab": 2}, r".")
            >>> core.encode_piece(b"abab"), core.encode_piece(b"ba")
            ([2, 2], [1, 0])
        """
        r = self.ranks.get(piece, -1)
        if r >= 0:
            return [r]
        if len(piece) == 0:
            return []
        return self._merge(piece)

    def _rank(self, piece: bytes, a: int, b: int) -> int:
        if b - a > self.max_len:
            return _NO_RANK
        return self.ranks.get(piece[a:b], _NO_RANK)

    def _merge(self, piece: bytes) -> list[int]:
        if len(piece) >= _HEAP_MIN:
            return self._merge_long(piece)
        return self._merge_short(piece)

    def _tokens(self, piece: bytes, starts: list[int]) -> list[int]:
        ranks = self.ranks
        out: list[int] = []
        for k in range(len(starts) - 1):
            part = piece[starts[k] : starts[k + 1]]
            r = ranks.get(part, -1)
            if r < 0:
                raise _missing(part)
            out.append(r)
        return out

    def _merge_short(self, piece: bytes) -> list[int]:
        """Quadratic merge for short pieces: rescan the pair ranks after each merge.

        ``starts`` are part boundaries; ``pair[k]`` is the rank of parts k and k+1 joined.
        """
        n = len(piece)
        starts: list[int] = list(range(n + 1))
        pair: list[int] = []
        for k in range(n - 1):
            pair.append(self.ranks.get(piece[k : k + 2], _NO_RANK))
        while True:
            best = _NO_RANK
            at = -1
            for k in range(len(pair)):
                if pair[k] < best:
                    best = pair[k]
                    at = k
            if at < 0:
                break
            del starts[at + 1]
            del pair[at]
            if at > 0:
                pair[at - 1] = self._rank(piece, starts[at - 1], starts[at + 1])
            if at < len(pair):
                pair[at] = self._rank(piece, starts[at], starts[at + 2])
        return self._tokens(piece, starts)

    def _merge_long(self, piece: bytes) -> list[int]:
        """O(n log n) merge: parts in a linked list, candidate pairs in a binary heap.

        Heap entries are ``rank * (n + 1) + start``, so the smallest entry is the
        lowest rank and, among equal ranks, the leftmost pair, as in the short merge.
        Entries whose pair has changed since they were pushed are skipped.
        """
        n = len(piece)
        width = n + 1
        nxt: list[int] = list(range(1, n + 2))
        prv: list[int] = list(range(-1, n))
        pair: list[int] = [_NO_RANK] * width  # rank of the part at i joined with the next
        heap: list[int] = []
        for i in range(n - 1):
            r = self.ranks.get(piece[i : i + 2], _NO_RANK)
            pair[i] = r
            if r != _NO_RANK:
                _push(heap, r * width + i)
        while len(heap) > 0:
            top = _pop(heap)
            r = top // width
            i = top - r * width
            if pair[i] != r:
                continue  # stale: the part at i changed, or i was absorbed (pair == _NO_RANK)
            j = nxt[i]
            k = nxt[j]
            nxt[i] = k
            if k <= n:
                prv[k] = i
            pair[j] = _NO_RANK
            r2 = _NO_RANK
            if k < n:
                r2 = self._rank(piece, i, nxt[k])
            pair[i] = r2
            if r2 != _NO_RANK:
                _push(heap, r2 * width + i)
            p = prv[i]
            if p >= 0:
                r3 = self._rank(piece, p, k)
                pair[p] = r3
                if r3 != _NO_RANK:
                    _push(heap, r3 * width + p)
        starts: list[int] = []
        i = 0
        while i < n:
            starts.append(i)
            i = nxt[i]
        starts.append(n)
        return self._tokens(piece, starts)

    def decode_bytes(self, ids: list[int]) -> bytes:
        """Concatenate the bytes of ``ids``; raise ``KeyError`` naming the first unknown id.

        Example:
            >>> BPECore({b"a": 0, b"b": 1}, r".").decode_bytes([0, 1, 0])
            b'aba'
        """
        decoder = self.decoder
        size = len(decoder)
        parts: list[bytes] = []
        for i in ids:
            t = decoder[i] if 0 <= i < size else None
            if t is None:
                raise KeyError(f"token id {i} is not in this vocabulary (ids are 0..{size - 1})")
            parts.append(t)
        return b"".join(parts)

def _push(heap: list[int], item: int) -> None:
    heap.append(item)
    k = len(heap) - 1
    while k > 0:
        parent = (k - 1) >> 1
        v = heap[parent]
        if v <= item:
            break
        heap[k] = v
        k = parent
    heap[k] = item


def _pop(heap: list[int]) -> int:
    top = heap[0]
    last = heap.pop()
    size = len(heap)
    if size == 0:
        return top
    k = 0
    while True:
        child = 2 * k + 1
        if child >= size:
            break
        if child + 1 < size and heap[child + 1] < heap[child]:
            child += 1
        v = heap[child]
        if v >= last:
            break
        heap[k] = v
        k = child
    heap[k] = last
    return top
