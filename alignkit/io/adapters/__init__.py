"""Format adapters: the data formats people have, converted into alignkit records.

Formats (``--from`` names; :data:`FORMATS` holds them, ``auto`` detects them):
``alignkit`` (records already in our format), ``openai`` (``messages``),
``sharegpt`` (``conversations``), ``alpaca`` (``instruction``/``input``/``output``),
``self_instruct`` (``instruction`` + ``instances``), ``pairs`` (``prompt``/
``response``, ``prompt``/``completion``, ``question``/``answer``), ``hh_rlhf``
(``chosen``/``rejected`` transcripts) and ``trl`` (``prompt``/``chosen``/``rejected``,
explicit or implicit prompt).

The public names are loaded on first use, so that importing the registry (as
``alignkit --help`` does) does not import pydantic.

Example::

    >>> from alignkit.io.adapters import convert_rows
    >>> rows = [{"conversations": [{"from": "human", "value": "Hi"},
    ...                            {"from": "gpt", "value": "Hello!"}]}]
    >>> [r.record.turns[1].content for r in convert_rows(rows) if r.record]
    ['Hello!']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alignkit.io.adapters._common import ConvertError as ConvertError
    from alignkit.io.adapters._common import ConvertOptions as ConvertOptions
    from alignkit.io.adapters.detect import detect_format as detect_format
    from alignkit.io.adapters.pipeline import ConvertResult as ConvertResult
    from alignkit.io.adapters.pipeline import ConvertSummary as ConvertSummary
    from alignkit.io.adapters.pipeline import convert_file as convert_file
    from alignkit.io.adapters.pipeline import convert_rows as convert_rows
    from alignkit.io.adapters.pipeline import convert_source as convert_source
    from alignkit.io.adapters.registry import FORMATS as FORMATS
    from alignkit.io.adapters.registry import Adapter as Adapter
    from alignkit.io.adapters.sources import RowSource as RowSource
    from alignkit.io.adapters.sources import open_source as open_source

_EXPORTS: dict[str, str] = {
    "ConvertError": "_common",
    "ConvertOptions": "_common",
    "detect_format": "detect",
    "ConvertResult": "pipeline",
    "ConvertSummary": "pipeline",
    "convert_file": "pipeline",
    "convert_rows": "pipeline",
    "convert_source": "pipeline",
    "FORMATS": "registry",
    "Adapter": "registry",
    "RowSource": "sources",
    "open_source": "sources",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
