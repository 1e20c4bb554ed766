"""alignkit's byte-level BPE tokenizer.

Public API::

    from alignkit.bpe import Tokenizer, load_tokenizer, default_tokenizer

    tok = load_tokenizer()                       # bundled GPT-2, offline
    tok = load_tokenizer("path/to/tokenizer.json")   # or a folder, a .tiktoken file, ...
    ids = tok.encode("Hello<|endoftext|>")       # specials allowed
    ids = tok.encode_ordinary(user_text)          # never a special id
"""

from __future__ import annotations

from functools import lru_cache

from alignkit.bpe.loaders import load_tokenizer
from alignkit.bpe.tokenizer import Tokenizer


@lru_cache(maxsize=1)
def default_tokenizer() -> Tokenizer:
    """The bundled GPT-2 tokenizer, loaded once per process.

    Example:
        >>> default_tokenizer().encode("hello world")
        [31373, 995]
    """
    return load_tokenizer()


__all__ = ["Tokenizer", "default_tokenizer", "load_tokenizer"]
