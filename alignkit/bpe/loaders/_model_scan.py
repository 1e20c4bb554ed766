"""The token lists of alignkit's own tokenizer file, read straight from its bytes (compiled).

alignkit's file (:mod:`alignkit.bpe.model_file`; the bundled GPT-2 is one) is
mostly ``"tokens": [["<base64>", id], ...]``. ``json.loads`` makes two strings and
a list per token, then ``a2b_base64`` decodes each. :func:`scan_model_tokens` walks
the document once, decoding the ``tokens`` and ``added`` lists directly (canonical
base64 only: the standard alphabet, ``=`` padding, zero spare bits, as
``b2a_base64`` writes it) and skipping everything else, which the caller parses
with ``json.loads`` once those two values are cut out (:func:`model_doc`).
Anything else (an empty or non-canonical token, a negative or non-integer id, an
escaped or repeated key...) answers None: the caller's ``json.loads`` path
decides, and names the fault.
"""

from __future__ import annotations

import json
from typing import Final

from librt.strings import BytesWriter
from mypy_extensions import i64, u8

from alignkit.bpe.loaders._json_cursor import QUOTE, Cursor

#: True when this module runs compiled (its file is an extension module, not Python source or bytecode).
NATIVE: Final = not __file__.endswith(".py") and not __file__.endswith(".pyc")
#: What the two scanned values are replaced with before ``json.loads`` of the rest.
MARKS: Final = (b'"\\u0000tokens"', b'"\\u0000added"')


def _sextet(c: i64) -> i64:
    """The value of a base64 character, -1 for anything else."""
    if 65 <= c <= 90:
        return c - 65
    if 97 <= c <= 122:
        return c - 71
    if 48 <= c <= 57:
        return c + 4
    if c == 43:
        return 62
    if c == 47:
        return 63
    return -1


def _base64(data: bytes, start: i64, end: i64, out: BytesWriter) -> bool:
    """Decode canonical padded base64 ``data[start:end]`` into ``out``; False if not canonical or empty."""
    size = end - start
    if size <= 0 or size % 4 != 0:
        return False
    pad: i64 = 0
    if data[end - 1] == 61:
        pad = 2 if data[end - 2] == 61 else 1
    j = start
    v: i64 = 0
    while j < end:
        quad: i64 = 0
        last = j + 4 == end
        for k in range(4):
            if last and k >= 4 - pad:
                v = 0
            else:
                v = _sextet(data[j + k])
                if v < 0:
                    return False
            quad = (quad << 6) | v
        out.append(u8(quad >> 16))
        if last and pad == 2:
            if quad & 0xFFFF:
                return False  # spare bits set: a2b_base64 would ignore them, the canonical form has none
        else:
            out.append(u8((quad >> 8) & 255))
            if last and pad == 1:
                if quad & 0xFF:
                    return False
            else:
                out.append(u8(quad & 255))
        j += 4
    return True


def _pairs(cur: Cursor, tokens: list[bytes], ids: list[int]) -> bool:
    """The ``[["<base64>", id], ...]`` array at ``pos`` (its ``[``) into ``tokens``/``ids``."""
    data = cur.data
    out = cur.out
    more = cur.enter(data, 93)
    while more > 0:
        if cur.ws(data) != 91:
            return False
        cur.pos += 1
        if cur.ws(data) != QUOTE:
            return False
        start = cur.pos + 1
        end = start
        while end < cur.n and data[end] != QUOTE:
            end += 1
        out.truncate(0)
        if end >= cur.n or not _base64(data, start, end, out):
            return False
        cur.pos = end + 1
        if cur.next_item(data, 93) != 1:
            return False
        tid = cur.number(data)
        if tid < 0 or cur.next_item(data, 93) != 0:
            return False
        tokens.append(out.getvalue())
        ids.append(tid)
        more = cur.next_item(data, 93)
    return more == 0


def scan_model_tokens(data: bytes) -> tuple[list[bytes], list[int], list[bytes], list[int], list[int]] | None:
    """``(tokens, ids, added tokens, added ids, spans)`` of an alignkit tokenizer file's bytes, or None.

    ``spans`` is ``[tokens start, tokens end, added start, added end]`` (byte offsets
    of the two JSON values). Both lists must be present.

    Example:
        >>> scan_model_tokens(b'{"tokens": [["YQ==", 0], ["IHRo", 1]], "added": []}')
        ([b'a', b' th'], [0, 1], [], [], [11, 37, 48, 50])
    """
    cur = Cursor(data)
    tokens: list[bytes] = []
    ids: list[int] = []
    added: list[bytes] = []
    added_ids: list[int] = []
    spans = [-1, -1, -1, -1]
    if cur.ws(data) != 123 or cur.enter(data, 125) != 1:
        return None
    more: i64 = 1
    while more > 0:
        which = cur.member(data, b"tokens", b"added", spans)
        if which < 0:
            return None
        if which > 0:
            first = which == 1
            if cur.ws(data) != 91 or not _pairs(cur, tokens if first else added, ids if first else added_ids):
                return None
        more = cur.member_end(data, which, spans)
    if more < 0:
        return None
    if cur.ws(data) != -1 or spans[0] < 0 or spans[2] < 0:
        return None
    return tokens, ids, added, added_ids, spans


def model_doc(data: bytes) -> tuple[dict[str, object], dict[str, tuple[list[bytes], list[int]]]] | None:
    """The file's document (``json.loads``, without its token lists) and those lists, read natively.

    In the document, ``tokens`` and ``added`` are placeholder strings; the second
    value maps each of those keys to ``(token bytes, ids)``, what
    ``model_file._pairs`` reads from the document. None when the scanner steps
    aside or the rest is not valid JSON (then ``json.loads`` of the whole file
    answers or names the error).

    Example:
        >>> doc, pairs = model_doc(b'{"format": "alignkit-bpe", "tokens": [["YQ==", 7]], "added": []}')
        >>> doc["format"], pairs["tokens"], pairs["added"]
        ('alignkit-bpe', ([b'a'], [7]), ([], []))
    """
    scanned = scan_model_tokens(data)
    if scanned is None:
        return None
    tokens, ids, added, added_ids, spans = scanned
    ts, te, a_s, ae = spans[0], spans[1], spans[2], spans[3]
    if ts < a_s:
        rest = data[:ts] + MARKS[0] + data[te:a_s] + MARKS[1] + data[ae:]
    else:
        rest = data[:a_s] + MARKS[1] + data[ae:ts] + MARKS[0] + data[te:]
    try:
        parsed: object = json.loads(rest.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(parsed, dict) or parsed.get("tokens") != "\0tokens" or parsed.get("added") != "\0added":
        return None
    doc: dict[str, object] = parsed
    return doc, {"tokens": (tokens, ids), "added": (added, added_ids)}
