"""Reading and validating record files.

The stable entry points (adapters, the serializer and the CLI use them):

- :func:`read_lines` — numbered raw lines of a JSONL / ``.jsonl.gz`` file, streamed.
- :func:`iter_records` — one :class:`RecordResult` (a record, or that line's
  :class:`~alignkit.errors.InputError` s) per line.
- :func:`validate_file` — counts and errors for a whole file (``alignkit validate``).
"""

from alignkit.io.jsonl import DEFAULT_MAX_LINE_BYTES, Line, open_binary, read_lines
from alignkit.io.reader import KINDS, Kind, RecordParser, RecordResult, iter_records

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "KINDS",
    "Kind",
    "Line",
    "RecordParser",
    "RecordResult",
    "iter_records",
    "open_binary",
    "read_lines",
]
