"""ShareGPT format: ``{"conversations": [{"from": "human", "value": "..."}, ...]}``.

Speaker names (case-insensitive) map to record roles as follows:

* ``human``, ``user`` → ``user``
* ``gpt``, ``assistant``, ``chatgpt``, ``bing``, ``bard``, ``model``, ``bot``,
  ``claude``, ``function_call`` (the model's own tool call, kept as text) → ``assistant``
* ``system`` → ``system``
* ``tool``, ``function``, ``observation``, ``function_response``, ``ipython`` → ``tool``

Any other speaker is rejected as ``unknown_role``. Items may also use
``role``/``content`` instead of ``from``/``value``. A top-level ``system`` string
(LLaMA-Factory's layout) becomes a first system turn. A conversation given as a
list of plain strings (LIMA's layout) alternates user, assistant, user, …

Consecutive same-role turns and assistant turns before the first user turn are
rejected unless ``merge_consecutive`` / ``drop_leading_assistant`` is set (see
:mod:`alignkit.io.adapters._turns`). Other row keys go to ``metadata``.

Example::

    >>> from alignkit.io.adapters._common import ConvertOptions
    >>> row = {"id": "x1", "conversations": [{"from": "human", "value": "Hi"},
    ...                                      {"from": "gpt", "value": "Hello!"}]}
    >>> d = convert(row, ConvertOptions(), 1)[0].data
    >>> d["turns"], d["id"]
    ([{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello!'}], 'x1')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from alignkit.io.adapters._common import (
    ConvertOptions,
    Draft,
    RowProblem,
    as_mapping,
    base_fields,
    get_list,
    opt_str,
    type_name,
)
from alignkit.io.adapters._turns import tidy_turns

#: Speaker names and the record role each becomes.
ROLE_MAP: Final[dict[str, str]] = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "model": "assistant",
    "bot": "assistant",
    "claude": "assistant",
    "function_call": "assistant",
    "system": "system",
    "tool": "tool",
    "function": "tool",
    "observation": "tool",
    "function_response": "tool",
    "ipython": "tool",
}


def _item_turn(item: object, loc: str) -> dict[str, object]:
    entry = as_mapping(item, loc, "a conversation turn")
    speaker_key = "from" if entry.get("from") is not None or "role" not in entry else "role"
    text_key = "value" if entry.get("value") is not None or "content" not in entry else "content"
    speaker = entry.get(speaker_key)
    if not isinstance(speaker, str):
        raise RowProblem(
            f"{loc}.from",
            f"expected a speaker string in 'from', got {type_name(speaker)}",
            "wrong_type",
        )
    role = ROLE_MAP.get(speaker.strip().lower())
    if role is None:
        known = ", ".join(sorted(ROLE_MAP))
        raise RowProblem(
            f"{loc}.{speaker_key}",
            f"unknown speaker {speaker!r}; known speakers: {known}",
            "unknown_role",
        )
    text = entry.get(text_key)
    if not isinstance(text, str):
        raise RowProblem(
            f"{loc}.{text_key}",
            f"expected the turn text as a string, got {type_name(text)}",
            "wrong_type",
        )
    return {"role": role, "content": text}


def conversation_turns(
    items: list[object], loc: str, options: ConvertOptions, notes: list[str]
) -> list[dict[str, object]]:
    """ShareGPT items (or plain strings) as record turns, turn-order rules applied."""
    if not items:
        raise RowProblem(loc, "the conversation is empty", "empty_conversation")
    turns: list[dict[str, object]] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            turns.append({"role": "user" if i % 2 == 0 else "assistant", "content": item})
        else:
            turns.append(_item_turn(item, f"{loc}.{i}"))
    return tidy_turns(turns, [f"{loc}.{i}" for i in range(len(turns))], options, notes)


def matches(row: Mapping[str, object]) -> bool:
    """True for rows with a ``conversations`` list."""
    return isinstance(row.get("conversations"), list)


def convert(row: Mapping[str, object], options: ConvertOptions, number: int) -> list[Draft]:
    """Convert one ShareGPT row to a chat (SFT) draft."""
    notes: list[str] = []
    items = get_list(row, "conversations")
    system = opt_str(row, "system")
    turns = conversation_turns(items, "conversations", options, notes)
    used = {"conversations"}
    if system is not None:
        used.add("system")
        if turns[0]["role"] == "system":
            raise RowProblem(
                "system",
                "the row has both a 'system' field and a system turn; keep one",
                "duplicate_system",
            )
        if system.strip():
            turns.insert(0, {"role": "system", "content": system})
    data: dict[str, object] = {"turns": turns, **base_fields(row, used, options)}
    return [Draft("sft", data, notes)]
