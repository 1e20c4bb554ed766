"""The fast path shared by ``tokenizer.json`` and ``vocab.json`` + ``merges.txt``.

Byte-level BPE files written by GPT-2, Hugging Face ``tokenizers`` and Qwen lay
their vocabulary out in merge order: (special tokens,) the 256 single bytes,
then the token of merge 0, of merge 1, ... each with the next id. When a file is
laid out like that, the rank order that :func:`alignkit.bpe._vocab.bpe_order`
derives (bytes by id, then merge results in list order) is simply the vocabulary
in id order, and checking it takes one list comparison of strings, with no
dictionary lookup per merge and no byte conversion of the merges.

:func:`rank_order` returns None whenever a file is not laid out like that, or
has anything odd in it (a character outside GPT-2's alphabet, a bool id, a
blank merge line...): the caller then runs the general loader, which gives the
same tokenizer, or the same error message, as before. So a result from here is
always the general loader's result.
"""

from __future__ import annotations

import codecs
from bisect import bisect_left
from collections.abc import Sequence
from itertools import islice, repeat

from alignkit.bpe._fileio import bytes_to_unicode
from alignkit.bpe.loaders._json_scan import Merges
from alignkit.bpe.loaders._printable import LIMIT, NATIVE, joined_to_bytes, merges_make

_BYTE_CHAR = bytes_to_unicode()
#: GPT-2's printable character of each byte, in byte order.
ALPHABET = "".join(_BYTE_CHAR[b] for b in range(256))
ALPHABET_SET = frozenset(ALPHABET)
#: charmap codec table: printable character -> byte (anything else fails to encode).
_TO_BYTES = codecs.charmap_build(ALPHABET)
#: the bytes that GPT-2 writes as U+0100, U+0101... (the compiled converter's table).
_HIGH = bytes(sorted(range(256), key=lambda b: ALPHABET[b])[-(LIMIT - 0x100) :])


def printable_to_bytes(tokens: list[str]) -> list[bytes] | None:
    """Bytes of tokens written in GPT-2's printable form, or None if one has a foreign character.

    Example:
        >>> printable_to_bytes(["Ġworld", "!"])
        [b' world', b'!']
        >>> printable_to_bytes(["a b"]) is None  # a real space is not in the alphabet
        True
    """
    if NATIVE and tokens:
        try:
            data = "\n".join(tokens).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            return None
        out = joined_to_bytes(data, _HIGH)
        return out if out is not None and len(out) == len(tokens) else None  # (a "\n" in a token)
    encode, table = codecs.charmap_encode, _TO_BYTES
    try:
        return [encode(t, "strict", table)[0] for t in tokens]
    except UnicodeEncodeError:
        return None


def merge_results(merges: Sequence[object]) -> tuple[str, int] | None:
    """The tokens the merges make (``"Ġ t"`` or ``["Ġ", "t"]`` -> ``"Ġt"``), one per line, and their count.

    None when a merge is not exactly two non-empty parts (a blank line, a
    ``#version`` header, extra spaces, a newline, non-strings): the general
    parser says what is wrong or skips it.

    Example:
        >>> merge_results(["Ġ t", ["h", "e"]]) is None  # mixed forms: left to the general parser
        True
        >>> merge_results([["Ġ", "t"], ["h", "e"]])
        ('Ġt\\nhe', 2)
        >>> merge_results(["Ġ t", "h e"])
        ('Ġt\\nhe', 2)
    """
    n = len(merges)
    if not n:
        return "", 0
    kinds = set(map(type, merges))
    if kinds == {str}:
        lines: list[str] = merges  # type: ignore[assignment]
        text = "\n".join(lines)
        if (
            lines[0].startswith("#version")
            or text.count(" ") != n  # with a space on every line: exactly one each
            or not all(map(str.__contains__, lines, repeat(" ")))
            or text.count("\n") != n - 1
            or "\n " in text
            or " \n" in text
            or text[0] == " "
            or text[-1] == " "
        ):
            return None
        return text.replace(" ", ""), n
    if kinds == {list}:
        pairs: list[list[object]] = merges  # type: ignore[assignment]
        if set(map(len, pairs)) != {2} or not all(map(all, pairs)):
            return None
        first = pairs[0][0]
        if not isinstance(first, str) or first.startswith("#version"):
            return None
        try:
            text = "\n".join(map("".join, pairs))  # type: ignore[arg-type]
        except TypeError:  # a part that is not a string
            return None
        return (text, n) if text.count("\n") == n - 1 else None
    return None


def rank_order(
    vocab: dict[str, object], merges: list[object], special_ids: set[int]
) -> tuple[list[bytes], list[int], dict[int, bytes]] | None:
    """``(BPE tokens in rank order, their ids, decode-only tokens)`` of a file in merge layout.

    ``vocab`` is the file's token -> id map (printable form), ``merges`` its
    merges (``"a b"`` or ``["a", "b"]``), ``special_ids`` the ids of the
    added/special tokens (left out of the BPE, as the general loader does).
    None when the file is not in merge layout or anything in it is unusual.

    Example:
        >>> vocab = {c: i for i, c in enumerate(ALPHABET)} | {"ab": 256, "<s>": 257}
        >>> tokens, ids, added = rank_order(vocab, ["a b"], {257})
        >>> tokens[-1], ids[-1], added
        (b'ab', 256, {})
    """
    made = None if NATIVE else merge_results(merges)  # compiled: checked in place below
    if made is None and not NATIVE:
        return None
    keys = list(vocab)
    ids: list[int] = list(vocab.values())  # type: ignore[arg-type]
    n = len(keys)
    if set(map(type, ids)) != {int}:  # exactly int: no bool, no float
        return None
    if ids != sorted(ids):
        order = sorted(range(n), key=ids.__getitem__)
        keys, ids = [keys[k] for k in order], [ids[k] for k in order]
    id_set = set(ids)
    if not ids or ids[0] < 0 or len(id_set) != n:
        return None
    if not special_ids.isdisjoint(id_set):
        places = sorted(bisect_left(ids, i) for i in special_ids & id_set)  # ids are sorted
        if printable_to_bytes([keys[k] for k in places]) is None:  # the general loader checks these too
            return None
        for k in reversed(places):
            del keys[k], ids[k]
    bpe = 256 + len(merges)
    if len(keys) < bpe or set(keys[:256]) != ALPHABET_SET:
        return None
    if not (merges_make(merges, keys, 256) if made is None else "\n".join(keys[256:bpe]) == made[0]):
        return None
    tokens = printable_to_bytes(keys)
    if tokens is None:
        return None
    added = dict(zip(ids[bpe:], tokens[bpe:]))
    del tokens[bpe:], ids[bpe:]
    return tokens, ids, added


def scanned_rank_order(
    tokens: list[bytes],
    ids: list[int],
    increasing: bool,
    merges: Merges,
    special_ids: set[int],
    *,
    dense: bool = False,
) -> tuple[list[bytes], list[int], dict[int, bytes], dict[bytes, int] | None] | None:
    """:func:`rank_order` of a vocabulary already read as bytes (:mod:`._json_scan`), plus the rank dict.

    ``tokens``/``ids`` are the vocabulary in file order (a key written twice
    appears twice: then the answer is None, as JSON would keep only one),
    ``increasing`` says whether ``ids`` strictly increase. Returns ``(BPE tokens in
    rank order, their ids, decode-only tokens, token -> id of the BPE tokens)``;
    the lists given are consumed.

    With ``dense``, when the BPE tokens' ids are ``0, 1, ..., n - 1`` (the usual
    case) no rank dict is built: the last item is None, and the BPE tokens are
    not yet known to be distinct. The caller then hands them to
    :meth:`~alignkit.bpe.tokenizer.Tokenizer._from_merge_layout`, whose core
    index raises ``ValueError`` for a token given twice (the answer would have been None).

    Example:
        >>> from alignkit.bpe.loaders._json_scan import scan_merges_text
        >>> vocab = [bytes([b]) for b in range(256)] + [b"ab", b"<s>"]
        >>> tokens, ids, added, ranks = scanned_rank_order(
        ...     vocab, list(range(258)), True, scan_merges_text(b"a b", 0), {257})
        >>> tokens[-1], ids[-1], added, ranks[b"ab"]
        (b'ab', 256, {}, 256)
    """
    n = len(ids)
    if not n or len(tokens) != n:
        return None
    if not increasing:
        order = sorted(range(n), key=ids.__getitem__)
        tokens, ids = [tokens[k] for k in order], [ids[k] for k in order]
        if ids[0] < 0 or len(set(ids)) != n:
            return None
    places = []
    for i in special_ids:
        p = bisect_left(ids, i)
        if p < n and ids[p] == i:
            places.append(p)
    places.sort()
    others = [tokens[p] for p in places]  # specials in the vocabulary: left out of the BPE
    if places and places[0] < 256 + len(merges):
        merges.keep_parts()  # (the merges may be tokens of this list: kept before it shifts)
    for p in reversed(places):
        del tokens[p], ids[p]
    bpe = 256 + len(merges)
    head = tokens[:256]
    if len(tokens) < bpe or len(set(head)) != 256 or set(map(len, head)) != {1}:
        return None
    if not merges.made(tokens, 256):
        return None
    if dense and ids[0] == 0 and ids[bpe - 1] == bpe - 1:  # strictly increasing: ids are 0..bpe-1
        others += tokens[bpe:]
        if others and (len(set(others)) != len(others) or not set(others).isdisjoint(islice(tokens, bpe))):
            return None  # a token written twice
        added = dict(zip(ids[bpe:], tokens[bpe:]))
        del tokens[bpe:], ids[bpe:]
        return tokens, ids, added, None
    ranks = dict(zip(tokens, ids) if len(tokens) == bpe else zip(tokens[:bpe], ids[:bpe]))
    others += tokens[bpe:]
    if len(ranks) != bpe or len(set(others)) != len(others) or not ranks.keys().isdisjoint(others):
        return None  # a token written twice
    added = dict(zip(ids[bpe:], tokens[bpe:]))
    del tokens[bpe:], ids[bpe:]
    return tokens, ids, added, ranks
