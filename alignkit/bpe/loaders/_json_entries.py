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
from librt.vecs import append
from mypy_extensions import i64

from alignkit.bpe.loaders._json_cursor import QUOTE, Cursor

_BACKSLASH: Final = 92


def vocab_entries(cur: Cursor, tokens: list[bytes], ids: list[int]) -> bool:
    """The ``{"token": id, ...}`` object at ``pos`` (its ``{``), into ``tokens``/``ids`` in file order.

    Where the text of key 256 starts goes to ``cur.key_at`` (see :func:`raw_merges`). The
    whitespace and punctuation around an id is compared with the same stretch of the entry
    before when that one was read through :meth:`Cursor.ws`/:meth:`Cursor.next_item` (equal
    bytes, equally valid): a pretty-printed file repeats it for every entry.
    """
    data = cur.data
    n = cur.n
    last = cur.last
    increasing = cur.increasing
    # Learned gaps (start, length; -1: none): key's closing quote .. id, id .. next key's quote.
    g1: i64 = -1
    l1: i64 = -1
    g2: i64 = -1
    l2: i64 = -1
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
        if l1 >= 0 and same_gap(data, p, g1, l1, n):
            p += l1
        else:
            cur.pos = p
            if cur.ws(data) != 58:
                return False
            cur.pos += 1
            cur.ws(data)
            g1, l1 = p, cur.pos - p
            p = cur.pos
        cur.pos = p
        tid = cur.number(data)
        if tid < 0:
            return False
        ids.append(tid)
        if tid <= last:
            increasing = False
        last = tid
        p = cur.pos
        if l2 >= 0 and same_gap(data, p, g2, l2, n):
            i = p + l2
            continue
        more = cur.next_item(data, 125)
        g2, l2 = p, cur.pos - p
        i = cur.pos
    cur.last = last
    cur.increasing = increasing
    return more == 0


def raw_merges(cur: Cursor, data: bytes, tokens: list[bytes], parts: list[bytes], k: i64) -> i64:
    """Merges ``k``, ``k + 1``, ... while each one's two JSON strings, back to back, are byte for
    byte the text of vocabulary key ``256 + k`` (which starts at ``cur.key_at``): the next ``k``.

    From ``pos`` at merge k (an item of the merges array); each merge read goes to ``parts``
    and ``splits``, and ``key_at`` moves on to the next key. Then ``cur.more`` is 1 with
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
    # Learned gaps (start in data, length; -1: none): "[" .. first quote, first part's closing quote ..
    # second's opening one, the closing quote .. the next item (list form), the same (string form).
    g1: i64 = -1
    l1: i64 = -1
    g2: i64 = -1
    l2: i64 = -1
    g3: i64 = -1
    l3: i64 = -1
    g4: i64 = -1
    l4: i64 = -1
    i = cur.pos
    cur.more = 1
    while 256 + k < n_keys and i < n:
        c: i64 = data[i]
        if c == 91:
            if l1 >= 0 and same_gap(data, i + 1, g1, l1, n):
                a = i + 1 + l1
            else:
                cur.pos = i + 1
                if cur.ws(data) != QUOTE:
                    break
                a = cur.pos + 1
                g1, l1 = i + 1, a - i - 1
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
            if l2 >= 0 and same_gap(data, b, g2, l2, n):
                b += l2
            else:
                cur.pos = b
                if cur.next_item(data, 93) != 1 or cur.ws(data) != QUOTE:
                    break
                g2, l2 = b, cur.pos + 1 - b
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
        if end == QUOTE:
            if l3 >= 0 and same_gap(data, b, g3, l3, n):
                gap = b
            else:
                cur.pos = b
                if cur.next_item(data, 93) != 0:
                    break
                gap = cur.pos
        elif l4 >= 0 and same_gap(data, b, g4, l4, n):
            gap = b
        else:
            gap = -1
        parts.append(tokens[256 + k])
        splits = append(splits, chars)
        k += 1
        while at < n and data[at] != QUOTE:
            at += 1
        ks = at + 1
        if gap == b:  # a learned gap
            i = b + (l3 if end == QUOTE else l4)
            continue
        if gap < 0:
            gap = b
        cur.pos = gap
        more = cur.next_item(data, 93)
        if more != 1:
            cur.more = more
            break
        if end == QUOTE:
            g3, l3 = b, cur.pos - b
        else:
            g4, l4 = b, cur.pos - b
        i = cur.pos
    if cur.more == 1:
        cur.pos = i
    cur.splits = splits
    cur.key_at = ks
    return k


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
    c = data[end]
    if c == 32 or c == 10 or c == 13 or c == 9:
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
