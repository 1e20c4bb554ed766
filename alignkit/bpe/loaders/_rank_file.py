"""The canonical tiktoken rank file parsed in one compiled pass (load time).

A canonical file is lines of ``BASE64 RANK``: one space, ASCII digits, strict base64, a
``\\n`` after every line but perhaps the last, no blank line, no other whitespace, no
duplicate token or rank. :func:`canonical_ranks` reads such a file straight into its
ranks and answers ``None`` for anything else, so the line-by-line parser of
:mod:`alignkit.bpe.loaders.tiktoken_file` decides (and names the bad line).

    >>> canonical_ranks(b"YQ== 0\\nYg== 1\\n")
    {b'a': 0, b'b': 1}
    >>> canonical_ranks(b"YQ== 0\\r\\n") is None
    True
"""

from __future__ import annotations

import binascii
from typing import Final

_SPACE: Final = 32
_NEWLINE: Final = 10


def _is_space(c: int) -> bool:
    """ASCII whitespace, as ``bytes.split()`` sees it."""
    return c == 32 or (9 <= c <= 13)


def canonical_ranks(data: bytes) -> dict[bytes, int] | None:
    """token bytes -> rank of a canonical rank file, or ``None`` when it is not canonical."""
    n = len(data)
    if n == 0:
        return None
    ranks: dict[bytes, int] = {}
    seen: set[int] = set()
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
        try:
            token = binascii.a2b_base64(data[i:j], strict_mode=True)
        except binascii.Error:
            return None
        if token in ranks or value in seen:
            return None
        ranks[token] = value
        seen.add(value)
        i = k + 1
    return ranks
