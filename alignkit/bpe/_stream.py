"""Streaming encode: ids of a stream of text chunks, independent of the chunking.

Text is buffered and cut only where the result cannot depend on what follows:
at a run of ``"\\n"`` that is preceded by a printable ASCII character and
followed by an ASCII letter or digit (prose separates paragraphs by blank lines,
so such runs are everywhere). Where in the run depends on the pattern:

- GPT-2 (``\\s+(?!\\S)|\\s``): a run before a letter splits into its first
  n-1 newlines and a lone one, so the cut goes *before the last newline*: at the
  end of a text the first n-1 newlines are one piece too (``\\s++$``).
- cl100k, o200k, Llama 3, Qwen (``\\s*[\\r\\n]+``, punctuation absorbing
  ``[\\r\\n]*``): the whole run is one piece, so the cut goes *after the run*.

No alternative of these patterns lets a newline prefix a letter/digit run, no
special token containing a newline can span a cut (cuts are disabled when one is
declared), and Unicode normalization cannot compose across ASCII. For any other
pattern, and with ``add_prefix_space``, the whole input is buffered (still exact).
A cut is looked for only when the buffer has doubled since the last failed try,
so the work stays linear in the input.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Final

from alignkit.bpe.patterns import GPT2, GPT2_ORIGINAL, KNOWN_PATTERNS

if TYPE_CHECKING:
    from alignkit.bpe.tokenizer import Tokenizer

#: Buffer this many characters before looking for a cut.
CHUNK: Final = 1 << 16
_SAFE_PATTERNS: Final = frozenset(KNOWN_PATTERNS.values()) | {GPT2_ORIGINAL}
#: Patterns whose newline runs end in a lone-newline piece before a letter.
_CUT_BEFORE_LAST_NEWLINE: Final = frozenset({GPT2, GPT2_ORIGINAL})
_ALNUM: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_PRINTABLE: Final = frozenset(chr(c) for c in range(0x21, 0x7F))


def can_cut(tok: Tokenizer) -> bool:
    """Whether ``tok`` allows cuts in the middle of the stream."""
    if tok.pattern not in _SAFE_PATTERNS or tok.add_prefix_space:
        return False
    return not any("\n" in s for s in tok.special_tokens)


def cuts_before_last_newline(tok: Tokenizer) -> bool:
    """Whether a cut in ``tok``'s newline runs goes before the run's last newline (GPT-2), not after it."""
    return tok.pattern in _CUT_BEFORE_LAST_NEWLINE


def last_cut(text: str, *, before_last_newline: bool = False) -> int:
    """The largest safe cut position in ``text`` (0 if none).

    Example:
        >>> last_cut("ab\\ncd\\n  x")
        3
        >>> last_cut("ab.\\n\\ncd"), last_cut("ab.\\n\\ncd", before_last_newline=True)
        (5, 4)
    """
    end = len(text) - 1
    while True:
        nl = text.rfind("\n", 0, end)
        if nl < 0:
            return 0
        start = nl
        while start > 0 and text[start - 1] == "\n":
            start -= 1
        if text[nl + 1] in _ALNUM and start > 0 and text[start - 1] in _PRINTABLE:
            return nl if before_last_newline else nl + 1
        end = start


def iter_encode(tok: Tokenizer, chunks: Iterable[str]) -> Iterator[int]:
    """Yield the ids of ``"".join(chunks)`` without holding the whole text."""
    cuttable = can_cut(tok)
    before_last = cuts_before_last_newline(tok)
    parts: list[str] = []
    size = 0
    next_try = CHUNK
    for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if not cuttable or size < next_try:
            continue
        buf = "".join(parts)
        cut = last_cut(buf, before_last_newline=before_last)
        if cut > 0:
            yield from tok.encode(buf[:cut])
            buf = buf[cut:]
            next_try = len(buf) + CHUNK
        else:
            next_try = 2 * len(buf)  # no cut point yet: wait until the buffer doubles
        parts = [buf]
        size = len(buf)
    if parts:
        yield from tok.encode("".join(parts))
