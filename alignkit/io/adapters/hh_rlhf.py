"""Anthropic HH-RLHF transcripts: ``{"chosen": str, "rejected": str}``, each a whole
dialogue of ``"\\n\\nHuman: …"`` / ``"\\n\\nAssistant: …"`` turns.

The split point is the **longest common prefix** of the two strings, backed off to
the last ``"\\n\\nAssistant:"`` that lies wholly inside it: everything before that
marker is the shared history, and what follows it in each string is that side's
response. Splitting at the right-most marker instead (as the original DPO code
did) breaks when a response itself contains ``"\\n\\nAssistant:"`` or when the two
transcripts diverge before their last turn.

The history is split at every ``"\\n\\nHuman:"`` / ``"\\n\\nAssistant:"`` marker
(one space after the colon is dropped) and checked with the turn-order rules of
:mod:`alignkit.io.adapters._turns`. Responses are kept whole; a response that
still contains a turn marker (the transcripts diverge over several turns) gets the
counted note ``response_spans_turns``. The chosen transcript gives ``response_a``
(``chosen="a"``) unless a shuffle seed is set.

Rejected rows: ``identical_responses`` (chosen == rejected), ``no_common_prompt``
(no shared assistant boundary), ``bad_transcript`` (text before the first marker),
plus the record rules (empty turns, history not ending on a user turn…).

Example::

    >>> from alignkit.io.adapters._common import ConvertOptions
    >>> row = {"chosen": "\\n\\nHuman: Hi\\n\\nAssistant: Hello!",
    ...        "rejected": "\\n\\nHuman: Hi\\n\\nAssistant: Go away."}
    >>> d = convert(row, ConvertOptions(), 1)[0].data
    >>> d["history"], d["response_a"], d["response_b"], d["chosen"]
    ([{'role': 'user', 'content': 'Hi'}], 'Hello!', 'Go away.', 'a')
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Final

from alignkit.io.adapters._common import (
    ConvertOptions,
    Draft,
    RowProblem,
    base_fields,
    get_str,
    preference_fields,
)
from alignkit.io.adapters._turns import tidy_turns

HUMAN: Final = "\n\nHuman:"
ASSISTANT: Final = "\n\nAssistant:"
_MARKER: Final = re.compile(r"\n\n(Human|Assistant):")
_ROLES: Final = {"Human": "user", "Assistant": "assistant"}


def _after_marker(text: str) -> str:
    """Text after a marker, without the one space that follows the colon."""
    return text[1:] if text.startswith(" ") else text


def split_pair(chosen: str, rejected: str) -> tuple[str, str, str]:
    """Split two transcripts into (shared history text, chosen reply, rejected reply).

    >>> split_pair("\\n\\nHuman: Q\\n\\nAssistant: A: \\n\\nAssistant: x",
    ...            "\\n\\nHuman: Q\\n\\nAssistant: B")
    ('\\n\\nHuman: Q', 'A: \\n\\nAssistant: x', 'B')
    """
    if chosen == rejected:
        raise RowProblem(
            "rejected",
            "chosen and rejected are identical; the pair carries no preference",
            "identical_responses",
        )
    n = len(os.path.commonprefix([chosen, rejected]))
    k = chosen.rfind(ASSISTANT, 0, n)
    if k < 0:
        raise RowProblem(
            "rejected",
            "chosen and rejected share no assistant turn boundary (they differ before"
            " the first '\\n\\nAssistant:'), so there is no common prompt; fix or drop the row",
            "no_common_prompt",
        )
    start = k + len(ASSISTANT)
    return chosen[:k], _after_marker(chosen[start:]), _after_marker(rejected[start:])


def parse_history(text: str, loc: str) -> tuple[list[dict[str, object]], list[str]]:
    """Parse a ``"\\n\\nHuman: …\\n\\nAssistant: …"`` transcript into turns and their locations.

    >>> parse_history("\\n\\nHuman: Hi\\n\\nAssistant: Yo\\n\\nHuman: Bye", "chosen")[0][2]
    {'role': 'user', 'content': 'Bye'}
    """
    if text.startswith("Human:") or text.startswith("Assistant:"):
        text = "\n\n" + text
    parts = _MARKER.split(text)
    if parts[0].strip():
        raise RowProblem(
            loc,
            "the transcript has text before its first '\\n\\nHuman:' marker; every turn"
            " must start with '\\n\\nHuman:' or '\\n\\nAssistant:'",
            "bad_transcript",
        )
    turns: list[dict[str, object]] = []
    locs: list[str] = []
    for i in range(1, len(parts), 2):
        turns.append({"role": _ROLES[parts[i]], "content": _after_marker(parts[i + 1])})
        locs.append(f"{loc} (turn {len(turns) - 1})")
    if not turns:
        raise RowProblem(loc, "the shared history has no turns", "bad_transcript")
    return turns, locs


def matches(row: Mapping[str, object]) -> bool:
    """True for rows with string ``chosen``/``rejected`` and no ``prompt``."""
    return (
        "prompt" not in row
        and isinstance(row.get("chosen"), str)
        and isinstance(row.get("rejected"), str)
    )


def convert(row: Mapping[str, object], options: ConvertOptions, number: int) -> list[Draft]:
    """Convert one HH-RLHF row to a preference draft."""
    chosen = get_str(row, "chosen")
    rejected = get_str(row, "rejected")
    history_text, reply_chosen, reply_rejected = split_pair(chosen, rejected)
    notes: list[str] = []
    turns, locs = parse_history(history_text, "chosen")
    turns = tidy_turns(turns, locs, options, notes)
    if any(m in r for r in (reply_chosen, reply_rejected) for m in (HUMAN, ASSISTANT)):
        notes.append("response_spans_turns")
    data = preference_fields(turns, reply_chosen, reply_rejected, options, number)
    data.update(base_fields(row, {"chosen", "rejected"}, options))
    return [Draft("preference", data, notes)]
