"""Pass-through of rows already in alignkit's record format.

A row with ``turns`` is a ``ChatExample``; a row with ``history`` or
``response_a`` is a ``PreferenceExample``. The row is validated as it is (unknown
keys are errors, as with ``alignkit validate``); the options' ``source`` fills an
unset ``source``, and ``shuffle_seed`` is not applied (the positions are data).

Example::

    >>> from alignkit.io.adapters._common import ConvertOptions
    >>> row = {"turns": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}
    >>> convert(row, ConvertOptions(), 1)[0].kind
    'sft'
"""

from __future__ import annotations

from collections.abc import Mapping

from alignkit.io.adapters._common import ConvertOptions, Draft, RowProblem


def matches(row: Mapping[str, object]) -> bool:
    """True for rows with ``turns`` or ``response_a`` (``history`` alone is also an
    Alpaca key, so it does not count for detection)."""
    return "turns" in row or "response_a" in row


def convert(row: Mapping[str, object], options: ConvertOptions, number: int) -> list[Draft]:
    """Hand the row on unchanged, as a chat or preference draft."""
    data = dict(row)
    if options.source is not None and data.get("source") is None:
        data["source"] = options.source
    if "turns" in row:
        if "history" in row or "response_a" in row:
            raise RowProblem(
                "",
                "the row has both 'turns' (SFT) and 'history'/'response_a' (preference)",
                "ambiguous_record",
            )
        return [Draft("sft", data)]
    if "history" in row or "response_a" in row:
        return [Draft("preference", data)]
    raise RowProblem(
        "",
        "not an alignkit record: expected 'turns' or 'history'/'response_a'/'response_b'",
        "unknown_record_kind",
    )
