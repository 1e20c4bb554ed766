"""Vocabulary entries and merges of a ``tokenizer.json`` read fast where the file repeats itself (compiled).

The loops of :mod:`alignkit.bpe.loaders._json_scan` for the two big values:
:func:`vocab_entries` (``{"token": id, ...}``) and :func:`raw_merges` (the merges of a file in
merge layout, compared as raw text with the vocabulary key each one makes: no decoding).

Both rely on one observation: a pretty-printed file writes the same whitespace and
punctuation between every two entries. A stretch between two values read once through
:meth:`~alignkit.bpe.loaders._json_cursor.Cursor.ws`/``next_item`` is remembered (where it
lies and how long it is); at the next entry the bytes are compared with it (:func:`same_gap`),
a few word compares instead of a loop per byte. Equal bytes are parsed equally, so a match
means the same structure; anything else (other whitespace, the end of the value) is read
through the cursor again, and learned anew.
"""

from __future__ import annotations

from typing import Final

from librt.strings import read_i64_le
from librt.vecs import append, vec
from mypy_extensions import i64

from alignkit.bpe.loaders._json_cursor import QUOTE, Cursor

_BACKSLASH: Final = 92


def _mask_table() -> vec[i64]:
    """The low ``k`` bytes of a word set, for k < 8 (Python ints: no 64-bit shift of a constant)."""
    table = vec[i64]()
    for k in range(8):
        mask: int = (1 << (8 * k)) - 1
        table = append(table, i64(mask))
    return table


_MASKS: Final = _mask_table()


def vocab_entries(cur: Cursor, tokens: list[bytes], ids: list[int]) -> bool:
    """The ``{"token": id, ...}`` object at ``pos`` (its ``{``), into ``tokens``/``ids`` in file order.

    Where the text of key 256 starts goes to ``cur.key_at`` (see :func:`raw_merges`). A key
    of plain ASCII characters is its own bytes (a slice); any other is read by
    :meth:`Cursor.token`. The whitespace and punctuation around an id
    is compared with the same stretch of the entry before when that one was read through
    :meth:`Cursor.ws`/:meth:`Cursor.next_item` (equal bytes, equally valid): a pretty-printed
    file repeats it for every entry.
    """
    data = cur.data
    n = cur.n
    last = cur.last
    increasing = cur.increasing
    # Learned gaps: key's closing quote .. id (1), id .. next key's quote (2); as (start,
    # length; -1: none) and as words compared in place (see _words).
    g1: i64 = -1
    l1: i64 = -1
    m1: i64 = 0
    o1: i64 = 0
    lo1: i64 = 0
    hi1: i64 = 0
    g2: i64 = -1
    l2: i64 = -1
    m2: i64 = 0
    o2: i64 = 0
    lo2: i64 = 0
    hi2: i64 = 0
    more = cur.enter(data, 125)
    i = cur.pos
    while more > 0:
        if i >= n or data[i] != QUOTE:
            return False
        start = i + 1
        j = start
        while j < n:
            c: i64 = data[j]
            if c == QUOTE or c < 0x21 or c > 0x7E or c == _BACKSLASH:
                break
            j += 1
        if len(tokens) == 256:
            cur.key_at = start
        if j < n and data[j] == QUOTE:  # plain ASCII: the key is its own bytes
            tokens.append(data[start:j])
        else:
            cur.pos = i
            token = cur.token(data)
            if token is None:
                return False
            tokens.append(token)
            j = cur.pos - 1
        p = j + 1
        hit = False
        if m1 != 0 and p + o1 + 8 <= n and (read_i64_le(data, p) & m1) == lo1 and (read_i64_le(data, p + o1) & m1) == hi1:
            c = data[p + l1]
            hit = c != 32 and c != 10 and c != 13 and c != 9  # (what same_gap asks too)
        if hit or (l1 >= 0 and same_gap(data, p, g1, l1, n)):
            p += l1
        else:
            cur.pos = p
            if cur.ws(data) != 58:
                return False
            cur.pos += 1
            cur.ws(data)
            g1, l1 = p, cur.pos - p
            m1, o1, lo1, hi1 = _words(data, g1, l1)
            p = cur.pos
        # the id: a JSON integer >= 0 of at most 18 digits (what Cursor.number reads)
        if p >= n:
            return False
        c = data[p]
        tid: i64 = 0
        if c == 48:
            p += 1
        elif 49 <= c <= 57:
            q = p
            while p < n and 48 <= data[p] <= 57:
                tid = tid * 10 + (data[p] - 48)
                p += 1
            if p - q > 18:
                return False
        else:
            return False
        if p < n:
            c = data[p]
            if 48 <= c <= 57 or c == 46 or c == 101 or c == 69:  # 01, 1.0, 1e3
                return False
        ids.append(tid)
        if tid <= last:
            increasing = False
        last = tid
        hit = False
        if m2 != 0 and p + o2 + 8 <= n and (read_i64_le(data, p) & m2) == lo2 and (read_i64_le(data, p + o2) & m2) == hi2:
            c = data[p + l2]
            hit = c != 32 and c != 10 and c != 13 and c != 9
        if hit or (l2 >= 0 and same_gap(data, p, g2, l2, n)):
            i = p + l2
            continue
        cur.pos = p
        more = cur.next_item(data, 125)
        g2, l2 = p, cur.pos - p
        m2, o2, lo2, hi2 = _words(data, g2, l2)
        i = cur.pos
    cur.last = last
    cur.increasing = increasing
    return more == 0


def _space(c: i64) -> bool:
    return c == 32 or c == 10 or c == 13 or c == 9


def raw_merges(cur: Cursor, data: bytes, tokens: list[bytes], k: i64) -> i64:
    """Merges ``k``, ``k + 1``, ... while each one's two JSON strings, back to back, are byte for
    byte the text of vocabulary key ``256 + k`` (which starts at ``cur.key_at``): the next ``k``.

    From ``pos`` at merge k (an item of the merges array); each merge read adds its split
    to ``splits`` (the merge is ``tokens[256 + k]``), and ``key_at`` moves on to the next key. Then ``cur.more`` is 1 with
    ``pos`` at the first merge not read (the caller reads it), 0 past the array's ``]``, or
    -1 when what follows a merge is not JSON.

    Equal raw text decodes to equal bytes, and the key was decoded already (every character
    in GPT-2's alphabet: no space, no quote), so the parts need no decoding: the split is the
    number of characters of the first part (a UTF-8 continuation byte is not one). Parts with
    a backslash are left to the caller, so the key's text (compared up to a quote) has none
    either and ends at the first quote; the next key's text starts past the next quote (only
    ``: id,`` and whitespace lie between keys).

    The whitespace and punctuation between the strings (``[``/``,``/``]`` and indentation) is
    compared with the same stretch of the merge before when that one was read through
    :meth:`Cursor.ws`/:meth:`Cursor.next_item` (equal bytes, equally valid): a pretty-printed
    file repeats it for every merge.
    """
    n = cur.n
    n_keys: i64 = len(tokens)
    splits = cur.splits
    ks = cur.key_at
    # Learned gaps: "[" .. the first quote (1), the first part's closing quote .. the second's
    # opening one (2), the closing quote .. the next item, list form (3) and string form (4).
    # Each as (start in data, length; -1: none) and as words compared in place (see _words).
    g1: i64 = -1
    l1: i64 = -1
    m1: i64 = 0
    o1: i64 = 0
    lo1: i64 = 0
    hi1: i64 = 0
    g2: i64 = -1
    l2: i64 = -1
    m2: i64 = 0
    o2: i64 = 0
    lo2: i64 = 0
    hi2: i64 = 0
    g3: i64 = -1
    l3: i64 = -1
    m3: i64 = 0
    o3: i64 = 0
    lo3: i64 = 0
    hi3: i64 = 0
    g4: i64 = -1
    l4: i64 = -1
    i = cur.pos
    cur.more = 1
    while 256 + k < n_keys and i < n:
        c: i64 = data[i]
        if c == 91:
            p = i + 1
            if m1 != 0 and p + o1 + 8 <= n and (read_i64_le(data, p) & m1) == lo1 and (read_i64_le(data, p + o1) & m1) == hi1:
                a = p + l1
            elif l1 >= 0 and same_gap(data, p, g1, l1, n):
                a = p + l1
            else:
                cur.pos = p
                if cur.ws(data) != QUOTE:
                    break
                a = cur.pos + 1
                g1, l1 = p, a - p
                m1, o1, lo1, hi1 = _words(data, g1, l1)
            end: i64 = QUOTE  # the first part ends at its closing quote
        elif c == QUOTE:
            a = i + 1
            end = 32  # "a b": at the space
        else:
            break
        j = a
        chars: i64 = 0
        while j < n:
            d: i64 = data[j]
            if d == end or d != data[ks + j - a] or d == QUOTE or d == _BACKSLASH:
                break  # (a quote before the space: the key's closing one)
            if (d & 0xC0) != 0x80:
                chars += 1
            j += 1
        if j >= n or data[j] != end or chars == 0:
            break
        at = ks + j - a  # the second part's first byte in the key
        c = data[at]
        if c == QUOTE or (c & 0xC0) == 0x80:
            break  # (the key ends here, or a character would be cut)
        b = j + 1
        if end == QUOTE:
            if m2 != 0 and b + o2 + 8 <= n and (read_i64_le(data, b) & m2) == lo2 and (read_i64_le(data, b + o2) & m2) == hi2:
                b += l2
            elif l2 >= 0 and same_gap(data, b, g2, l2, n):
                b += l2
            else:
                cur.pos = b
                if cur.next_item(data, 93) != 1 or cur.ws(data) != QUOTE:
                    break
                g2, l2 = b, cur.pos + 1 - b
                m2, o2, lo2, hi2 = _words(data, g2, l2)
                b = cur.pos + 1
        while b < n:
            d = data[b]
            if d != data[at] or d == _BACKSLASH:
                break
            b += 1
            at += 1
            if d == QUOTE:
                break
        if data[at - 1] != QUOTE or data[b - 1] != QUOTE:
            break  # (b - 1 >= a: the loop compared at least one byte)
        # b: past the merge's last quote; at: past the key's closing quote
        learned = False
        if end == QUOTE:
            if m3 != 0 and b + o3 + 8 <= n and (read_i64_le(data, b) & m3) == lo3 and (read_i64_le(data, b + o3) & m3) == hi3:
                c = data[b + l3]
                learned = c != 32 and c != 10 and c != 13 and c != 9  # (what same_gap asks too)
            if learned or (l3 >= 0 and same_gap(data, b, g3, l3, n)):
                learned = True
            else:
                cur.pos = b
                if cur.next_item(data, 93) != 0:
                    break
        elif l4 >= 0 and same_gap(data, b, g4, l4, n):
            learned = True
        else:
            cur.pos = b
        splits = append(splits, chars)
        k += 1
        while at < n and data[at] != QUOTE:
            at += 1
        ks = at + 1
        if learned:
            i = b + (l3 if end == QUOTE else l4)
            continue
        more = cur.next_item(data, 93)
        if more != 1:
            cur.more = more
            break
        if end == QUOTE:
            g3, l3 = b, cur.pos - b
            m3, o3, lo3, hi3 = _words(data, g3, l3)
        else:
            g4, l4 = b, cur.pos - b
        i = cur.pos
    if cur.more == 1:
        cur.pos = i
    cur.splits = splits
    cur.key_at = ks
    return k


def _words(data: bytes, g: i64, size: i64) -> tuple[i64, i64, i64, i64]:
    """A gap ``data[g:g + size]`` as ``(mask, offset, low, high)``: bytes at ``p`` equal it when
    the words read at ``p`` and ``p + offset``, masked, are ``low`` and ``high`` (two overlapping
    words up to 16 bytes, one masked word up to 8). Mask 0 when it is longer (then :func:`same_gap`).
    """
    if size <= 0 or size > 16 or g + 16 > len(data):
        return 0, 0, 0, 0
    mask: i64 = -1
    offset: i64 = size - 8
    if size < 8:
        mask = _MASKS[size]
        offset = 0
    return mask, offset, read_i64_le(data, g) & mask, read_i64_le(data, g + offset) & mask


def key_after(data: bytes, start: i64) -> i64:
    """Where the text of the vocabulary key after the one whose text starts at ``start`` starts."""
    n: i64 = len(data)
    i = start
    while i < n and data[i] != QUOTE:
        i += 2 if data[i] == _BACKSLASH else 1
    i += 1
    while i < n and data[i] != QUOTE:
        i += 1
    return i + 1


def same_gap(data: bytes, i: i64, g: i64, size: i64, n: i64) -> bool:
    """``data[i:i + size] == data[g:g + size]`` (a stretch between two JSON values, read before
    at ``g``) and ``data[i + size]`` is not whitespace: then reading from ``i`` passes the
    same values and stops at ``i + size``, as it did at ``g``."""
    end = i + size
    if end >= n:
        return False
    if _space(data[end]):
        return False
    k: i64 = 0
    while k + 8 <= size:
        if read_i64_le(data, i + k) != read_i64_le(data, g + k):
            return False
        k += 8
    while k < size:
        if data[i + k] != data[g + k]:
            return False
        k += 1
    return True
