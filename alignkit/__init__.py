"""alignkit: chat and preference data to validated, training-ready token tensors."""

from alignkit._compiled import COMPILED as COMPILED
from alignkit._version import __version__ as __version__

__all__ = ["COMPILED", "__version__"]
