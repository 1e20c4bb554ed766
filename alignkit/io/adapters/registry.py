"""The registry of input formats: name, kind, recognising keys and converter.

Example::

    >>> sorted(FORMATS)[:3]
    ['alignkit', 'alpaca', 'hh_rlhf']
    >>> FORMATS["sharegpt"].keys
    'conversations: [{from, value}, ...]'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from alignkit.io.adapters import alpaca, hh_rlhf, native, openai, pairs, sharegpt, trl
from alignkit.io.adapters._common import ConvertOptions, Draft


@dataclass(frozen=True)
class Adapter:
    """One input format.

    Attributes:
        name: the ``--from`` name.
        kind: the records it makes: ``"sft"``, ``"preference"`` or ``"any"``.
        keys: the row keys that identify it, for messages and ``--help``.
        matches: whether a row looks like this format (used by auto-detection).
        convert: ``(row, options, number) -> drafts``; raises ``RowProblem``.
    """

    name: str
    kind: str
    keys: str
    matches: Callable[[Mapping[str, object]], bool]
    convert: Callable[[Mapping[str, object], ConvertOptions, int], list[Draft]]


_ADAPTERS: Final = (
    Adapter(
        "alignkit",
        "any",
        "turns | history, response_a, response_b, chosen",
        native.matches,
        native.convert,
    ),
    Adapter("openai", "sft", "messages: [{role, content}, ...]", openai.matches, openai.convert),
    Adapter(
        "sharegpt", "sft", "conversations: [{from, value}, ...]", sharegpt.matches, sharegpt.convert
    ),
    Adapter("alpaca", "sft", "instruction, input, output", alpaca.matches, alpaca.convert),
    Adapter(
        "self_instruct",
        "sft",
        "instruction, instances: [{input, output}, ...]",
        alpaca.matches_self_instruct,
        alpaca.convert_self_instruct,
    ),
    Adapter(
        "pairs",
        "sft",
        "prompt + response | prompt + completion | question + answer",
        pairs.matches,
        pairs.convert,
    ),
    Adapter(
        "hh_rlhf",
        "preference",
        'chosen, rejected: "\\n\\nHuman: ...\\n\\nAssistant: ..."',
        hh_rlhf.matches,
        hh_rlhf.convert,
    ),
    Adapter(
        "trl",
        "preference",
        "prompt, chosen, rejected (strings or messages) | chosen, rejected: [messages]",
        trl.matches,
        trl.convert,
    ),
)

#: Every format by its ``--from`` name.
FORMATS: Final[dict[str, Adapter]] = {a.name: a for a in _ADAPTERS}


def format_table() -> str:
    """One line per format, ``name  keys``, for error messages and help."""
    width = max(len(name) for name in FORMATS)
    return "\n".join(f"  {a.name:<{width}}  {a.keys}" for a in _ADAPTERS)
