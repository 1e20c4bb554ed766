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
``vocab.json`` and ``merges.txt``.

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

from librt.strings import BytesWriter, read_i32_le, read_i64_le
from librt.vecs import append, vec
from mypy_extensions import i32, i64, u8

#: True when this module runs compiled (its file is an extension module, not Python source or bytecode).
NATIVE: Final = not __file__.endswith(".py") and not __file__.endswith(".pyc")
#: The code point bound of GPT-2's printable alphabet (U+0143 is the last one).
LIMIT: Final = 0x144
_QUOTE: Final = 34
_BACKSLASH: Final = 92
_SPACES8: Final[i64] = 0x2020202020202020
_SPACES4: Final[i32] = 0x20202020


def _char_table() -> vec[i64]:
    """Code point -> the byte it stands for in GPT-2's printable form; -1 when not in the alphabet."""
    table = vec[i64]()
    for _ in range(LIMIT):
        table = append(table, -1)
    extra: i64 = 0
    for b in range(256):
        if 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF:
            table[b] = b
        else:
            table[0x100 + extra] = b
            extra += 1
    return table


_TABLE: Final = _char_table()


@final
class Merges:
    """Merges as one byte string: merge k is ``joined[ends[k-1]:ends[k]]``, split at ``splits[k]``."""

    def __init__(self, joined: bytes, ends: vec[i64], splits: vec[i64]) -> None:
        self.joined = joined
        self.ends = ends
        self.splits = splits

    def __len__(self) -> int:
        return len(self.ends)

    def made(self, tokens: list[bytes], start: int) -> bool:
        """True when merge k's two parts, joined, are ``tokens[start + k]`` for every k.

        False as well when the first merge's first part starts with ``#version``
        (a header, which the general parser skips).
        """
        n = len(self.ends)
        if start < 0 or start + n > len(tokens):
            return False
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


@final
class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.n: i64 = len(data)
        self.pos: i64 = 0
        self.out = BytesWriter()  # one vocabulary token
        self.joined = BytesWriter()  # every merge, back to back
        self.split: i64 = -1
        self.ends = vec[i64]()
        self.splits = vec[i64]()
        self.increasing = True
        self.last: i64 = -1

    def ws(self, data: bytes) -> i64:
        """Skip JSON whitespace; the next byte, or -1 at the end."""
        n = self.n
        i = self.pos
        while i < n:
            c = data[i]
            if c == 32 or c == 13 or c == 9:
                i += 1
            elif c == 10:  # then indentation: 8 and 4 spaces at a time
                i += 1
                while i + 8 <= n and read_i64_le(data, i) == _SPACES8:
                    i += 8
                if i + 4 <= n and read_i32_le(data, i) == _SPACES4:
                    i += 4
            else:
                self.pos = i
                return c
        self.pos = i
        return -1

    def text(self, data: bytes, out: BytesWriter, sep: bool) -> bool:
        """Decode the JSON string at ``pos`` into ``out``; with ``sep``, one raw space sets ``split``."""
        n = self.n
        i = self.pos + 1
        cp: i64 = 0
        while i < n:
            c: i64 = data[i]
            if c == _QUOTE:
                self.pos = i + 1
                return True
            if 0x21 <= c <= 0x7E and c != _BACKSLASH:
                out.append(u8(c))
                i += 1
                continue
            if c == _BACKSLASH:
                if i + 1 >= n:
                    return False
                e: i64 = data[i + 1]
                if e == _QUOTE or e == _BACKSLASH or e == 47:  # \" \\ \/
                    out.append(u8(e))
                    i += 2
                    continue
                if e != 117 or i + 5 >= n:  # only \uXXXX is left that can be in the alphabet
                    return False
                cp = 0
                for j in range(i + 2, i + 6):
                    h: i64 = data[j]
                    if 48 <= h <= 57:
                        cp = cp * 16 + (h - 48)
                    elif 97 <= h <= 102:
                        cp = cp * 16 + (h - 87)
                    elif 65 <= h <= 70:
                        cp = cp * 16 + (h - 55)
                    else:
                        return False
                i += 6
            elif c == 32 and sep and self.split < 0:
                self.split = len(out)
                i += 1
                continue
            elif 0xC2 <= c <= 0xC5 and i + 1 < n and (data[i + 1] & 0xC0) == 0x80:
                cp = ((c & 0x1F) << 6) | (data[i + 1] & 0x3F)
                i += 2
            else:
                return False
            if cp >= LIMIT or _TABLE[cp] < 0:
                return False
            out.append(u8(_TABLE[cp]))
        return False

    def token(self, data: bytes) -> bytes | None:
        """The token bytes of the JSON string at ``pos`` (a vocabulary key), or None.

        A key of plain ASCII characters is its own bytes: one slice, no decoding.
        """
        n = self.n
        start = self.pos + 1
        i = start
        while i < n:
            c: i64 = data[i]
            if c == _QUOTE:
                self.pos = i + 1
                return data[start:i]
            if c < 0x21 or c > 0x7E or c == _BACKSLASH:
                break
            i += 1
        self.out.truncate(0)
        return self.out.getvalue() if self.text(data, self.out, False) else None

    def number(self, data: bytes) -> i64:
        """The non-negative JSON integer at ``pos`` (at most 18 digits), or -1."""
        i = self.pos
        if i >= self.n:
            return -1
        c = data[i]
        value: i64 = 0
        if c == 48:
            i += 1
        elif 49 <= c <= 57:
            while i < self.n and 48 <= data[i] <= 57:
                value = value * 10 + (data[i] - 48)
                i += 1
            if i - self.pos > 18:
                return -1
        else:
            return -1
        if i < self.n:
            c = data[i]
            if 48 <= c <= 57 or c == 46 or c == 101 or c == 69:  # 01, 1.0, 1e3
                return -1
        self.pos = i
        return value

    def next_item(self, data: bytes, close: i64) -> i64:
        """After a member: 1 on ``,`` (then at the next value), 0 on ``close`` (passed), -1 otherwise."""
        c = self.ws(data)
        if c == 44:
            self.pos += 1
            self.ws(data)
            return 1
        if c == close:
            self.pos += 1
            return 0
        return -1

    def vocab(self, tokens: list[bytes], ids: list[int]) -> bool:
        """The ``{"token": id, ...}`` object at ``pos`` (its ``{``), into ``tokens``/``ids`` in file order."""
        data = self.data
        self.pos += 1
        if self.ws(data) == 125:
            self.pos += 1
            return True
        while True:
            if self.ws(data) != _QUOTE:
                return False
            token = self.token(data)
            if token is None:
                return False
            tokens.append(token)
            if self.ws(data) != 58:
                return False
            self.pos += 1
            self.ws(data)
            tid = self.number(data)
            if tid < 0:
                return False
            ids.append(tid)
            if tid <= self.last:
                self.increasing = False
            self.last = tid
            more = self.next_item(data, 125)
            if more < 0:
                return False
            if more == 0:
                return True

    def merge_list(self) -> bool:
        """The merges array at ``pos`` (its ``[``): items ``"a b"`` or ``["a", "b"]``, parts non-empty."""
        data = self.data
        self.pos += 1
        if self.ws(data) == 93:
            self.pos += 1
            return True
        while True:
            start = len(self.joined)
            c = self.ws(data)
            if c == _QUOTE:
                self.split = -1
                if not self.text(data, self.joined, True):
                    return False
                split = self.split
            elif c == 91:
                self.pos += 1
                if self.ws(data) != _QUOTE or not self.text(data, self.joined, False):
                    return False
                split = len(self.joined)
                if self.next_item(data, 93) != 1 or self.ws(data) != _QUOTE or not self.text(data, self.joined, False) or self.next_item(data, 93) != 0:
                    return False
            else:
                return False
            if split <= start or split >= len(self.joined):
                return False
            self.splits = append(self.splits, split)
            self.ends = append(self.ends, len(self.joined))
            more = self.next_item(data, 93)
            if more < 0:
                return False
            if more == 0:
                return True

    def merge_lines(self) -> bool:
        """``merges.txt`` lines ``a b`` from ``pos`` on, each ended by ``\\n`` (the last may not be)."""
        data = self.data
        n = self.n
        out = self.joined
        i = self.pos
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
                if cp >= LIMIT or _TABLE[cp] < 0:
                    return False
                out.append(u8(_TABLE[cp]))
                i += 2
            if split <= start or split >= len(out):
                return False
            self.splits = append(self.splits, split)
            self.ends = append(self.ends, len(out))
            i += 1  # the newline
        return True

    def key(self) -> bytes | None:
        """The raw bytes of the object key at ``pos`` (past its ``:``); None if it has an escape."""
        data = self.data
        start = self.pos + 1
        i = start
        while i < self.n and data[i] != _QUOTE:
            if data[i] == _BACKSLASH:
                return None
            i += 1
        if i >= self.n:
            return None
        self.pos = i + 1
        if self.ws(data) != 58:
            return None
        self.pos += 1
        self.ws(data)
        return data[start:i]

    def skip(self) -> bool:
        """Pass the JSON value at ``pos`` (loosely: ``json.loads`` checks it later)."""
        data = self.data
        depth: i64 = 0
        while True:
            c = self.ws(data)
            if c == _QUOTE:
                i = self.pos + 1
                while i < self.n and data[i] != _QUOTE:
                    i += 2 if data[i] == _BACKSLASH else 1
                if i >= self.n:
                    return False
                self.pos = i + 1
            elif c == 123 or c == 91:
                depth += 1
                self.pos += 1
                continue
            elif c == 125 or c == 93:
                depth -= 1
                self.pos += 1
                if depth < 0:
                    return False
            elif c == 44 or c == 58:
                if depth == 0:
                    return False
                self.pos += 1
                continue
            elif c < 0:
                return False
            else:
                i = self.pos
                while i < self.n:
                    c = data[i]
                    if c == 44 or c == 93 or c == 125 or c == 58 or c == 32 or c == 10 or c == 13 or c == 9:
                        break
                    i += 1
                self.pos = i
            if depth == 0:
                return True

    def merges(self) -> Merges:
        return Merges(self.joined.getvalue(), self.ends, self.splits)


def _model(cur: _Cursor, tokens: list[bytes], ids: list[int], spans: list[int]) -> bool:
    """The ``model`` object at ``pos``: its ``vocab`` and ``merges`` read, the rest skipped."""
    data = cur.data
    cur.pos += 1
    if cur.ws(data) == 125:
        cur.pos += 1
        return True
    while True:
        if cur.ws(data) != _QUOTE:
            return False
        key = cur.key()
        if key is None:
            return False
        start = cur.pos
        if key == b"vocab":
            if spans[0] >= 0 or cur.ws(data) != 123 or not cur.vocab(tokens, ids):
                return False
            spans[0], spans[1] = start, cur.pos
        elif key == b"merges":
            if spans[2] >= 0 or cur.ws(data) != 91 or not cur.merge_list():
                return False
            spans[2], spans[3] = start, cur.pos
        elif not cur.skip():
            return False
        more = cur.next_item(data, 125)
        if more < 0:
            return False
        if more == 0:
            return True


def scan_tokenizer_json(data: bytes) -> Scanned | None:
    """``model.vocab`` and ``model.merges`` of a ``tokenizer.json``'s bytes, or None.

    Example:
        >>> s = scan_tokenizer_json(b'{"v": 1, "model": {"vocab": {"a": 0, "\\\\u0120": 1}, "merges": ["\\xc4\\xa0 a"]}}')
        >>> s.tokens, s.ids, s.merges.pairs(), s.spans
        ([b'a', b' '], [0, 1], [(b' ', b'a')], [28, 49, 61, 69])
    """
    cur = _Cursor(data)
    tokens: list[bytes] = []
    ids: list[int] = []
    spans = [-1, -1, -1, -1]
    if cur.ws(data) != 123:
        return None
    cur.pos += 1
    seen_model = False
    if cur.ws(data) == 125:
        return None
    while True:
        if cur.ws(data) != _QUOTE:
            return None
        key = cur.key()
        if key is None:
            return None
        if key == b"model":
            if seen_model or cur.ws(data) != 123 or not _model(cur, tokens, ids, spans):
                return None
            seen_model = True
        elif not cur.skip():
            return None
        more = cur.next_item(data, 125)
        if more < 0:
            return None
        if more == 0:
            break
    if cur.ws(data) != -1 or spans[0] < 0 or spans[2] < 0:
        return None
    return Scanned(tokens, ids, cur.increasing, cur.merges(), spans)


def scan_vocab_json(data: bytes) -> Scanned | None:
    """The token -> id object of a GPT-2 ``vocab.json``'s bytes (no merges), or None.

    Example:
        >>> scan_vocab_json(b'{"a": 0, "\\xc4\\xa0": 1}\\n').tokens
        [b'a', b' ']
    """
    cur = _Cursor(data)
    tokens: list[bytes] = []
    ids: list[int] = []
    if cur.ws(data) != 123 or not cur.vocab(tokens, ids) or cur.ws(data) != -1:
        return None
    return Scanned(tokens, ids, cur.increasing, cur.merges(), [0, len(data), -1, -1])


def scan_merges_text(data: bytes, start: int) -> Merges | None:
    """The merges of ``merges.txt`` bytes from offset ``start`` (past any header), or None.

    Example:
        >>> scan_merges_text(b"#version: 0.2\\n\\xc4\\xa0 t\\nh e\\n", 14).pairs()
        [(b' ', b't'), (b'h', b'e')]
    """
    cur = _Cursor(data)
    cur.pos = start
    return cur.merges() if cur.merge_lines() else None
