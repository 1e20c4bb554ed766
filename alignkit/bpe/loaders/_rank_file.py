"""The canonical tiktoken rank file parsed in one compiled pass (load time).

A canonical file is lines of ``BASE64 RANK``: one space, ASCII digits, strict base64, a
``\\n`` after every line but perhaps the last, no blank line, no other whitespace, no
duplicate token or rank (base64 with padding only at the end; its trailing bits are
ignored, as ``base64.b64decode`` does). :func:`canonical_ranks` reads such a file straight into its
ranks and answers ``None`` for anything else, so the line-by-line parser of
:mod:`alignkit.bpe.loaders.tiktoken_file` decides (and names the bad line).

    >>> canonical_ranks(b"YQ== 0\\nYg== 1\\n")
    {b'a': 0, b'b': 1}
    >>> canonical_ranks(b"YQ== 0\\r\\n") is None
    True
"""

from __future__ import annotations

from typing import Final

from librt.strings import BytesWriter

_SPACE: Final = 32
_NEWLINE: Final = 10
_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _sextets() -> bytes:
    """Byte -> its base64 value, 255 for a byte outside the alphabet."""
    table = bytearray(b"\xff" * 256)
    for value, c in enumerate(_ALPHABET):
        table[c] = value
    return bytes(table)


_SEXTET: Final = _sextets()


def _is_space(c: int) -> bool:
    """ASCII whitespace, as ``bytes.split()`` sees it."""
    return c == 32 or (9 <= c <= 13)


def _decode(data: bytes, start: int, stop: int, out: BytesWriter) -> bytes | None:
    """Base64 ``data[start:stop]`` decoded, or ``None`` unless it is plainly well formed:
    a length that is a multiple of 4, alphabet characters, and ``=`` only as the last one
    or two. (The value is then exactly what ``base64.b64decode(..., validate=True)`` gives.)
    """
    if (stop - start) % 4 != 0:
        return None
    out.truncate(0)
    table = _SEXTET
    i = start
    while i < stop:
        a = table[data[i]]
        b = table[data[i + 1]]
        if a == 255 or b == 255:
            return None
        out.append(((a << 2) | (b >> 4)) & 255)
        c3 = data[i + 2]
        c4 = data[i + 3]
        if c3 == 61:  # "=="
            if c4 != 61 or i + 4 != stop:
                return None
            break
        c = table[c3]
        if c == 255:
            return None
        out.append(((b << 4) | (c >> 2)) & 255)
        if c4 == 61:  # "="
            if i + 4 != stop:
                return None
            break
        d = table[c4]
        if d == 255:
            return None
        out.append(((c << 6) | d) & 255)
        i += 4
    return out.getvalue()


def canonical_ranks(data: bytes) -> dict[bytes, int] | None:
    """token bytes -> rank of a canonical rank file, or ``None`` when it is not canonical."""
    n = len(data)
    if n == 0:
        return None
    ranks: dict[bytes, int] = {}
    seen: set[int] = set()
    out = BytesWriter()
    i = 0
    while i < n:
        j = i
        while j < n and not _is_space(data[j]):
            j += 1
        if j == i or j >= n or data[j] != _SPACE:
            return None
        k = j + 1
        value = 0
        while k < n and 48 <= data[k] <= 57:
            value = value * 10 + (data[k] - 48)
            k += 1
        if k == j + 1 or (k < n and data[k] != _NEWLINE):
            return None
        token = _decode(data, i, j, out)
        if token is None:
            return None
        if token in ranks or value in seen:
            return None
        ranks[token] = value
        seen.add(value)
        i = k + 1
    return ranks
