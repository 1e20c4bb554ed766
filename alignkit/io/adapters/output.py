"""Writing converted records as JSONL, atomically.

:func:`record_json` is the one serialization of a record on a line: compact,
``ensure_ascii=False``, keys in the models' field order, fields at their default
value left out (so a line is exactly what was in the data). Files are written with
:class:`alignkit.io.atomic.AtomicTextFile` (re-exported here).

Example::

    >>> from alignkit.records import ChatExample, Turn
    >>> record_json(ChatExample(turns=[Turn(role="user", content="é"),
    ...                                Turn(role="assistant", content="ok")]))
    '{"turns":[{"role":"user","content":"é"},{"role":"assistant","content":"ok"}]}'
"""

from __future__ import annotations

import json

from alignkit.io.atomic import AtomicTextFile as AtomicTextFile
from alignkit.records import ChatExample, PreferenceExample


def record_json(record: ChatExample | PreferenceExample) -> str:
    """One record as a compact JSON line (no newline)."""
    data = record.model_dump(mode="json", exclude_defaults=True)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
