"""Format adapters: the data formats people have, converted into alignkit records.

Formats (``--from`` names; :data:`FORMATS` holds them, ``auto`` detects them):
``alignkit`` (records already in our format), ``openai`` (``messages``),
``sharegpt`` (``conversations``), ``alpaca`` (``instruction``/``input``/``output``),
``self_instruct`` (``instruction`` + ``instances``), ``pairs`` (``prompt``/
``response``, ``prompt``/``completion``, ``question``/``answer``), ``hh_rlhf``
(``chosen``/``rejected`` transcripts) and ``trl`` (``prompt``/``chosen``/``rejected``,
explicit or implicit prompt).

Example::

    >>> rows = [{"conversations": [{"from": "human", "value": "Hi"},
    ...                            {"from": "gpt", "value": "Hello!"}]}]
    >>> [r.record.turns[1].content for r in convert_rows(rows) if r.record]
    ['Hello!']
"""

from alignkit.io.adapters._common import ConvertOptions as ConvertOptions
from alignkit.io.adapters.detect import detect_format as detect_format
from alignkit.io.adapters.pipeline import ConvertError as ConvertError
from alignkit.io.adapters.pipeline import ConvertResult as ConvertResult
from alignkit.io.adapters.pipeline import ConvertSummary as ConvertSummary
from alignkit.io.adapters.pipeline import convert_file as convert_file
from alignkit.io.adapters.pipeline import convert_rows as convert_rows
from alignkit.io.adapters.pipeline import convert_source as convert_source
from alignkit.io.adapters.registry import FORMATS as FORMATS
from alignkit.io.adapters.registry import Adapter as Adapter
from alignkit.io.adapters.sources import RowSource as RowSource
from alignkit.io.adapters.sources import open_source as open_source

__all__ = [
    "FORMATS",
    "Adapter",
    "ConvertError",
    "ConvertOptions",
    "ConvertResult",
    "ConvertSummary",
    "RowSource",
    "convert_file",
    "convert_rows",
    "convert_source",
    "detect_format",
    "open_source",
]
