"""alignkit's byte-level BPE tokenizer.

Public API::

    from alignkit.bpe import Tokenizer, load_tokenizer, default_tokenizer, train_bpe

    tok = load_tokenizer()                       # bundled GPT-2, offline
    tok = load_tokenizer("path/to/tokenizer.json")   # or a folder, a .tiktoken file, ...
    ids = tok.encode("Hello<|endoftext|>")       # specials allowed
    ids = tok.encode_ordinary(user_text)          # never a special id
    vocab, merges = train_bpe("corpus.txt", 10_000, ["<|endoftext|>"])
    Tokenizer(vocab, merges, ["<|endoftext|>"]).save("my_tokenizer.json")
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from alignkit.bpe.loaders import load_tokenizer
from alignkit.bpe.tokenizer import Tokenizer

if TYPE_CHECKING:
    from alignkit.bpe.train import train_bpe


@lru_cache(maxsize=1)
def default_tokenizer() -> Tokenizer:
    """The bundled GPT-2 tokenizer, loaded once per process.

    Example:
        >>> default_tokenizer().encode("hello world")
        [31373, 995]
    """
    return load_tokenizer()


def __getattr__(name: str) -> object:
    # train_bpe imports the trainer (multiprocessing and all): only when asked for.
    if name == "train_bpe":
        from alignkit.bpe.train import train_bpe

        return train_bpe
    raise AttributeError(f"module 'alignkit.bpe' has no attribute {name!r}")


__all__ = ["Tokenizer", "default_tokenizer", "load_tokenizer", "train_bpe"]
