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

from heapq import heappop, heappush
from typing import Final, cast, final

import regex

from alignkit.bpe._scan import KIND_REGEX, classify, next_end, pattern_kind

_NO_RANK: Final = (1 << 30) - 1  # above every rank; one PyLong digit (unboxed inline by mypyc)
_NO: Final[object] = _NO_RANK  # the same, boxed once
_CACHE_MAX: Final = 1 << 18  # piece-cache entries; the cache is emptied when full
_CACHE_PIECE_MAX: Final = 64  # bytes; longer pieces bypass the cache
_HEAP_MIN: Final = 48  # bytes; pieces this long use the O(n log n) merge
_DECODE_CHUNK: Final = 512  # ids joined at a time (keeps join's buffer table in cache)

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

    def __init__(self, ranks: dict[bytes, int], pattern: str, cache_size: int = _CACHE_MAX) -> None:
        self.ranks: dict[bytes, int] = dict(ranks)
        #: most pieces the cache holds before it is emptied (0 disables it).
        self.cache_size: int = cache_size
        self.pattern: str = pattern
        self.kind: int = pattern_kind(pattern)
        self.regex: regex.Pattern[str] | None = (
            regex.compile(pattern) if self.kind == KIND_REGEX else None
        )
        size = max(self.ranks.values()) + 1 if self.ranks else 0
        decoder: list[bytes] = [b""] * size  # b"": no token has this id
        pair2: list[int] = [_NO_RANK] * 65536
        max_len = 0
        for token, rank in self.ranks.items():
            if rank < 0 or len(token) == 0 or rank >= _NO_RANK:
                raise ValueError(
                    f"token {token!r} has rank {rank}: need non-empty bytes, 0 <= rank < {_NO_RANK}"
                )
            decoder[rank] = token
            if len(token) > max_len:
                max_len = len(token)
            if len(token) == 2:
                pair2[(token[0] << 8) | token[1]] = rank
        #: token bytes of each id (b"" where no token has the id).
        self.decoder: list[bytes] = decoder
        #: the same with None for b"" (``bytes.join`` rejects it: no per-id check in decode).
        self.decode_table: list[bytes | None] = [t if len(t) > 0 else None for t in decoder]
        self.max_len: int = max_len
        #: rank of each two-byte token, indexed by ``(b0 << 8) | b1``.
        self.pair2: list[int] = pair2
        pair2_obj: list[object] = [_NO] * 65536
        for k in range(65536):
            if pair2[k] != _NO_RANK:
                pair2_obj[k] = self.ranks.get(decoder[pair2[k]])
        #: the same, holding the rank table's int objects (no boxing in the merge loop).
        self.pair2_obj: list[object] = pair2_obj
        byte_ids: list[object] = []
        for b in range(256):
            byte_ids.append(self.ranks.get(bytes([b])))
        #: id object of each single byte (None when the byte is not a token).
        self.byte_ids: list[object] = byte_ids
        # Piece cache: piece bytes -> its id (the int object, appended without
        # re-boxing) or, for a piece of several tokens, the tuple of ids.
        self.cache: dict[bytes, object] = {}
        # Scratch lists of the short merge (see _merge_short).
        self.busy: bool = False
        self.m_ids: list[object] = [_NO] * _HEAP_MIN
        self.m_pair: list[object] = [_NO] * _HEAP_MIN
        self.m_nxt: list[int] = [0] * _HEAP_MIN
        self.m_prv: list[int] = [0] * _HEAP_MIN

    def clear_cache(self) -> None:
        """Empty the piece cache (results never depend on it; this only frees memory)."""
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
        if self.kind == KIND_REGEX:
            return self._encode_regex(data)
        return self._encode_scan(data)

    def _encode_scan(self, data: bytes) -> list[int]:
        """:meth:`encode_bytes` for a pattern with a compiled scanner."""
        kind = self.kind
        byte_ids = self.byte_ids
        cache = self.cache
        cls = classify(data)
        n = len(data)
        out: list[object] = []
        i = 0
        while i < n:
            e = next_end(kind, data, cls, i)
            if e == i + 1:
                t = byte_ids[data[i]]
                if t is None:
                    raise _missing(data[i:e])
                out.append(t)
                i = e
                continue
            piece = data[i:e]
            v = cache.get(piece)
            if v is None:
                v = self._lookup(piece)
                if isinstance(v, list):
                    v = tuple(v)  # the GC untracks a tuple of ints: it never rescans the cache
                if e - i <= _CACHE_PIECE_MAX:
                    if len(cache) >= self.cache_size:
                        cache.clear()
                    if self.cache_size > 0:
                        cache[piece] = v
            if isinstance(v, tuple):
                out.extend(v)
            else:
                out.append(v)
            i = e
        return cast("list[int]", out)

    def _lookup(self, piece: bytes) -> object:
        """The piece's id object if it is one token, else the list of its ids."""
        r = self.ranks.get(piece)
        if r is not None:
            return r
        return self._merge(piece)

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
        r = self.ranks.get(piece[a:b])  # no default: boxing _NO_RANK would allocate
        return _NO_RANK if r is None else r

    def _merge(self, piece: bytes) -> list[int]:
        if len(piece) >= _HEAP_MIN:
            return self._merge_long(piece)
        return self._merge_short(piece)

    def _start(self, piece: bytes, ids: list[int], pair: list[int]) -> None:
        """Fill the single-byte ids of ``piece`` and the ranks of its byte pairs."""
        byte_ids = self.byte_ids
        pair2 = self.pair2
        n = len(piece)
        for k in range(n):
            t = byte_ids[piece[k]]
            if t is None:
                raise _missing(piece[k : k + 1])
            ids.append(cast(int, t))
        for k in range(n - 1):
            pair[k] = pair2[(piece[k] << 8) | piece[k + 1]]

    def _merge_short(self, piece: bytes) -> list[int]:
        """Merge a short piece in the core's scratch lists (fresh ones if they are in use).

        The scratch lists save allocating four lists per first-seen piece (and the
        garbage collections they trigger). ``busy`` guards them against re-entry:
        compiled code only lets another thread in through a finalizer run by the GC.
        """
        if self.busy:
            return self._merge_in(
                piece, [_NO] * _HEAP_MIN, [_NO] * _HEAP_MIN, [0] * _HEAP_MIN, [0] * _HEAP_MIN
            )
        self.busy = True
        try:
            return self._merge_in(piece, self.m_ids, self.m_pair, self.m_nxt, self.m_prv)
        finally:
            self.busy = False

    def _merge_in(
        self, piece: bytes, ids: list[object], pair: list[object], nxt: list[int], prv: list[int]
    ) -> list[int]:
        """Merge a short piece: a linear scan for the best pair after each merge.

        ``pair[i]`` is the rank of the part starting at byte ``i`` joined with the next
        part (``_NO`` where no part starts or no join is a token); ``nxt``/``prv`` link
        the parts. Ranks and ids are kept as the rank table's own int objects, so no
        int is boxed in the loop; the rank of a merged pair is its id (rank == id).
        The four lists hold at least ``len(piece)`` items; their contents are overwritten.
        """
        n = len(piece)
        byte_ids = self.byte_ids
        pair2 = self.pair2_obj
        for k in range(n):
            t = byte_ids[piece[k]]
            if t is None:
                raise _missing(piece[k : k + 1])
            ids[k] = t
            pair[k] = pair2[(piece[k] << 8) | piece[k + 1]] if k + 1 < n else _NO
            nxt[k] = k + 1
            prv[k] = k - 1
        last = n - 1
        while True:
            best = _NO_RANK
            at = -1
            for k in range(last):
                r = cast(int, pair[k])
                if r < best:
                    best = r
                    at = k
            if at < 0:
                break
            j = nxt[at]
            k = nxt[j]
            nxt[at] = k
            if k < n:
                prv[k] = at
            ids[at] = pair[at]
            pair[j] = _NO
            pair[at] = self._rank_obj(piece, at, nxt[k]) if k < n else _NO
            p = prv[at]
            if p >= 0:
                pair[p] = self._rank_obj(piece, p, k)
        out: list[object] = []
        i = 0
        while i < n:
            out.append(ids[i])
            i = nxt[i]
        return cast("list[int]", out)

    def _rank_obj(self, piece: bytes, a: int, b: int) -> object:
        """Like :meth:`_rank`, but the rank table's int object (or ``_NO``)."""
        if b - a > self.max_len:
            return _NO
        r = self.ranks.get(piece[a:b])
        return _NO if r is None else r

    def _join(
        self,
        piece: bytes,
        i: int,
        rank: int,
        ids: list[int],
        pair: list[int],
        nxt: list[int],
        prv: list[int],
    ) -> int:
        """Merge the part at ``i`` with the next one; return the start of the part before."""
        n = len(piece)
        j = nxt[i]
        k = nxt[j]
        nxt[i] = k
        if k < n:
            prv[k] = i
        ids[i] = rank
        pair[j] = _NO_RANK
        pair[i] = self._rank(piece, i, nxt[k]) if k < n else _NO_RANK
        p = prv[i]
        if p >= 0:
            pair[p] = self._rank(piece, p, k)
        return p

    def _merge_long(self, piece: bytes) -> list[int]:
        """O(n log n) merge for long pieces: the same linked list, candidates in a heap.

        Heap entries are ``rank * (n + 1) + start``: the smallest entry is the lowest
        rank and, among equal ranks, the leftmost pair, as in the short merge. An
        entry whose pair has changed since it was pushed is skipped when popped.
        """
        n = len(piece)
        width = n + 1
        ids: list[int] = []
        pair: list[int] = [_NO_RANK] * n
        self._start(piece, ids, pair)
        nxt: list[int] = list(range(1, n + 1))
        prv: list[int] = list(range(-1, n - 1))
        heap: list[int] = []
        for i in range(n - 1):
            if pair[i] != _NO_RANK:
                heappush(heap, pair[i] * width + i)
        while len(heap) > 0:
            top = heappop(heap)
            r = top // width
            i = top - r * width
            if pair[i] != r:
                continue
            p = self._join(piece, i, r, ids, pair, nxt, prv)
            if pair[i] != _NO_RANK:
                heappush(heap, pair[i] * width + i)
            if p >= 0 and pair[p] != _NO_RANK:
                heappush(heap, pair[p] * width + p)
        return _collect(ids, nxt, n)

    def decode_bytes(self, ids: list[int]) -> bytes:
        """Concatenate the bytes of ``ids``; raise ``KeyError`` naming the first unknown id.

        The loop checks only the sign of each id: an id past the table raises
        ``IndexError`` and an id with no token (``None`` in ``decode_table``) makes
        ``join`` raise ``TypeError``; both re-run :meth:`_decode_checked` for the message.

        Example:
            >>> BPECore({b"a": 0, b"b": 1}, r".").decode_bytes([0, 1, 0])
            b'aba'
        """
        table = self.decode_table
        n = len(ids)
        parts: list[bytes] = []
        chunk: list[bytes | None] = [None] * _DECODE_CHUNK
        try:
            k = 0
            while k < n:
                m = n - k
                if m > _DECODE_CHUNK:
                    m = _DECODE_CHUNK
                j = 0
                while j < m:
                    i = ids[k + j]
                    if i < 0:
                        raise IndexError(i)
                    chunk[j] = table[i]
                    j += 1
                parts.append(b"".join(chunk if m == _DECODE_CHUNK else chunk[:m]))  # type: ignore[arg-type]
                k += m
        except (IndexError, TypeError):
            return self._decode_checked(ids)
        return b"".join(parts)

    def _decode_checked(self, ids: list[int]) -> bytes:
        """Slow :meth:`decode_bytes` that checks each id (raises ``KeyError`` for the first bad one)."""
        decoder = self.decoder
        size = len(decoder)
        parts: list[bytes] = []
        for i in ids:
            t = decoder[i] if 0 <= i < size else b""
            if len(t) == 0:
                raise KeyError(f"token id {i} is not in this vocabulary (ids are 0..{size - 1})")
            parts.append(t)
        return b"".join(parts)

def _collect(ids: list[int], nxt: list[int], n: int) -> list[int]:
    out: list[int] = []
    i = 0
    while i < n:
        out.append(ids[i])
        i = nxt[i]
    return out
