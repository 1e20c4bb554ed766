"""Helpers shared by the tokenizer-file loaders: file reading, GPT-2's byte<->unicode map."""

from __future__ import annotations

import gzip
import json
import os
import zlib
from pathlib import Path

from alignkit.errors import TokenizerFileError


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from each byte to a printable character.

    Printable Latin-1 bytes map to themselves; the other 68 bytes map, in
    order, to U+0100 onwards (so the space byte 32 becomes ``"Ġ"``).

    Example:
        >>> bytes_to_unicode()[32], bytes_to_unicode()[65]
        ('Ġ', 'A')
    """
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table: dict[int, str] = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


#: Printable character -> byte (the inverse of :func:`bytes_to_unicode`).
UNICODE_TO_BYTE: dict[str, int] = {c: b for b, c in bytes_to_unicode().items()}


def token_bytes(token: str, where: str) -> bytes:
    """Bytes of a token written in GPT-2's printable form.

    Example:
        >>> token_bytes("Ġworld", "vocab.json")
        b' world'
    """
    try:
        return bytes([UNICODE_TO_BYTE[c] for c in token])
    except KeyError as err:
        raise TokenizerFileError(
            f"{where}: token {token!r} has the character {err.args[0]!r}, which is not in GPT-2's "
            "byte-to-unicode alphabet: this is not a byte-level BPE vocabulary"
        ) from None


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a file, gunzipped when it is gzip-compressed."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise TokenizerFileError(f"{path}: cannot read the tokenizer file: {err.strerror or err}") from None
    if data[:2] == b"\x1f\x8b":
        single = _single_member(data)
        if single is not None:
            return single
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:  # (zlib.error: e.g. a bad stored block)
            raise TokenizerFileError(f"{path}: corrupt gzip data ({err}); re-download the file") from None
    return data


def _single_member(data: bytes) -> bytes | None:
    """The content of gzip ``data`` that is exactly one member, inflated into one buffer; else None.

    ``gzip.decompress`` grows its output block by block and joins the blocks (Qwen3's
    11 MB: 39 ms); sized from the trailer, one ``zlib.decompress`` takes 27 ms. The
    answer is that of ``gzip.decompress`` whenever it is not None: the member
    must end where the file does (the last 8 bytes are its own CRC-32 and size)
    and no second gzip header may follow it, so multi-member files, trailing
    bytes or padding, and anything zlib refuses, go to ``gzip.decompress``. (Only
    a crafted file gets past that: trailing bytes without a gzip header that end
    with a copy of the member's own CRC-32 and size.)
    """
    if len(data) < 18:
        return None
    size = int.from_bytes(data[-4:], "little")
    if size > 1032 * len(data) or data.find(b"\x1f\x8b\x08", 10) >= 0:  # deflate expands at most ~1032x
        return None
    try:
        out = zlib.decompress(data, 31, size or 1)
    except zlib.error:
        return None
    if len(out) != size or zlib.crc32(out) != int.from_bytes(data[-8:-4], "little"):
        return None
    return out


def peek(path: str | os.PathLike[str], size: int = 256) -> bytes:
    """The first ``size`` bytes of a file's content (gunzipped when compressed)."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(0)
            if head == b"\x1f\x8b":
                with gzip.open(f) as g:
                    return g.read(size)
            return f.read(size)
    except (OSError, EOFError) as err:
        raise TokenizerFileError(f"{path}: cannot read the tokenizer file: {err}") from None


def decode_text(data: bytes, path: str | os.PathLike[str]) -> str:
    """The UTF-8 text of a file's (gunzipped) bytes; ``path`` names it in the error."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise TokenizerFileError(f"{path}: not UTF-8 text (byte {err.start}); is this the right file?") from None


def read_text(path: str | os.PathLike[str]) -> str:
    """A UTF-8 text file (gzip allowed)."""
    return decode_text(read_bytes(path), path)


def parse_json(data: bytes, path: str | os.PathLike[str]) -> object:
    """JSON from a file's (gunzipped) bytes, with the error position on failure."""
    try:
        return json.loads(decode_text(data, path))
    except json.JSONDecodeError as err:
        raise TokenizerFileError(f"{path}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}") from None


def read_json(path: str | os.PathLike[str]) -> object:
    """A JSON file (gzip allowed), with the error position on failure."""
    return parse_json(read_bytes(path), path)


def expect_dict(value: object, where: str) -> dict[str, object]:
    """``value`` as a JSON object, or a TokenizerFileError naming ``where``."""
    if not isinstance(value, dict):
        raise TokenizerFileError(f"{where}: expected a JSON object, found {type(value).__name__}")
    return value
