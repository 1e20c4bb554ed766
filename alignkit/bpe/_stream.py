"""Streaming encode: ids of a stream of text chunks, independent of the chunking.

Text is buffered and cut only where the result cannot depend on what follows:
after a lone ``"\\n"`` (preceded by a printable ASCII character, followed by an
ASCII letter or digit). For every pattern alignkit knows (GPT-2, cl100k, o200k,
Llama 3, Qwen), a pre-token never spans such a point (no alternative lets a
newline prefix a letter/digit run), the one-character whitespace run before it
is the same piece whether or not text follows (a longer run would not be:
``"\\n\\n"`` at the end of a text is one piece, before a letter two), no
special token containing a newline can span it (cuts are disabled when one is
declared), and Unicode normalization cannot compose across it. For any other pattern, and with
``add_prefix_space``, the whole input is buffered (still exact).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Final

from alignkit.bpe.patterns import GPT2_ORIGINAL, KNOWN_PATTERNS

if TYPE_CHECKING:
    from alignkit.bpe.tokenizer import Tokenizer

#: Buffer this many characters before looking for a cut.
CHUNK: Final = 1 << 16
_SAFE_PATTERNS: Final = frozenset(KNOWN_PATTERNS.values()) | {GPT2_ORIGINAL}
_ALNUM: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_PRINTABLE: Final = frozenset(chr(c) for c in range(0x21, 0x7F))


def can_cut(tok: Tokenizer) -> bool:
    """Whether ``tok`` allows cuts in the middle of the stream."""
    if tok.pattern not in _SAFE_PATTERNS or tok.add_prefix_space:
        return False
    return not any("\n" in s for s in tok.special_tokens)


def last_cut(text: str) -> int:
    """The largest safe cut position in ``text`` (0 if none).

    Example:
        >>> last_cut("ab\\ncd\\n  x")
        3
        >>> last_cut("ab\\n\\ncd")
        0
    """
    end = len(text) - 1
    while True:
        nl = text.rfind("\n", 0, end)
        if nl < 1:
            return 0
        if text[nl + 1] in _ALNUM and text[nl - 1] in _PRINTABLE:
            return nl + 1
        end = nl


def iter_encode(tok: Tokenizer, chunks: Iterable[str]) -> Iterator[int]:
    """Yield the ids of ``"".join(chunks)`` without holding the whole text."""
    cuttable = can_cut(tok)
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if not cuttable or size < CHUNK:
            continue
        buf = "".join(parts)
        cut = last_cut(buf)
        if cut > 0:
            yield from tok.encode(buf[:cut])
            buf = buf[cut:]
        parts = [buf]
        size = len(buf)
    if parts:
        yield from tok.encode("".join(parts))
