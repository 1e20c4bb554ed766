"""Auto-detection of the input format from the keys of the first rows.

Each row is matched against every format of :data:`~alignkit.io.adapters.registry.FORMATS`.
The first :data:`DETECT_ROWS` readable rows must all match exactly one format, and
the same one (one tie is broken: a row with ``messages`` and TRL's
``chosen``/``rejected``, as in UltraFeedback-binarized, is ``trl``); otherwise a :class:`~alignkit.errors.UsageError` lists the formats
and their keys and suggests ``--from``.

Example::

    >>> detect_format([(1, {"question": "2+2?", "answer": "4"})], "gsm8k.jsonl", "line")
    'pairs'
    >>> detect_format([(1, {"text": "hello"})], "x.jsonl", "line")
    Traceback (most recent call last):
    ...
    alignkit.errors.UsageError: x.jsonl: cannot detect the input format: line 1 has keys ['text'], which match no known format. Known formats and their keys:
      alignkit       turns | history, response_a, response_b, chosen
    ...
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from alignkit.errors import UsageError
from alignkit.io.adapters.registry import FORMATS, format_table

#: How many readable rows auto-detection looks at.
DETECT_ROWS: Final = 20

_PREFERENCE_OVER_CHAT: Final = {"openai", "trl"}


def row_formats(row: Mapping[str, object]) -> list[str]:
    """The names of the formats whose keys ``row`` has.

    >>> row_formats({"messages": []})
    ['openai']
    """
    names = [name for name, adapter in FORMATS.items() if adapter.matches(row)]
    if set(names) == _PREFERENCE_OVER_CHAT:
        # UltraFeedback-binarized rows carry `messages` beside `prompt`/`chosen`/`rejected`:
        # rows with chosen/rejected are preference data.
        return ["trl"]
    return names


def _help() -> str:
    return f"Known formats and their keys:\n{format_table()}\nPass --from FORMAT to choose one."


def detect_format(
    rows: Iterable[tuple[int, Mapping[str, object]]], where: str, unit: str
) -> str | None:
    """The one format of the first :data:`DETECT_ROWS` rows of ``rows``.

    Args:
        rows: ``(number, row)`` pairs; unreadable rows are left out by the caller.
        where: the input's name, for messages.
        unit: what ``number`` counts (``line``, ``item`` or ``row``).

    Returns:
        The format name, or ``None`` when there is no row to look at.

    Raises:
        UsageError: a row matches no format or several, or rows disagree.
    """
    first: dict[str, int] = {}
    seen = 0
    for number, row in rows:
        names = row_formats(row)
        keys = sorted(row)
        if not names:
            raise UsageError(
                f"{where}: cannot detect the input format: {unit} {number} has keys {keys},"
                f" which match no known format. {_help()}"
            )
        if len(names) > 1:
            raise UsageError(
                f"{where}: ambiguous input format: {unit} {number} (keys {keys}) matches"
                f" {', '.join(names)}. {_help()}"
            )
        first.setdefault(names[0], number)
        seen += 1
        if seen >= DETECT_ROWS:
            break
    if len(first) > 1:
        found = ", ".join(f"{name} ({unit} {n})" for name, n in first.items())
        raise UsageError(f"{where}: ambiguous input format: rows look like {found}. {_help()}")
    return next(iter(first), None)
