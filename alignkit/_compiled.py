"""Whether this installation runs the mypyc-compiled core."""

from __future__ import annotations

from alignkit.bpe import _core

#: True when the hot core was compiled by mypyc at install time (an extension module).
COMPILED: bool = (_core.__file__ or "").endswith((".so", ".pyd"))
