"""Compiled BPE core: pre-tokenize with a compiled scanner, merge pieces, decode.

Interface (stable; the facade :mod:`alignkit.bpe.tokenizer` builds on it)::

    core = BPECore(ranks, pattern)       # ranks: token bytes -> id (id == merge priority)
    core.encode_ordinary(text) -> list[int]
    core.encode_bytes(utf8) -> list[int]
    core.encode_bytes_into(utf8, out: vec[i32]) -> vec[i32]   # native ids, no list
    core.encode_piece(piece: bytes) -> list[int]
    core.decode_bytes(ids) -> bytes

Semantics are tiktoken's: a piece that is itself a token gets that id; otherwise
the adjacent pair whose concatenation has the lowest rank is merged, leftmost
first on ties, until no pair is a token. Known split patterns
(:mod:`alignkit.bpe.patterns`) run a compiled scanner (:mod:`alignkit.bpe._scan`);
any other pattern falls back to the ``regex`` module.

Everything hot runs on mypyc's native ``librt`` containers: the merge state lives in
``vec[i32]`` scratch buffers, the rank of two joined parts comes from a pair table keyed
by their ids (:mod:`alignkit.bpe._pairs`), short pieces are cached by their bytes read
as two words (:mod:`alignkit.bpe._pieces`), and decode writes into a ``BytesWriter``
(:mod:`alignkit.bpe._decode`).

Lone surrogates are not rejected: the text is encoded with ``surrogatepass`` and
a surrogate is one "other" character, as ``regex`` sees it. The facade replaces
them with U+FFFD before calling the core (as tiktoken does), so ids never carry them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, cast, final

from librt.vecs import append, vec
from mypy_extensions import i32, i64

from alignkit.bpe._decode import TokenDecoder
from alignkit.bpe._filter import TokenFilter, TokenIndex
from alignkit.bpe._pairs import MAX_ID, NO_RANK, PairTable
from alignkit.bpe._pieces import (
    MAX_PIECE,
    PAD,
    PieceCache,
    piece_hash,
    zeros_i32,
    zeros_i64,
)
from alignkit.bpe._scan import KIND_REGEX, classify, pattern_kind, piece_end

if TYPE_CHECKING:  # imported when a pattern needs it (no compiled scanner): most loads never do
    import regex

_CACHE_MAX: Final = 1 << 18  # piece-cache entries; the cache is emptied when full
_HEAP_MIN: Final = 48  # bytes; pieces this long use the O(n log n) merge
_NO_KEY: Final[i64] = NO_RANK * 64  # scan key of "no token": rank << 6 | position
_IN_PLACE_MIN: Final = 1 << 16  # bytes; a shorter text is copied with padding, a longer one read in place


def _missing(piece: bytes) -> KeyError:
    return KeyError(
        f"the bytes {piece!r} are not a token and cannot be merged from tokens: "
        "a byte-level vocabulary must contain all 256 single bytes"
    )


def _sift_down(heap: vec[i64], x: i64, pos: i64, size: i64) -> None:
    """Put ``x`` at ``pos`` of the min-heap ``heap[:size]`` and move it down to its place.

    Example:
        >>> from librt.vecs import vec
        >>> from mypy_extensions import i64
        >>> heap = vec[i64]([9, 2, 3])
        >>> _sift_down(heap, 9, 0, 3)
        >>> list(heap)
        [2, 9, 3]
    """
    child: i64 = 2 * pos + 1
    while child < size:
        c: i64 = heap[child]
        right: i64 = child + 1
        if right < size:
            d: i64 = heap[right]
            if d < c:
                c = d
                child = right
        if c >= x:
            break
        heap[pos] = c
        pos = child
        child = 2 * pos + 1
    heap[pos] = x


def _sift_up(heap: vec[i64], x: i64, pos: i64) -> None:
    """Put ``x`` at ``pos`` (the end) of the min-heap ``heap[:pos]`` and move it up to its place.

    Example:
        >>> from librt.vecs import vec
        >>> from mypy_extensions import i64
        >>> heap = vec[i64]([2, 5, 0])
        >>> _sift_up(heap, 1, 2)
        >>> list(heap)
        [1, 5, 2]
    """
    while pos > 0:
        parent: i64 = (pos - 1) >> 1
        p: i64 = heap[parent]
        if p <= x:
            break
        heap[pos] = p
        pos = parent
    heap[pos] = x


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

    def __init__(
        self,
        ranks: dict[bytes, int],
        pattern: str,
        cache_size: int = _CACHE_MAX,
        owned: bool = False,
        tokens: list[bytes] | None = None,
        ids: list[int] | None = None,
    ) -> None:
        #: token bytes -> rank (a copy of ``ranks``, or ``ranks`` itself when ``owned``: the
        #: caller hands it over and never changes it); ``None`` until first asked for when the
        #: core was made from ``tokens`` (see :attr:`ranks`). ``ids``, given with ``tokens``,
        #: must be ``0, 1, ..., n - 1`` (a list the caller has already: kept as :attr:`id_objs`).
        self._ranks: dict[bytes, int] | None = None
        if tokens is None:
            self._ranks = ranks if owned else dict(ranks)
        #: most pieces the cache holds before it is emptied (0 disables it).
        self.cache_size: int = cache_size
        self.pattern: str = pattern
        self.kind: int = pattern_kind(pattern)
        self.regex: regex.Pattern[str] | None = None
        if self.kind == KIND_REGEX:
            import regex

            self.regex = regex.compile(pattern)
        pair2 = zeros_i32(65536)
        max_len = 0
        for k in range(65536):
            pair2[k] = NO_RANK
        in_order = True  # ranks 0, 1, 2, ... in the dict's order (tiktoken files): the lists are the tables
        values: list[int]
        if tokens is None:  # two C-level copies, then a loop over lists (no dict walk)
            table = self.ranks
            tokens = list(table)
            values = list(table.values())
        elif ids is None:  # the tokens of ids 0..n-1: no dict at all until one is asked for
            values = list(range(len(tokens)))
        elif len(ids) != len(tokens):
            raise ValueError(f"{len(tokens)} tokens but {len(ids)} ids")
        else:
            values = ids
        at: i64 = 0
        for token, rank in zip(tokens, values):  # (compiled: both lists read in place)
            size = len(token)
            if rank < 0 or size == 0 or rank >= NO_RANK:
                raise ValueError(
                    f"token {token!r} has rank {rank}: need non-empty bytes, 0 <= rank < {NO_RANK}"
                )
            if rank != at:
                in_order = False
            if size > max_len:
                max_len = size
            if size == 2:
                pair2[(token[0] << 8) | token[1]] = rank
            at += 1
        if not in_order and self._ranks is None:
            raise ValueError("the ids given with tokens must be 0, 1, ..., n - 1")
        unique = True
        if in_order:
            decoder: list[bytes] = tokens
            id_objs: list[object] = cast("list[object]", values)
        else:  # gaps, another order, or two tokens with one id
            decoder = [b""] * (max(values) + 1)  # b"": no token has this id
            id_objs = [None] * len(decoder)
            for token, rank in self.ranks.items():
                if len(decoder[rank]) > 0:
                    unique = False
                decoder[rank] = token
                id_objs[rank] = rank
        token_filter = TokenFilter(len(tokens))
        if unique:  # ids name bytes: the index compares in place
            index = TokenIndex(decoder)
            twice = index.add_tokens(token_filter)
            if twice >= 0:
                raise ValueError(f"token {decoder[twice]!r} is in the table twice (id {twice} and an earlier id)")
        else:
            index = TokenIndex([], self.ranks)
            for token in tokens:
                token_filter.add(token)
        #: id of a byte string by its hash, tokens compared in place (see :mod:`alignkit.bpe._filter`).
        self.index: TokenIndex = index
        #: token bytes of each id (b"" where no token has the id).
        self.decoder: list[bytes] = decoder
        #: the rank table's own int object of each id (ids are appended without boxing).
        self.id_objs: list[object] = id_objs
        #: the decoder of these tokens (:mod:`alignkit.bpe._decode`), built on first decode.
        self.token_decoder: TokenDecoder | None = None
        self.max_len: int = max_len
        #: rank of each two-byte token, indexed by ``(b0 << 8) | b1``.
        self.pair2: vec[i32] = pair2
        byte_id = zeros_i32(256)
        for b in range(256):
            byte_id[b] = i32(index.find(bytes([b]) + PAD, 0, 1))
        #: id of each single byte (-1 when the byte is not a token).
        self.byte_id: vec[i32] = byte_id
        #: "certainly not a token" for byte strings, from their hash (see :mod:`alignkit.bpe._filter`).
        self.filter: TokenFilter = token_filter
        #: rank of two joined parts by their ids (see :mod:`alignkit.bpe._pairs`).
        self.pairs: PairTable = PairTable(
            {}, max_len, unique and len(decoder) < MAX_ID - 1, token_filter=token_filter, index=index
        )
        #: ids of pieces of 2..64 bytes (see :mod:`alignkit.bpe._pieces`); longer ones are not cached.
        self.pieces: PieceCache = PieceCache(cache_size)
        # Scratch buffers of the short merge (see _merge_short).
        self.busy: bool = False
        self.m_ids: vec[i32] = zeros_i32(_HEAP_MIN)
        self.m_pair: vec[i32] = zeros_i32(_HEAP_MIN)
        self.m_nxt: vec[i32] = zeros_i32(_HEAP_MIN)
        self.m_prv: vec[i32] = zeros_i32(_HEAP_MIN)

    @property
    def ranks(self) -> dict[bytes, int]:
        """token bytes -> rank (made from the token list on first use when the core was made
        from ``tokens``: encoding never needs it)."""
        table = self._ranks
        if table is None:
            table = dict(zip(self.decoder, cast("list[int]", self.id_objs)))
            self._ranks = table
        return table

    def clear_cache(self) -> None:
        """Empty the caches (results never depend on them; this only frees memory)."""
        self.pieces.clear()
        self.pairs.clear()

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
        return self.to_list(self.encode_bytes_into(data, vec[i32]()))

    def encode_bytes_into(self, data: bytes, out: vec[i32]) -> vec[i32]:
        """Append the ids of UTF-8 ``data`` to the native vector ``out``; return it.

        ``vec`` is mypyc's native growable array (``librt.vecs``); ``append`` may
        reallocate, so always use the returned vector. It exposes the buffer protocol:
        ``numpy.frombuffer(memoryview(v), dtype=numpy.int32)`` is a zero-copy view
        (keep ``v`` alive while the view is used).

        Example:
            >>> from librt.vecs import vec
            >>> from mypy_extensions import i32
            >>> core = BPECore({bytes([b]): b for b in range(256)}, r"\\w+|\\W")
            >>> list(core.encode_bytes_into(b"a b", vec[i32]([1])))
            [1, 97, 32, 98]
        """
        if self.kind == KIND_REGEX:
            return self._encode_regex(data, out)
        return self._encode_scan(data, out)

    def to_list(self, ids: vec[i32]) -> list[int]:
        """The ids of a native vector as a list (made of the rank table's int objects).

        Example:
            >>> from librt.vecs import vec
            >>> from mypy_extensions import i32
            >>> BPECore({b"a": 0, b"b": 1}, r".").to_list(vec[i32]([1, 0]))
            [1, 0]
        """
        objs = self.id_objs
        n: i64 = len(ids)
        out: list[object] = [None] * n
        k: i64 = 0
        while k < n:
            out[k] = objs[ids[k]]
            k += 1
        return cast("list[int]", out)

    def _encode_scan(self, data: bytes, out: vec[i32]) -> vec[i32]:
        """:meth:`encode_bytes_into` for a pattern with a compiled scanner."""
        kind: i64 = self.kind
        byte_id = self.byte_id
        pieces = self.pieces
        caching = self.cache_size > 0
        cls = classify(data)
        n: i64 = len(data)
        # Merging reads whole words, up to 7 bytes past a piece's end. A short text gets a
        # padded copy; a long one is read in place (no copy of megabytes), except pieces that
        # end in its last 8 bytes, each merged from a padded copy of its own.
        padded = data
        safe: i64 = n - 8
        if n < _IN_PLACE_MIN:
            padded = data + PAD
            safe = n
        i: i64 = 0
        while i < n:
            e: i64 = piece_end(kind, data, cls, i, n)
            length = e - i
            if length == 1:
                t = byte_id[data[i]]
                if t < 0:
                    raise _missing(data[i:e])
                out = append(out, t)
            elif e > safe:
                out = self._piece_into(data[i:e] + PAD, 0, length, out)
            elif length <= MAX_PIECE and caching:
                s = pieces.find(padded, i, length)
                if s >= 0:
                    v = pieces.value(s)
                    if v >= 0:
                        out = append(out, v)
                    else:
                        out = pieces.emit(s, out)
                else:  # first seen: merge it; its hash and free slot come from find
                    h = pieces.hash
                    start: i64 = len(out)
                    if length <= self.max_len and self.filter.maybe_hash(h):
                        r = self.index.get(h, padded, i, length)
                        if r >= 0:
                            out = append(out, i32(r))
                        else:
                            out = self._merge(padded, i, e, out)
                    else:
                        out = self._merge(padded, i, e, out)
                    pieces.store_at(s, h, padded, i, length, out, start)
            else:
                out = self._piece_into(padded, i, e, out)
            i = e
        return out

    def _piece_into(self, data: bytes, a: i64, b: i64, out: vec[i32]) -> vec[i32]:
        """Append the ids of the piece ``data[a:b]`` (one token, or merged).

        ``data`` must have at least 8 bytes after ``b`` (``+ PAD``): the token filter
        and the pair table read whole words.
        """
        if b - a <= self.max_len:
            h = piece_hash(data, a, b - a)
            if b - a < 2 or self.filter.maybe_hash(h):
                r = self.index.get(h, data, a, b - a)
                if r >= 0:
                    return append(out, i32(r))
        return self._merge(data, a, b, out)

    def _merge(self, data: bytes, a: i64, b: i64, out: vec[i32]) -> vec[i32]:
        """Append the ids of the piece ``data[a:b]`` (two bytes or more) merged from its bytes."""
        if b - a >= _HEAP_MIN:
            return self._merge_long(data, a, b, out)
        return self._merge_short(data, a, b, out)

    def _encode_regex(self, data: bytes, out: vec[i32]) -> vec[i32]:
        compiled = self.regex
        assert compiled is not None
        text = data.decode("utf-8", "surrogatepass")
        for word in compiled.findall(text):
            piece = str(word).encode("utf-8", "surrogatepass")
            if len(piece) > 0:
                out = self._piece_into(piece + PAD, 0, len(piece), out)
        return out

    def encode_piece(self, piece: bytes) -> list[int]:
        """Encode one pre-tokenized piece (no splitting).

        Example:
            >>> core = BPECore({b"a": 0, b"b": 1, b"ab": 2}, r".")
            >>> core.encode_piece(b"abab"), core.encode_piece(b"ba")
            ([2, 2], [1, 0])
        """
        if len(piece) == 0:
            return []
        return self.to_list(self._piece_into(piece + PAD, 0, len(piece), vec[i32]()))

    def _start(
        self, data: bytes, a: i64, n: i64, ids: vec[i32], pair: vec[i32], nxt: vec[i32], prv: vec[i32]
    ) -> None:
        """Fill single-byte ids, byte-pair ranks and links of the piece ``data[a:a + n]``."""
        byte_id = self.byte_id
        pair2 = self.pair2
        k: i64 = 0
        c: i64 = data[a]
        while k < n:
            t = byte_id[c]
            if t < 0:
                raise _missing(data[a + k : a + k + 1])
            ids[k] = t
            if k + 1 < n:
                d: i64 = data[a + k + 1]
                pair[k] = pair2[(c << 8) | d]
                c = d
            else:
                pair[k] = NO_RANK
            nxt[k] = i32(k + 1)
            prv[k] = i32(k - 1)
            k += 1

    def _merge_short(self, data: bytes, a: i64, b: i64, out: vec[i32]) -> vec[i32]:
        """Merge a short piece in the core's scratch buffers (fresh ones if they are in use).

        ``busy`` guards the scratch buffers against re-entry: compiled code only lets
        another thread in through a finalizer run by the GC.
        """
        n: i64 = b - a
        if self.busy or n > _HEAP_MIN:
            return self._merge_in(data, a, b, out, zeros_i32(n), zeros_i32(n), zeros_i32(n), zeros_i32(n))
        self.busy = True
        try:
            return self._merge_in(data, a, b, out, self.m_ids, self.m_pair, self.m_nxt, self.m_prv)
        finally:
            self.busy = False

    def _merge_in(
        self,
        data: bytes,
        a: i64,
        b: i64,
        out: vec[i32],
        ids: vec[i32],
        pair: vec[i32],
        nxt: vec[i32],
        prv: vec[i32],
    ) -> vec[i32]:
        """Merge ``data[a:b]`` (shorter than ``_HEAP_MIN``): a linear scan for the best pair.

        ``pair[i]`` is the rank of the part starting at byte ``i`` joined with the next
        part (``NO_RANK`` where no part starts or no join is a token); ``nxt``/``prv``
        link the parts; the rank of a merged pair is its id (rank == id).
        """
        n: i64 = b - a
        self._start(data, a, n, ids, pair, nxt, prv)
        table = self.pairs
        last: i64 = n - 1
        six: i64 = 6
        none: i64 = _NO_KEY
        while True:
            key: i64 = none
            k: i64 = 0
            while k < last:
                v: i64 = (i64(pair[k]) << six) | k
                if v < key:
                    key = v
                k += 1
            if key >= none:
                break
            at: i64 = key & 63
            best: i32 = i32(key >> six)
            j: i64 = i64(nxt[at])
            k = i64(nxt[j])
            nxt[at] = i32(k)
            ids[at] = best
            pair[j] = NO_RANK
            if k < n:
                prv[k] = i32(at)
                pair[at] = table.rank(best, ids[k], data, a + at, a + i64(nxt[k]))
            else:
                pair[at] = NO_RANK
            p: i64 = i64(prv[at])
            if p >= 0:
                pair[p] = table.rank(ids[p], best, data, a + p, a + k)
        k = 0
        while k < n:
            out = append(out, ids[k])
            k = i64(nxt[k])
        return out

    def _merge_long(self, data: bytes, a: i64, b: i64, out: vec[i32]) -> vec[i32]:
        """O(n log n) merge for long pieces: the same linked parts, candidates in a heap.

        Heap entries are ``rank * (n + 1) + start``: the smallest entry is the lowest
        rank and, among equal ranks, the leftmost pair, as in the short merge. An
        entry whose pair has changed since it was pushed is skipped when popped. The
        heap is a binary min-heap in a native ``vec[i64]`` (:func:`_sift_down`,
        :func:`_sift_up`), built by one linear heapify of the byte pairs; equal entries
        are equal numbers, so any min-heap pops the same sequence.
        """
        n: i64 = b - a
        width: i64 = n + 1
        ids = zeros_i32(n)
        pair = zeros_i32(n)
        nxt = zeros_i32(n)
        prv = zeros_i32(n)
        self._start(data, a, n, ids, pair, nxt, prv)
        table = self.pairs
        heap = zeros_i64(n)  # n - 1 byte pairs at most; grown by append past that
        size: i64 = 0
        k: i64 = 0
        while k < n - 1:
            if pair[k] != NO_RANK:
                heap[size] = i64(pair[k]) * width + k
                size += 1
            k += 1
        h: i64 = (size >> 1) - 1
        while h >= 0:
            _sift_down(heap, heap[h], h, size)
            h -= 1
        while size > 0:
            top: i64 = heap[0]
            size -= 1
            if size > 0:
                _sift_down(heap, heap[size], 0, size)
            r: i64 = top // width
            i: i64 = top - r * width
            if i64(pair[i]) != r:
                continue
            best = pair[i]
            j: i64 = i64(nxt[i])
            k = i64(nxt[j])
            nxt[i] = i32(k)
            ids[i] = best
            pair[j] = NO_RANK
            if k < n:
                prv[k] = i32(i)
                pair[i] = table.rank(best, ids[k], data, a + i, a + i64(nxt[k]))
                if pair[i] != NO_RANK:
                    if size == len(heap):
                        heap = append(heap, 0)
                    _sift_up(heap, i64(pair[i]) * width + i, size)
                    size += 1
            else:
                pair[i] = NO_RANK
            p: i64 = i64(prv[i])
            if p >= 0:
                pair[p] = table.rank(ids[p], best, data, a + p, a + k)
                if pair[p] != NO_RANK:
                    if size == len(heap):
                        heap = append(heap, 0)
                    _sift_up(heap, i64(pair[p]) * width + p, size)
                    size += 1
        k = 0
        while k < n:
            out = append(out, ids[k])
            k = i64(nxt[k])
        return out

    def decoding(self) -> TokenDecoder:
        """The decoder of this core's tokens (built on first use: a core that never decodes never pays)."""
        dec = self.token_decoder
        if dec is None:
            dec = TokenDecoder(self.decoder)
            self.token_decoder = dec
        return dec

    def decode_bytes(self, ids: list[int]) -> bytes:
        """Concatenate the bytes of ``ids``; raise ``KeyError`` naming the first unknown id.

        Example:
            >>> BPECore({b"a": 0, b"b": 1}, r".").decode_bytes([0, 1, 0])
            b'aba'
        """
        return self.decoding().decode_bytes(ids)

    def decode_vec(self, ids: vec[i32]) -> bytes:
        """:meth:`decode_bytes` of a native vector (see :meth:`encode_bytes_into`).

        Example:
            >>> from librt.vecs import vec
            >>> from mypy_extensions import i32
            >>> BPECore({b"a": 0, b"b": 1}, r".").decode_vec(vec[i32]([1, 0]))
            b'ba'
        """
        return self.decoding().decode_vec(ids)
