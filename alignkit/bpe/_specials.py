"""Special-token splitting: find declared special tokens in text, longest first.

A text is cut into ordinary runs and special-token matches. Matching is
leftmost, and at one position the LONGEST declared token wins (the
"leftmost-longest" rule of Hugging Face ``tokenizers``): with both
``<|endoftext|>`` and ``<|endoftext|><|endoftext|>`` declared, the doubled
string is one token.

This stays interpreted: the work is one C-level regex scan over the text.
"""

from __future__ import annotations

import os
import re
from typing import Final

#: Id given to ordinary (non-special) runs in :meth:`SpecialSplitter.split`.
TEXT: Final = -1


class SpecialSplitter:
    """Cuts text at declared special tokens.

    Args:
        specials: special-token string -> id.

    Example:
        >>> s = SpecialSplitter({"<|a|>": 7, "<|a|><|a|>": 8})
        >>> s.split("x<|a|><|a|>y<|a|>")
        [('x', -1), ('<|a|><|a|>', 8), ('y', -1), ('<|a|>', 7)]
    """

    def __init__(self, specials: dict[str, int]) -> None:
        self.specials: dict[str, int] = dict(specials)
        names = sorted((s for s in self.specials if s), key=lambda s: (-len(s), s))
        self.regex: re.Pattern[str] | None = (
            re.compile("|".join(re.escape(s) for s in names)) if names else None
        )
        self.max_len: int = max((len(s) for s in names), default=0)
        #: Common prefix of all specials ("<|" for most): where it is absent, nothing matches.
        self.prefix: str = os.path.commonprefix(names) if names else ""

    def split(self, text: str) -> list[tuple[str, int]]:
        """Ordinary runs as ``(text, TEXT)``, specials as ``(token, id)``, in order.

        Empty ordinary runs are left out.

        Example:
            >>> SpecialSplitter({"<s>": 1}).split("<s>hi")
            [('<s>', 1), ('hi', -1)]
        """
        regex = self.regex
        if regex is None or (self.prefix and self.prefix not in text):
            return [(text, TEXT)] if text else []
        out: list[tuple[str, int]] = []
        start = 0
        for m in regex.finditer(text):
            if m.start() > start:
                out.append((text[start : m.start()], TEXT))
            token = m.group()
            out.append((token, self.specials[token]))
            start = m.end()
        if start < len(text):
            out.append((text[start:], TEXT))
        return out

    def locate(self, text: str) -> tuple[str, int] | None:
        """The first declared special token in ``text`` and its character offset, or None.

        Example:
            >>> SpecialSplitter({"<s>": 1}).locate("a <s> b")
            ('<s>', 2)
        """
        if self.regex is None or (self.prefix and self.prefix not in text):
            return None
        m = self.regex.search(text)
        return None if m is None else (m.group(), m.start())
