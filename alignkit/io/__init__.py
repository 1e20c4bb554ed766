"""Reading and validating record files.

The stable entry points (adapters, the serializer and the CLI use them):

- :func:`read_lines` — numbered raw lines of a JSONL / ``.jsonl.gz`` file, streamed
  (:mod:`alignkit.io.jsonl`).
- :func:`iter_records` — one :class:`RecordResult` (a record, or that line's
  :class:`~alignkit.errors.InputError` s) per line; :class:`RecordParser` does the same
  one line at a time (:mod:`alignkit.io.reader`).
- :func:`validate_file` — counts and errors for a whole file, as ``alignkit validate``
  reports them (:mod:`alignkit.io.validate`).

Names are loaded on first use, so importing :mod:`alignkit.io.jsonl` alone does not
import pydantic (``alignkit --help`` stays fast). For precise types, import from the
defining module (``from alignkit.io.reader import iter_records``); there are no
``TYPE_CHECKING`` imports here, because mypyc's type check would follow them into
pydantic, which the isolated build environment lacks.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "DEFAULT_MAX_LINE_BYTES": "alignkit.io.jsonl",
    "Line": "alignkit.io.jsonl",
    "open_binary": "alignkit.io.jsonl",
    "read_lines": "alignkit.io.jsonl",
    "KINDS": "alignkit.io.reader",
    "Kind": "alignkit.io.reader",
    "RecordParser": "alignkit.io.reader",
    "RecordResult": "alignkit.io.reader",
    "iter_records": "alignkit.io.reader",
    "FileReport": "alignkit.io.validate",
    "validate_file": "alignkit.io.validate",
}

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "KINDS",
    "FileReport",
    "Kind",
    "Line",
    "RecordParser",
    "RecordResult",
    "iter_records",
    "open_binary",
    "read_lines",
    "validate_file",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'alignkit.io' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
