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

from typing import Final

from librt.strings import BytesWriter

#: True when this module runs compiled (its file is an extension module, not Python source or bytecode).
NATIVE: Final = not __file__.endswith(".py") and not __file__.endswith(".pyc")
#: The standard base64 alphabet (RFC 4648 §4), what ``binascii.b2a_base64`` writes.
ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_PAD: Final = 61  # "="
_LIMIT: Final = 1 << 62  # ids below this are written digit by digit; larger or negative ones via str()


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
    n = len(tokens)
    if len(ids) != n:
        raise ValueError(f"token_list_json: {n} tokens but {len(ids)} ids")
    if n == 0:
        return b"[]"
    out = BytesWriter()
    out.append(91)  # [
    for k in range(n):
        if k:
            out.append(44)  # ,
        out.append(91)  # [
        out.append(34)  # "
        _base64_into(out, tokens[k])
        out.append(34)
        out.append(44)
        _int_into(out, ids[k])
        out.append(93)  # ]
    out.append(93)
    return out.getvalue()


def _base64_into(out: BytesWriter, data: bytes) -> None:
    """Append standard base64 of ``data`` (padded, no newline)."""
    n = len(data)
    full = n - n % 3
    j = 0
    while j < full:
        triple = (data[j] << 16) | (data[j + 1] << 8) | data[j + 2]
        out.append(ALPHABET[triple >> 18])
        out.append(ALPHABET[(triple >> 12) & 63])
        out.append(ALPHABET[(triple >> 6) & 63])
        out.append(ALPHABET[triple & 63])
        j += 3
    rest = n - full
    if rest == 1:
        b0 = data[j]
        out.append(ALPHABET[b0 >> 2])
        out.append(ALPHABET[(b0 & 3) << 4])
        out.append(_PAD)
        out.append(_PAD)
    elif rest == 2:
        pair = (data[j] << 8) | data[j + 1]
        out.append(ALPHABET[pair >> 10])
        out.append(ALPHABET[(pair >> 4) & 63])
        out.append(ALPHABET[(pair & 15) << 2])
        out.append(_PAD)


def _int_into(out: BytesWriter, value: int) -> None:
    """Append ``str(value)`` as ASCII digits."""
    if value < 0 or value >= _LIMIT:
        out.write(str(value).encode("ascii"))
        return
    scale = 1
    while scale * 10 <= value:
        scale *= 10
    while scale > 0:
        digit = value // scale
        out.append(48 + digit)
        value -= digit * scale
        scale //= 10
