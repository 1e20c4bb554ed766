"""Is UTF-8 text already in NFC? A fast answer for the common case, compiled.

Tokenizers that normalize to NFC (Qwen's) would otherwise ask ``unicodedata`` about every
non-ASCII string, and its quick check looks up each character's record (≈ 2 ns a
character). :func:`nfc_inert` walks the UTF-8 bytes instead: ASCII bytes and the 2-byte
sequences below U+0300 are skipped without decoding, and every other code point is one bit
of :data:`alignkit.bpe._nfc_table.INERT`. A ``True`` answer is certain (the text is in
NFC); ``False`` only means "ask ``unicodedata``" (combining marks, compatibility forms,
unassigned or very high code points).

    >>> nfc_inert("naïve “quotes” — 漢字 😀".encode())
    True
    >>> nfc_inert("e\\u0301".encode())   # a combining acute: ask unicodedata
    False
"""

from __future__ import annotations

from typing import Final

from mypy_extensions import i64

from alignkit.bpe._nfc_table import INERT, LIMIT

_LIMIT: Final[i64] = LIMIT
#: True when this module runs compiled (its file is an extension module, not Python source or
#: bytecode). Callers ask :func:`nfc_inert` only then: interpreted, its byte loop costs more
#: than the ``unicodedata`` check it saves.
NATIVE: Final = not __file__.endswith(".py") and not __file__.endswith(".pyc")


def nfc_inert(data: bytes) -> bool:
    """True when every code point of valid UTF-8 ``data`` is NFC-inert (so it is in NFC).

    Args:
        data: UTF-8 (as ``str.encode("utf-8")`` gives it; not checked).

    Returns:
        ``True`` when the text is certainly in NFC; ``False`` when ``unicodedata`` must decide.

    Example:
        >>> nfc_inert(b"plain"), nfc_inert("Å".encode()), nfc_inert("\\u212b".encode())  # ANGSTROM SIGN
        (True, True, False)
    """
    table = INERT
    n: i64 = len(data)
    i: i64 = 0
    while i < n:
        b: i64 = data[i]
        if b < 0x80:
            i += 1
        elif b < 0xCC:  # a 2-byte sequence below U+0300: inert
            i += 2
        else:
            if b < 0xE0:
                cp: i64 = ((b & 0x1F) << 6) | (data[i + 1] & 0x3F)
                i += 2
            elif b < 0xF0:
                cp = ((b & 0x0F) << 12) | ((data[i + 1] & 0x3F) << 6) | (data[i + 2] & 0x3F)
                i += 3
            else:
                cp = (((b & 0x07) << 18) | ((data[i + 1] & 0x3F) << 12)
                      | ((data[i + 2] & 0x3F) << 6) | (data[i + 3] & 0x3F))
                i += 4
            if cp >= _LIMIT or not (table[cp >> 3] >> (cp & 7)) & 1:
                return False
    return True
