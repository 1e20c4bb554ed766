"""The vocabulary and merges of byte-level BPE files, read straight from their bytes (compiled).

A Hugging Face ``tokenizer.json`` is almost all ``model.vocab`` (token -> id) and
``model.merges``; ``json.loads`` turns them into 300K Python strings that the
loader then converts to token bytes. :func:`scan_tokenizer_json` instead walks the
document once and decodes those two values directly: each token's JSON string
becomes its bytes (GPT-2's printable characters, ``\\"``, ``\\\\``, ``\\/`` and
``\\uXXXX`` escapes of them), each id an ``int``, each merge its two parts
written back to back. Every other member is only skipped; the caller parses the
rest of the document (with those two values cut out) with ``json.loads``.
:func:`scan_vocab_json` and :func:`scan_merges_text` do the same for GPT-2's
``vocab.json`` and ``merges.txt``. The loops over vocabulary entries and over the
merges of a file in merge layout (each compared, as raw text, with the key of the
token it makes) are in :mod:`alignkit.bpe.loaders._json_entries`.

The grammar accepted is strict JSON, and narrower: anything outside it (a
character outside GPT-2's alphabet, an escape of one, a non-integer or
negative id, a key with an escape on the way to ``model``, a repeated ``model``,
``vocab`` or ``merges`` key, a merge that is not two non-empty parts...) makes the
scan answer None, and the loader falls back to ``json.loads`` and its general
path, which gives the same tokenizer or names the fault. Duplicate vocabulary
keys are left for the caller to detect (see :mod:`alignkit.bpe.loaders.byte_level`).

Compiled by mypyc (``pyproject.toml``); interpreted, the byte loops are slow, so
the loaders use the scanner only when :data:`NATIVE` (the differential tests run
it either way).
"""

from __future__ import annotations

from typing import Final, final

from librt.vecs import append, vec
from mypy_extensions import i64, u8

from alignkit.bpe.loaders._json_cursor import CHAR_BYTE, LIMIT, QUOTE, Cursor
from alignkit.bpe.loaders._json_entries import key_after, raw_merges, vocab_entries

#: True when this module runs compiled (its file is an extension module, not Python source or bytecode).
NATIVE: Final = not __file__.endswith(".py") and not __file__.endswith(".pyc")


@final
class Merges:
    """Merges as one byte string: merge k is ``joined[ends[k-1]:ends[k]]``, split at ``splits[k]``.

    Or, when the scanner found each merge equal to the vocabulary token it makes: merge k
    is ``source[256 + k]`` (that token's bytes object in the scanned vocabulary), split at
    ``splits[k]`` within it, and ``joined``/``ends`` are empty. :attr:`parts` lists those
    tokens (made on first use); whoever changes ``source`` before asking :meth:`made` calls
    :meth:`keep_parts` first.
    """

    def __init__(
        self, joined: bytes, ends: vec[i64], splits: vec[i64], parts: list[bytes] | None = None, source: list[bytes] | None = None
    ) -> None:
        self.joined = joined
        self.ends = ends
        self.splits = splits
        self._parts = parts
        #: the scanned vocabulary (file order) whose tokens 256, 257... the merges make, or None.
        self.source = source

    @property
    def parts(self) -> list[bytes] | None:
        """The token each merge makes (None: the merges are ``joined``)."""
        self.keep_parts()
        return self._parts

    def keep_parts(self) -> None:
        """Copy out the merges' tokens from ``source`` (before ``source`` changes)."""
        if self._parts is None and self.source is not None:
            self._parts = self.source[256 : 256 + len(self.splits)]

    def __len__(self) -> int:
        return len(self.splits)

    def made(self, tokens: list[bytes], start: int) -> bool:
        """True when merge k's two parts, joined, are ``tokens[start + k]`` for every k.

        False as well when the first merge's first part starts with ``#version``
        (a header, which the general parser skips).
        """
        n = len(self.splits)
        if start < 0 or start + n > len(tokens):
            return False
        parts = self._parts
        source = self.source
        if parts is None and source is not None:
            parts, first = source, 256
        else:
            first = 0
        if parts is not None:
            if n > 0 and self.splits[0] >= 8 and parts[first][:8] == b"#version":
                return False
            if parts is tokens and first == start:
                return True  # (each item compared with itself)
            for k in range(n):
                token = tokens[start + k]
                part = parts[first + k]
                if token is not part and token != part:
                    return False
            return True
        joined = self.joined
        if n > 0 and self.splits[0] >= 8 and joined[:8] == b"#version":
            return False
        prev: i64 = 0
        for k in range(n):
            end = self.ends[k]
            token = tokens[start + k]
            if len(token) != end - prev:
                return False
            for j in range(len(token)):
                if token[j] != joined[prev + j]:
                    return False
            prev = end
        return True

    def pairs(self) -> list[tuple[bytes, bytes]]:
        """The merges as ``(a, b)`` byte pairs (for tests and messages; the loaders never need them)."""
        out: list[tuple[bytes, bytes]] = []
        parts = self.parts
        if parts is not None:
            for k in range(len(parts)):
                split = self.splits[k]
                out.append((parts[k][:split], parts[k][split:]))
            return out
        start: i64 = 0
        for k in range(len(self.ends)):
            out.append((self.joined[start : self.splits[k]], self.joined[self.splits[k] : self.ends[k]]))
            start = self.ends[k]
        return out


@final
class Scanned:
    """What a scan read: the vocabulary in file order, the merges, and where both lie in the data."""

    def __init__(self, tokens: list[bytes], ids: list[int], increasing: bool, merges: Merges, spans: list[int]) -> None:
        self.tokens = tokens
        self.ids = ids
        #: True when ``ids`` strictly increase (so they are unique and already in id order).
        self.increasing = increasing
        self.merges = merges
        #: ``[vocab start, vocab end, merges start, merges end]`` byte offsets of the two JSON values.
        self.spans = spans


def _merge_list(cur: Cursor, tokens: list[bytes]) -> bool:
    """The merges array at ``pos`` (its ``[``): items ``"a b"`` or ``["a", "b"]``, parts non-empty.

    While merge k's parts, joined, are ``tokens[256 + k]`` (the vocabulary in file order,
    when it came first: a file in merge layout), each is only compared with that token
    (:meth:`Cursor.match`) and the merges become those tokens (see :class:`Merges`). At the
    first merge that differs (or that ``match`` leaves to ``text``), the merges so far are
    written out and the rest are read as bytes.
    """
    data = cur.data
    more = cur.enter(data, 93)
    k: i64 = 0
    n_tokens: i64 = len(tokens)
    matching = n_tokens > 256
    if matching and len(cur.splits) == 0:
        cur.splits = vec[i64](capacity=n_tokens - 256)  # (at most one merge per token after the bytes)
    while more > 0:
        if matching:
            k = raw_merges(cur, data, tokens, k)
            more = cur.more
            if more <= 0:
                break
            at = cur.pos
            split = _match_merge(cur, data, tokens[256 + k]) if 256 + k < n_tokens else -1
            if split > 0:
                cur.key_at = key_after(data, cur.key_at)
                cur.splits = append(cur.splits, split)
                k += 1
                more = cur.next_item(data, 93)
                continue
            matching = False  # from here on, as bytes: the merges so far written out first
            cur.pos = at
            for m in range(k):
                part = tokens[256 + m]
                cur.joined.write(part)
                cur.splits[m] = cur.splits[m] + len(cur.joined) - len(part)
                cur.ends = append(cur.ends, len(cur.joined))
        start = len(cur.joined)
        c = cur.ws(data)
        if c == QUOTE:
            cur.split = -1
            if not cur.text(data, cur.joined, True):
                return False
            split = cur.split
        elif c == 91:
            cur.pos += 1
            if cur.ws(data) != QUOTE or not cur.text(data, cur.joined, False):
                return False
            split = len(cur.joined)
            if cur.next_item(data, 93) != 1 or cur.ws(data) != QUOTE or not cur.text(data, cur.joined, False) or cur.next_item(data, 93) != 0:
                return False
        else:
            return False
        if split <= start or split >= len(cur.joined):
            return False
        cur.splits = append(cur.splits, split)
        cur.ends = append(cur.ends, len(cur.joined))
        more = cur.next_item(data, 93)
    if more == 0 and matching:
        cur.source = tokens
    return more == 0


def _match_merge(cur: Cursor, data: bytes, token: bytes) -> i64:
    """The split of the merge at ``pos`` when its parts, joined, are ``token`` (then past it), else -1."""
    c = cur.ws(data)
    size: i64 = len(token)
    if c == QUOTE:
        cur.split = -1
        if cur.match(data, token, 0, True) != size:
            return -1
        split = cur.split
    elif c == 91:
        cur.pos += 1
        if cur.ws(data) != QUOTE:
            return -1
        split = cur.match(data, token, 0, False)
        if split < 0 or cur.next_item(data, 93) != 1 or cur.ws(data) != QUOTE:
            return -1
        if cur.match(data, token, split, False) != size or cur.next_item(data, 93) != 0:
            return -1
    else:
        return -1
    return split if 0 < split < size else -1


def _merge_lines(cur: Cursor) -> bool:
    """``merges.txt`` lines ``a b`` from ``pos`` on, each ended by ``\\n`` (the last may not be)."""
    data = cur.data
    n = cur.n
    out = cur.joined
    i = cur.pos
    while i < n:
        start = len(out)
        split: i64 = -1
        while i < n and data[i] != 10:
            c = data[i]
            if 0x21 <= c <= 0x7E:
                out.append(c)
                i += 1
                continue
            if c == 32 and split < 0:
                split = len(out)
                i += 1
                continue
            if not (0xC2 <= c <= 0xC5 and i + 1 < n and (data[i + 1] & 0xC0) == 0x80):
                return False
            cp = ((c & 0x1F) << 6) | (data[i + 1] & 0x3F)
            if cp >= LIMIT or CHAR_BYTE[cp] < 0:
                return False
            out.append(u8(CHAR_BYTE[cp]))
            i += 2
        if split <= start or split >= len(out):
            return False
        cur.splits = append(cur.splits, split)
        cur.ends = append(cur.ends, len(out))
        i += 1  # the newline
    return True


def _merges(cur: Cursor) -> Merges:
    return Merges(cur.joined.getvalue(), cur.ends, cur.splits, None, cur.source)


def _model(cur: Cursor, tokens: list[bytes], ids: list[int], spans: list[int]) -> bool:
    """The ``model`` object at ``pos``: its ``vocab`` and ``merges`` read, the rest skipped."""
    data = cur.data
    more = cur.enter(data, 125)
    while more > 0:
        which = cur.member(data, b"vocab", b"merges", spans)
        if which == 1:
            if cur.ws(data) != 123 or not vocab_entries(cur, tokens, ids):
                return False
        elif which == 2:
            if cur.ws(data) != 91 or not _merge_list(cur, tokens):
                return False
        elif which < 0:
            return False
        more = cur.member_end(data, which, spans)
    return more == 0


def scan_tokenizer_json(data: bytes) -> Scanned | None:
    """``model.vocab`` and ``model.merges`` of a ``tokenizer.json``'s bytes, or None.

    Example:
        >>> s = scan_tokenizer_json(b'{"v": 1, "model": {"vocab": {"a": 0, "\\\\u0120": 1}, "merges": ["\\xc4\\xa0 a"]}}')
        >>> s.tokens, s.ids, s.merges.pairs(), s.spans
        ([b'a', b' '], [0, 1], [(b' ', b'a')], [28, 49, 61, 69])
    """
    cur = Cursor(data)
    tokens: list[bytes] = []
    ids: list[int] = []
    spans = [-1, -1, -1, -1]
    model = [-1, -1, -1, -1]  # where the model object lies (wanted once: its key passed twice)
    if cur.ws(data) != 123 or cur.enter(data, 125) != 1:
        return None
    more: i64 = 1
    while more > 0:
        which = cur.member(data, b"model", b"model", model)
        if which < 0 or (which == 1 and (cur.ws(data) != 123 or not _model(cur, tokens, ids, spans))):
            return None
        more = cur.member_end(data, which, model)
    if more < 0:
        return None
    if cur.ws(data) != -1 or spans[0] < 0 or spans[2] < 0:
        return None
    return Scanned(tokens, ids, cur.increasing, _merges(cur), spans)


def scan_vocab_json(data: bytes) -> Scanned | None:
    """The token -> id object of a GPT-2 ``vocab.json``'s bytes (no merges), or None.

    Example:
        >>> scan_vocab_json(b'{"a": 0, "\\xc4\\xa0": 1}\\n').tokens
        [b'a', b' ']
    """
    cur = Cursor(data)
    tokens: list[bytes] = []
    ids: list[int] = []
    if cur.ws(data) != 123 or not vocab_entries(cur, tokens, ids) or cur.ws(data) != -1:
        return None
    return Scanned(tokens, ids, cur.increasing, _merges(cur), [0, len(data), -1, -1])


def scan_merges_text(data: bytes, start: int) -> Merges | None:
    """The merges of ``merges.txt`` bytes from offset ``start`` (past any header), or None.

    Example:
        >>> scan_merges_text(b"#version: 0.2\\n\\xc4\\xa0 t\\nh e\\n", 14).pairs()
        [(b' ', b't'), (b'h', b'e')]
    """
    cur = Cursor(data)
    cur.pos = start
    return _merges(cur) if _merge_lines(cur) else None
