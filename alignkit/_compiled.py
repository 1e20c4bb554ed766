"""Whether this installation runs the mypyc-compiled core."""

from __future__ import annotations

from pathlib import Path

from alignkit.bpe import _core

#: True when the hot core was compiled by mypyc at install time.
COMPILED: bool = Path(_core.__file__ or "").suffix in (".so", ".pyd")
