"""alignkit: chat and preference data to validated, training-ready token tensors."""

from alignkit._compiled import COMPILED as COMPILED
from alignkit._version import __version__ as __version__
from alignkit.bpe import Tokenizer as Tokenizer
from alignkit.bpe import load_tokenizer as load_tokenizer

__all__ = ["COMPILED", "Tokenizer", "__version__", "load_tokenizer"]
