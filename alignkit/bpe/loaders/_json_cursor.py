"""A cursor over JSON bytes: whitespace, strings decoded to GPT-2 token bytes, integers, skipping (compiled).

The primitives of :mod:`alignkit.bpe.loaders._json_scan`. Each reads at
``Cursor.pos`` and answers a failure value (False, None, -1) on anything outside
its strict grammar; the scanners then step aside for ``json.loads``. The hot
methods take the document as an argument (the caller's reference: no
attribute load and reference count per call).

A JSON string is decoded only when every character is in GPT-2's printable
alphabet (itself, or as a ``\\uXXXX``, ``\\"``, ``\\\\`` or ``\\/`` escape):
each becomes the byte it stands for.
"""

from __future__ import annotations

from typing import Final, final

from librt.strings import BytesWriter, read_i32_le, read_i64_le
from librt.vecs import append, vec
from mypy_extensions import i32, i64, u8

#: The code point bound of GPT-2's printable alphabet (U+0143 is the last one).
LIMIT: Final = 0x144
QUOTE: Final = 34  # "
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


#: Code point -> the byte it stands for in GPT-2's printable form (-1: not in the alphabet).
CHAR_BYTE: Final = _char_table()


@final
class Cursor:
    """A position in a JSON document's bytes, with the buffers the scanners fill."""

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
        #: the vocabulary whose tokens 256, 257... the merges make, when each one matched (see ``_json_scan``).
        self.source: list[bytes] | None = None
        #: where the text of vocabulary key ``256 + k`` starts (past its opening quote) while
        #: the scanner reads merge k (see ``_json_entries``).
        self.key_at: i64 = -1
        #: what :func:`~alignkit.bpe.loaders._json_entries.raw_merges` ends on (see there).
        self.more: i64 = 1

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
            if c == QUOTE:
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
                if e == QUOTE or e == _BACKSLASH or e == 47:  # \" \\ \/
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
            if cp >= LIMIT or CHAR_BYTE[cp] < 0:
                return False
            out.append(u8(CHAR_BYTE[cp]))
        return False

    def match(self, data: bytes, expected: bytes, j: i64, sep: bool) -> i64:
        """:meth:`text` compared with ``expected[j:]`` instead of written: the index in ``expected``
        after the string (then past it), or -1 when a byte differs, ``expected`` ends first, or
        the string has a ``\\uXXXX`` escape or anything :meth:`text` may refuse (the caller then asks it).
        With ``sep``, one raw space sets ``split`` to its index in ``expected``.
        """
        n = self.n
        m: i64 = len(expected)
        i = self.pos + 1
        b: i64 = 0
        while i < n:
            c: i64 = data[i]
            if c == QUOTE:
                self.pos = i + 1
                return j
            if 0x21 <= c <= 0x7E and c != _BACKSLASH:
                b = c
                i += 1
            elif c == 32 and sep and self.split < 0:
                self.split = j
                i += 1
                continue
            elif 0xC2 <= c <= 0xC5 and i + 1 < n and (data[i + 1] & 0xC0) == 0x80:
                cp = ((c & 0x1F) << 6) | (data[i + 1] & 0x3F)
                if cp >= LIMIT or CHAR_BYTE[cp] < 0:
                    return -1
                b = CHAR_BYTE[cp]
                i += 2
            elif c == _BACKSLASH and i + 1 < n and (data[i + 1] == QUOTE or data[i + 1] == _BACKSLASH or data[i + 1] == 47):
                b = data[i + 1]  # \" \\ \/ (a \uXXXX escape is left to text)
                i += 2
            else:
                return -1
            if j >= m or expected[j] != b:
                return -1
            j += 1
        return -1

    def token(self, data: bytes) -> bytes | None:
        """The token bytes of the JSON string at ``pos`` (a vocabulary key), or None.

        A key of plain ASCII characters is its own bytes: one slice, no decoding.
        """
        n = self.n
        start = self.pos + 1
        i = start
        while i < n:
            c: i64 = data[i]
            if c == QUOTE:
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

    def enter(self, data: bytes, close: i64) -> i64:
        """At an array's ``[`` or an object's ``{``: pass it; 0 when ``close`` follows at once
        (passed too: the value is empty), else 1 (at the first item, past whitespace).

        Then read items while :meth:`next_item` answers 1; a well-formed value ends on 0.
        """
        self.pos += 1
        if self.ws(data) == close:
            self.pos += 1
            return 0
        return 1

    def member(self, data: bytes, first: bytes, second: bytes, spans: list[int]) -> i64:
        """Read the key of an object member at ``pos``: which of two wanted keys it is.

        1 (``first``) or 2 (``second``), seen for the first time: then at its value, whose
        start is recorded in ``spans[0]`` or ``spans[2]`` (``-1`` while not seen); the
        caller reads the value and ends the member with :meth:`member_end`. 0: another
        key, its value skipped. -1: not a key, a key with an escape, a wanted key seen
        again, or a value that cannot be skipped. To want one key, pass it twice.
        """
        if self.ws(data) != QUOTE:
            return -1
        key = self.key()
        if key is None:
            return -1
        if key == first:
            which: i64 = 1
        elif key == second:
            which = 2
        else:
            return 0 if self.skip() else -1
        slot = 2 * which - 2
        if spans[slot] >= 0:
            return -1
        spans[slot] = self.pos
        return which

    def member_end(self, data: bytes, which: i64, spans: list[int]) -> i64:
        """After the value of a member (``which`` from :meth:`member`): its end recorded for a
        wanted key (``spans[1]`` or ``spans[3]``); then :meth:`next_item` of the object."""
        if which > 0:
            spans[2 * which - 1] = self.pos
        return self.next_item(data, 125)

    def key(self) -> bytes | None:
        """The raw bytes of the object key at ``pos`` (past its ``:``); None if it has an escape."""
        data = self.data
        start = self.pos + 1
        i = start
        while i < self.n and data[i] != QUOTE:
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
            if c == QUOTE:
                i = self.pos + 1
                while i < self.n and data[i] != QUOTE:
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
