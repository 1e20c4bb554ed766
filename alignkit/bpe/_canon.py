"""The ``tokens`` list of the canonical serialization, as JSON bytes (compiled).

The tokenizer's content hash (:mod:`alignkit.bpe._persist`) covers the canonical
JSON, whose bulk is ``"tokens":[["<base64 of the token>",<id>],...]``: one entry per
token (151K for Qwen3). Built interpreted, that is one base64 call, one ``str`` and
one join item per token (≈ 0.1 s for Qwen3); this module writes the same bytes with
a native loop into one :class:`~librt.strings.BytesWriter`.

It is compiled by mypyc (``pyproject.toml``); interpreted, the per-byte loop is
slow, so :mod:`alignkit.bpe._persist` builds the text with ``binascii`` there
instead (:data:`NATIVE` says which). Both give identical bytes (differential tests,
every real tokenizer included).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from librt.strings import BytesWriter, write_i16_le, write_i32_le, write_i64_le
from librt.vecs import append, vec
from mypy_extensions import i16, i32, i64

#: True when this module runs compiled (its file is an extension module, not Python source or bytecode).
NATIVE: Final = not __file__.endswith(".py") and not __file__.endswith(".pyc")
#: The standard base64 alphabet (RFC 4648 §4), what ``binascii.b2a_base64`` writes.
ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_PAD: Final = 61  # "="
_LIMIT: Final = 10**8  # ids below this are written from one 8-byte word of digits; larger or negative ones via str()
_QUOTE_COMMA: Final[i32] = 0x2C22  # '",' little-endian
_NEXT: Final[i32] = 0x22_5B_2C_5D  # '],["' little-endian


def _pair_table() -> vec[i32]:
    """12 bits -> their two base64 characters, packed little-endian (first character in the low byte)."""
    table = vec[i32](capacity=4096)
    for v in range(4096):
        table = append(table, i32(ALPHABET[v >> 6] | (ALPHABET[v & 63] << 8)))
    return table


_PAIRS: Final = _pair_table()


def _unit_table() -> vec[i64]:
    """``256 ** k`` for k < 8: one added to digit k of a word of ASCII digits."""
    table = vec[i64]()
    for k in range(8):
        unit: int = 256**k
        table = append(table, i64(unit))
    return table


_UNITS: Final = _unit_table()


def token_list_json(tokens: list[bytes], ids: list[int]) -> bytes:
    """``[["<base64 of tokens[k]>",<ids[k]>],...]`` as compact JSON (ASCII) bytes.

    Exactly what ``json.dumps([[b64(t), i] for t, i in zip(tokens, ids)], separators=(",", ":"))``
    gives, with ``b64`` standard base64 with padding and no newline.

    Example:
        >>> token_list_json([b"a", b" th"], [64, 1002])
        b'[["YQ==",64],["IHRo",1002]]'

    Raises:
        ValueError: ``tokens`` and ``ids`` differ in length.
    """
    out = BytesWriter()
    _write(tokens, ids, out, None, 0)
    return out.getvalue()


def feed_token_list(tokens: list[bytes], ids: list[int], update: Callable[[bytes], object], chunk: i64 = 1 << 16) -> None:
    """Call ``update`` with the bytes of :func:`token_list_json`, in pieces of about ``chunk`` bytes.

    What the content hash needs (``update`` of a ``hashlib`` digest): the text is never
    whole in memory (3 MB for Qwen3: fresh pages and regrowth copies saved).

    Example:
        >>> pieces = []
        >>> feed_token_list([b"a", b" th"], [64, 1002], pieces.append, chunk=8)
        >>> pieces, b"".join(pieces) == token_list_json([b"a", b" th"], [64, 1002])
        ([b'[["YQ==",64]', b',["IHRo",1002]]'], True)

    Raises:
        ValueError: ``tokens`` and ``ids`` differ in length.
    """
    out = BytesWriter()
    _write(tokens, ids, out, update, max(chunk, 1))
    if len(out) > 0:
        update(out.getvalue())


def _write(tokens: list[bytes], ids: list[int], out: BytesWriter, update: Callable[[bytes], object] | None, chunk: i64) -> None:
    """The token list's JSON into ``out``; with ``update``, handed to it whenever ``out`` holds ``chunk`` bytes."""
    n = len(tokens)
    if len(ids) != n:
        raise ValueError(f"token_list_json: {n} tokens but {len(ids)} ids")
    if n == 0:
        out.write(b"[]")
        return
    out.append(91)  # [
    out.append(91)  # [
    out.append(34)  # "
    units = _UNITS
    prev: int = -2  # the id before (its digits in ``word``, ``digits`` of them, the last in the high byte)
    word: i64 = 0
    digits: i64 = 0
    first = True
    for token, value in zip(tokens, ids):  # (compiled: the lists read in place, no call per item)
        if not first:
            write_i32_le(out, _NEXT)
        first = False
        _base64_into(out, token)
        write_i16_le(out, i16(_QUOTE_COMMA))
        if value == prev + 1 and digits > 0 and ((word >> (8 * digits - 8)) & 0xFF) != 57:  # next id, no carry
            word += units[digits - 1]
            write_i64_le(out, word)
            out.truncate(len(out) - 8 + digits)
        elif 0 <= value < _LIMIT:
            word, digits = _digits(value)
            write_i64_le(out, word)
            out.truncate(len(out) - 8 + digits)
        else:
            out.write(str(value).encode("ascii"))
            digits = 0  # (no word: the next id is converted)
            value = -2
        prev = value
        if update is not None and len(out) >= chunk:
            update(out.getvalue())
            out.truncate(0)
    out.append(93)  # ]
    out.append(93)


def _base64_into(out: BytesWriter, data: bytes) -> None:
    """Append standard base64 of ``data`` (padded, no newline)."""
    pairs = _PAIRS
    n: i64 = len(data)
    full = n - n % 3
    j: i64 = 0
    while j < full:
        triple: i64 = (i64(data[j]) << 16) | (i64(data[j + 1]) << 8) | i64(data[j + 2])
        write_i32_le(out, pairs[triple >> 12] | (pairs[triple & 4095] << 16))
        j += 3
    rest = n - full
    if rest == 1:
        b0: i64 = data[j]
        write_i32_le(out, pairs[b0 << 4] | (0x3D3D << 16))  # "=="
    elif rest == 2:
        pair: i64 = (i64(data[j]) << 8) | i64(data[j + 1])
        write_i32_le(out, pairs[pair >> 4] | ((ALPHABET[(pair & 15) << 2] | 0x3D00) << 16))


def _digits(value: i64) -> tuple[i64, i64]:
    """``str(value)`` (``0 <= value < 10**8``) as ASCII digits in one little-endian word, and their count."""
    v: i64 = value
    word: i64 = 0  # the digits, last one in the high byte (so written in order, little-endian)
    k: i64 = 0
    while True:
        q = (v * 0xCCCCCCCD) >> 35  # v // 10, exact for v < 2**31 (no division instruction)
        word = (word << 8) | (48 + v - q * 10)
        k += 1
        v = q
        if v == 0:
            break
    return word, k
