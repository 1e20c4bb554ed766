"""Compiled pre-tokenizers: hand-written scanners equal to the known split regexes.

Each scanner works on the UTF-8 bytes of the text and a parallel byte string of
code-point classes (see :func:`classify`): every byte of a code point carries the
class bits of that code point, so runs of one class are plain byte loops, and no
per-character ``str`` is ever built. ``next_end(kind, data, cls, i)`` returns the
end of the piece that starts at byte ``i``; the pieces are exactly the matches of
``regex.findall(pattern, text)`` (proven by the differential tests in
``tests/bpe/test_bpe_scan.py``).

Supported patterns (:data:`alignkit.bpe.patterns`): GPT-2 (and its original,
non-possessive spelling, which splits identically), cl100k, o200k, Llama 3, Qwen.
Any other pattern gets ``KIND_REGEX`` and the caller falls back to ``regex``.

Lone surrogates (only reachable through ``str.encode(..., "surrogatepass")``) are
three-byte sequences whose class is "other" (``\\p{Cs}``), as in ``regex``.
"""

from __future__ import annotations

from typing import Final

from librt.strings import BytesWriter
from mypy_extensions import i64, u8

from alignkit.bpe import patterns
from alignkit.bpe._unicode import FOLDS, SHIFT, STAGE1, STAGE2

KIND_REGEX: Final = -1
KIND_GPT2: Final = 0
KIND_CL100K: Final = 1
KIND_O200K: Final = 2
KIND_LLAMA3: Final = 3
KIND_QWEN: Final = 4

_L: Final = 1
_N: Final = 2
_S: Final = 4
_U: Final = 8
_W: Final = 16
_LNS: Final = 7
_MARK: Final = 0x80  # "non-ASCII, not classified yet" in the translate table
_MASK: Final = (1 << SHIFT) - 1

_KINDS: Final[dict[str, int]] = {
    patterns.GPT2: KIND_GPT2,
    patterns.GPT2_ORIGINAL: KIND_GPT2,
    patterns.CL100K: KIND_CL100K,
    patterns.O200K: KIND_O200K,
    patterns.LLAMA3: KIND_LLAMA3,
    patterns.QWEN: KIND_QWEN,
}


def _ascii_table() -> bytes:
    out = bytearray(256)
    for b in range(256):
        out[b] = STAGE2[(STAGE1[0] << SHIFT) | b] if b < 128 else _MARK
    return bytes(out)


_ASCII: Final[bytes] = _ascii_table()


def _two_byte_table() -> bytes:
    """Classes of U+0000..U+07FF by ``(lead & 0x1F) << 6 | (continuation & 0x3F)``."""
    out = bytearray(2048)
    for cp in range(2048):
        out[cp] = code_point_class(cp)
    return bytes(out)


def pattern_kind(pattern: str) -> int:
    """Return the scanner kind for a split pattern, or ``KIND_REGEX`` if it has none.

    Example:
        >>> from alignkit.bpe import patterns
        >>> pattern_kind(patterns.GPT2_ORIGINAL) == pattern_kind(patterns.GPT2) == KIND_GPT2
        True
        >>> pattern_kind(r"\\w+")
        -1
    """
    return _KINDS.get(pattern, KIND_REGEX)


def code_point_class(cp: int) -> int:
    """Return the class bits (L=1, N=2, S=4, U=8, W=16) of one code point.

    Example:
        >>> code_point_class(ord("A")), code_point_class(ord("7")), code_point_class(0x3000)
        (9, 2, 4)
    """
    return STAGE2[(STAGE1[cp >> SHIFT] << SHIFT) | (cp & _MASK)]


_TWO: Final[bytes] = _two_byte_table()


def classify(data: bytes) -> bytes:
    """Return the per-byte class string of UTF-8 ``data`` (one class byte per input byte).

    Every byte of a multi-byte code point carries that code point's class. Bytes
    that do not form valid UTF-8 (surrogates encoded with ``surrogatepass`` are
    accepted as three-byte sequences) are classed "other" (0).

    Example:
        >>> list(classify("a é".encode()))
        [17, 4, 17, 17]
    """
    cls = data.translate(_ASCII)  # one C call; every non-ASCII byte becomes _MARK
    if data.isascii():
        return cls
    w = BytesWriter()
    w.write(cls)
    n: i64 = len(data)
    two = _TWO
    s1 = STAGE1
    s2 = STAGE2
    i: i64 = 0
    while i < n:
        b = data[i]
        if b < 0x80:  # ASCII: already classed by translate
            i += 1
            continue
        if 0xC2 <= b <= 0xDF and i + 1 < n:
            c = data[i + 1]
            if c & 0xC0 == 0x80:
                v2 = u8(two[((b & 0x1F) << 6) | (c & 0x3F)])
                w[i] = v2
                w[i + 1] = v2
                i += 2
                continue
        size: i64 = 1
        cp = 0
        if 0xE0 <= b <= 0xEF:
            size = 3
            cp = b & 0x0F
        elif 0xF0 <= b <= 0xF4:
            size = 4
            cp = b & 0x07
        if size > 1 and i + size <= n:
            k: i64 = 1
            while k < size:
                c = data[i + k]
                if c & 0xC0 != 0x80:
                    break
                cp = (cp << 6) | (c & 0x3F)
                k += 1
            if k != size or cp > 0x10FFFF:
                size = 1
        else:
            size = 1
        if size == 1:  # invalid or truncated sequence: "other", byte by byte
            w[i] = 0
            i += 1
            continue
        v = u8(s2[(s1[cp >> SHIFT] << SHIFT) | (cp & _MASK)])
        k = 0
        while k < size:
            w[i + k] = v
            k += 1
        i += size
    return w.getvalue()


def _next_cp(data: bytes, i: i64, n: i64) -> i64:
    i += 1
    while i < n and data[i] & 0xC0 == 0x80:
        i += 1
    return i


def _prev_cp(data: bytes, i: i64) -> i64:
    i -= 1
    while i > 0 and data[i] & 0xC0 == 0x80:
        i -= 1
    return i


def _fold_at(data: bytes, i: i64, n: i64) -> i64:
    """Lower-case ASCII letter that the code point at ``i`` folds to, times 8, plus its size."""
    if i >= n:
        return 0
    b: i64 = data[i]
    if b < 0x80:
        if 0x41 <= b <= 0x5A:
            b += 32
        return b * 8 + 1
    j = _next_cp(data, i, n)
    size = j - i
    cp: i64 = 0
    if size == 2:
        cp = ((b & 0x1F) << 6) | (data[i + 1] & 0x3F)
    elif size == 3:
        cp = ((b & 0x0F) << 12) | ((data[i + 1] & 0x3F) << 6) | (data[i + 2] & 0x3F)
    else:
        return 0
    f: i64 = FOLDS.get(int(cp), 0)
    return f * 8 + size


def _contraction(data: bytes, i: i64, n: i64) -> i64:
    """End of ``(?i:'s|'t|'re|'ve|'m|'ll|'d)`` at ``i``, or -1."""
    if i >= n or data[i] != 0x27:
        return -1
    f = _fold_at(data, i + 1, n)
    a = f >> 3
    j = i + 1 + (f & 7)
    if a == 0x73 or a == 0x74 or a == 0x6D or a == 0x64:  # s t m d
        return j
    if a == 0x6C or a == 0x76 or a == 0x72:  # l v r
        g = _fold_at(data, j, n)
        c = g >> 3
        if (a == 0x6C and c == 0x6C) or (a != 0x6C and c == 0x65):
            return j + (g & 7)
    return -1


def _ws_end(data: bytes, cls: bytes, i: i64, n: i64, kind: i64) -> i64:
    """End of the whitespace piece at ``i`` (the code point at ``i`` is ``\\s``)."""
    e = i
    while e < n and cls[e] & _S:
        e += 1
    if e == n and kind != KIND_LLAMA3 and kind != KIND_QWEN and kind != KIND_O200K:
        return n  # \s++$
    if kind != KIND_GPT2:  # \s*[\r\n]
        k = e - 1
        while k >= i:
            b = data[k]
            if b == 10 or b == 13:
                return k + 1
            k -= 1
    if e == n:
        return n
    j = _next_cp(data, i, n)
    if j < e:  # \s+(?!\S): give back the last code point
        return _prev_cp(data, e)
    return j


def _next_gpt2(data: bytes, cls: bytes, i: i64, n: i64) -> i64:
    b = data[i]
    c = cls[i]
    if b == 0x27 and i + 1 < n:
        b1 = data[i + 1]
        if b1 == 0x73 or b1 == 0x64 or b1 == 0x6D or b1 == 0x74:
            return i + 2
        if i + 2 < n:
            b2 = data[i + 2]
            if (b1 == 0x6C and b2 == 0x6C) or (b2 == 0x65 and (b1 == 0x76 or b1 == 0x72)):
                return i + 3
    j = i
    if b == 0x20 and i + 1 < n:
        j = i + 1
        c = cls[j]
        if c & _S:
            j = i
            c = cls[i]
    if c & _L:
        while j < n and cls[j] & _L:
            j += 1
        return j
    if c & _N:
        while j < n and cls[j] & _N:
            j += 1
        return j
    if c & _LNS == 0:
        while j < n and cls[j] & _LNS == 0:
            j += 1
        return j
    return _ws_end(data, cls, i, n, KIND_GPT2)


def _next_letters_digits_other(data: bytes, cls: bytes, i: i64, n: i64, kind: i64) -> i64:
    """cl100k / Llama 3 / Qwen: everything after the contraction alternative."""
    b = data[i]
    c = cls[i]
    if c & _L:
        j = i + 1
        while j < n and cls[j] & _L:
            j += 1
        return j
    if c & _N:
        j = _next_cp(data, i, n)
        if kind != KIND_QWEN:
            k = 0
            while k < 2 and j < n and cls[j] & _N:
                j = _next_cp(data, j, n)
                k += 1
        return j
    if b != 10 and b != 13:
        j = _next_cp(data, i, n)
        if j < n and cls[j] & _L:
            j += 1
            while j < n and cls[j] & _L:
                j += 1
            return j
    j = i
    if b == 0x20 and i + 1 < n and cls[i + 1] & _LNS == 0:
        j = i + 1
    if cls[j] & _LNS == 0:
        while j < n and cls[j] & _LNS == 0:
            j += 1
        while j < n and (data[j] == 10 or data[j] == 13):
            j += 1
        return j
    return _ws_end(data, cls, i, n, kind)


def _o200k_upper_lower(data: bytes, cls: bytes, s: i64, n: i64) -> i64:
    """``[U]*[W]+`` at ``s`` with backtracking; end or -1."""
    b = s
    while b < n and cls[b] & _U:
        b += 1
    if b < n and cls[b] & _W:
        while b < n and cls[b] & _W:
            b += 1
        return b
    k = b
    while k > s:
        k = _prev_cp(data, k)
        if cls[k] & _W:
            return _next_cp(data, k, n)
    return -1


def _o200k_letters(data: bytes, cls: bytes, i: i64, n: i64) -> i64:
    """The two letter alternatives of o200k (without the contraction suffix); end or -1."""
    c = cls[i]
    b = data[i]
    s: i64 = -1
    if c & (_L | _N) == 0 and b != 10 and b != 13:
        s = _next_cp(data, i, n)
        if s < n:
            e = _o200k_upper_lower(data, cls, s, n)
            if e > 0:
                return e
    if c & (_U | _W):
        e = _o200k_upper_lower(data, cls, i, n)
        if e > 0:
            return e
    if s >= 0 and s < n and cls[s] & _U:
        i = s
    elif c & _U == 0:
        return -1
    e = i
    while e < n and cls[e] & _U:
        e += 1
    while e < n and cls[e] & _W:
        e += 1
    return e


def _next_o200k(data: bytes, cls: bytes, i: i64, n: i64) -> i64:
    # Fast path, the common word: an optional ASCII [^\r\n\p{L}\p{N}] and a letter of W
    # but not U (lower case): the first alternative matches, [U]* empty, [W]+ greedy.
    b = data[i]
    j = i
    if cls[i] & (_L | _N) == 0 and b < 0x80 and b != 10 and b != 13 and i + 1 < n:
        j = i + 1
    c = cls[j]
    if c & (_U | _W) == _W:
        e = j + 1
        while e < n and cls[e] & _W:
            e += 1
        if e < n and data[e] == 0x27:
            f = _contraction(data, e, n)
            if f > 0:
                return f
        return e
    return _next_o200k_general(data, cls, i, n)


def _next_o200k_general(data: bytes, cls: bytes, i: i64, n: i64) -> i64:
    e = _o200k_letters(data, cls, i, n)
    if e > 0:
        if e < n and data[e] == 0x27:
            f = _contraction(data, e, n)
            if f > 0:
                return f
        return e
    b = data[i]
    c = cls[i]
    if c & _N:
        j = _next_cp(data, i, n)
        k = 0
        while k < 2 and j < n and cls[j] & _N:
            j = _next_cp(data, j, n)
            k += 1
        return j
    j = i
    if b == 0x20 and i + 1 < n and cls[i + 1] & _LNS == 0:
        j = i + 1
    if cls[j] & _LNS == 0:
        while j < n and cls[j] & _LNS == 0:
            j += 1
        while j < n:
            d = data[j]
            if d != 10 and d != 13 and d != 0x2F:
                break
            j += 1
        return j
    return _ws_end(data, cls, i, n, KIND_O200K)


def next_end(kind: int, data: bytes, cls: bytes, i: int) -> int:
    """Return the end of the piece of ``data`` that starts at byte ``i`` (``i < len(data)``).

    Example:
        >>> data = "Hi  you".encode()
        >>> next_end(KIND_GPT2, data, classify(data), 2)   # "  you" -> " " then " you"
        3
    """
    return piece_end(kind, data, cls, i, len(data))


def piece_end(kind: i64, data: bytes, cls: bytes, i: i64, n: i64) -> i64:
    """:func:`next_end` on native integers (``n == len(data)``), for the encoder's loop.

    Example:
        >>> data = "Hi  you".encode()
        >>> piece_end(KIND_GPT2, data, classify(data), 2, len(data))
        3
    """
    if kind == KIND_O200K:
        return _next_o200k(data, cls, i, n)
    if kind == KIND_GPT2:
        return _next_gpt2(data, cls, i, n)
    if kind == KIND_CL100K or kind == KIND_LLAMA3 or kind == KIND_QWEN:
        if data[i] == 0x27:
            e = _contraction(data, i, n)
            if e > 0:
                return e
        return _next_letters_digits_other(data, cls, i, n, kind)
    raise ValueError(f"no compiled scanner for kind {kind}; use the regex fallback")


def piece_ends(kind: int, data: bytes) -> list[int]:
    """Return the end offsets of all pieces of ``data`` (the split as a list of boundaries).

    Example:
        >>> data = "I'm 12345!".encode()
        >>> ends = piece_ends(KIND_CL100K, data)
        >>> [data[a:b].decode() for a, b in zip([0] + ends, ends)]
        ['I', "'m", ' ', '123', '45', '!']
    """
    cls = classify(data)
    n: i64 = len(data)
    out: list[int] = []
    i: i64 = 0
    while i < n:
        i = piece_end(kind, data, cls, i, n)
        out.append(i)
    return out


def piece_count(kind: int, data: bytes) -> int:
    """Return the number of pieces of ``data``: :func:`piece_ends` without building the list.

    This is the scanner's work in an encode (classify once, then one ``next_end`` per
    piece), which ``benchmarks/bench_scan.py`` times on its own.

    Example:
        >>> piece_count(KIND_CL100K, "I'm 12345!".encode())
        6
    """
    cls = classify(data)
    n: i64 = len(data)
    count: i64 = 0
    i: i64 = 0
    while i < n:
        i = piece_end(kind, data, cls, i, n)
        count += 1
    return count
