"""GPT-2's printable token form -> token bytes, for a whole vocabulary at once (compiled).

``vocab.json``/``tokenizer.json`` write each token byte as one printable
character (``bytes_to_unicode``): a space is ``"Ġ"``. All 324 such characters
are below U+0144, so in UTF-8 each is one byte (ASCII) or two (lead byte
0xC2-0xC5). This module walks the UTF-8 of the newline-joined tokens once and
writes one byte per character: a native loop instead of a codec call per token.

It is compiled by mypyc (``pyproject.toml``); interpreted, the same loop is
slow, so :mod:`alignkit.bpe.loaders.byte_level` uses a codec there instead
(:data:`NATIVE` says which). The two give identical results (differential test).
"""

from __future__ import annotations

from typing import Final

from librt.strings import BytesWriter

#: The code point bound of GPT-2's printable alphabet (U+0143 is the last one).
LIMIT: Final = 0x144
#: True when this module runs compiled (its file is an extension module, not Python source or bytecode).
NATIVE: Final = not __file__.endswith(".py") and not __file__.endswith(".pyc")


def joined_to_bytes(data: bytes, high: bytes) -> list[bytes] | None:
    """Bytes of each newline-separated token in ``data`` (their UTF-8), or None.

    Printable Latin-1 characters stand for their own byte; ``high[k]`` is the
    byte of character U+0100 + k. None when a character is not in the alphabet
    (or ``data`` is not UTF-8 of such characters).

    Example:
        >>> high = bytes(range(33)) + bytes(range(127, 161)) + b"\\xad"
        >>> joined_to_bytes("Ġa\\na".encode(), high)
        [b' a', b'a']
    """
    out: list[bytes] = []
    writer = BytesWriter()
    n = len(data)
    i = 0
    while i < n:
        c = data[i]
        if 0x21 <= c <= 0x7E:
            writer.append(c)
            i += 1
            continue
        if c == 10:
            out.append(writer.getvalue())
            writer.truncate(0)
            i += 1
            continue
        if c < 0xC2 or c > 0xC5 or i + 1 >= n or (data[i + 1] & 0xC0) != 0x80:
            return None
        c = ((c & 0x1F) << 6) | (data[i + 1] & 0x3F)
        i += 2
        if 0xA1 <= c <= 0xAC or 0xAE <= c <= 0xFF:
            writer.append(c)
        elif 0x100 <= c < LIMIT:
            writer.append(high[c - 0x100])
        else:
            return None
    out.append(writer.getvalue())
    return out


def merges_make(merges: list[object], keys: list[str], start: int) -> bool:
    """True when merge k makes ``keys[start + k]``, for every k (merge layout).

    A merge is ``"a b"`` (one space, two non-empty parts) or ``["a", "b"]``
    (two non-empty strings), all merges in the same form; a first merge that
    is a ``#version`` header (which the general parser skips) gives False.

    Example:
        >>> merges_make(["Ġ t", "h e"], ["x", "Ġt", "he"], 1)
        True
        >>> merges_make([["h", "e"]], ["hex"], 0)
        False
    """
    n = len(merges)
    if n == 0:
        return True
    if start + n > len(keys):
        return False
    first = merges[0]
    strings = isinstance(first, str)
    if strings:
        head = first
    elif isinstance(first, list) and len(first) == 2:
        head = first[0]
    else:
        return False
    if not isinstance(head, str) or head.startswith("#version"):
        return False
    for k in range(n):
        m = merges[k]
        key = keys[start + k]
        if strings:
            if not isinstance(m, str):
                return False
            p = m.find(" ")
            if p <= 0 or p >= len(m) - 1 or len(m) != len(key) + 1 or m.find(" ", p + 1) >= 0:
                return False
            if not (key.startswith(m[:p]) and key.endswith(m[p + 1 :])):
                return False
        else:
            if not isinstance(m, list) or len(m) != 2:
                return False
            a = m[0]
            b = m[1]
            if not isinstance(a, str) or not isinstance(b, str):
                return False
            if len(a) == 0 or len(b) == 0 or len(a) + len(b) != len(key):
                return False
            if not (key.startswith(a) and key.endswith(b)):
                return False
    return True
