"""OpenAI chat format: ``{"messages": [{"role": ..., "content": ...}, ...]}``.

Roles: ``system`` and ``developer`` become ``system``; ``user``, ``assistant`` stay;
``tool`` and the legacy ``function`` become ``tool``. ``content`` is a string or a
list of parts: text parts (``{"type": "text", "text": ...}`` or bare strings) are
joined with no separator, as chat templates do; image, audio and file parts are
refused (alignkit is text-only). Messages with ``tool_calls``/``function_call`` are
refused, since a record has nowhere to keep the call. An assistant's
``reasoning_content`` (or ``reasoning``) becomes the turn's ``reasoning``; a
boolean ``train`` key is kept. Other message keys (``name``, ``tool_call_id``…) are
ignored; other row keys go to ``metadata``.

Example::

    >>> from alignkit.io.adapters._common import ConvertOptions
    >>> row = {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]},
    ...                     {"role": "assistant", "content": "Hello!"}]}
    >>> convert(row, ConvertOptions(), 1)[0].data["turns"]
    [{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello!'}]
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
    type_name,
)
from alignkit.io.adapters._turns import tidy_turns

#: Role names accepted in messages and the record role each becomes.
ROLE_MAP: Final[dict[str, str]] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}

#: Content part types that carry no text and are refused.
NON_TEXT_PARTS: Final = frozenset(
    {"image", "image_url", "input_image", "audio", "input_audio", "file", "video", "video_url"}
)

#: Separator between the text parts of one message.
TEXT_PART_SEPARATOR: Final = ""


def text_content(content: object, loc: str) -> str:
    """The text of a message ``content`` (a string or a list of text parts).

    >>> text_content(["a", {"type": "text", "text": "b"}], "messages.0.content")
    'ab'
    """
    if isinstance(content, str):
        return content
    if content is None:
        raise RowProblem(loc, "content is null; give the message text", "missing_content")
    if not isinstance(content, list):
        raise RowProblem(
            loc,
            f"expected a string or a list of text parts, got {type_name(content)}",
            "wrong_type",
        )
    texts: list[str] = []
    for i, part in enumerate(content):
        where = f"{loc}.{i}"
        if isinstance(part, str):
            texts.append(part)
            continue
        part_map = as_mapping(part, where, "a content part")
        kind = part_map.get("type")
        if isinstance(kind, str) and kind in NON_TEXT_PARTS:
            raise RowProblem(
                f"{where}.type",
                f"a {kind} part cannot be converted: alignkit records are text-only;"
                " drop the part or the row",
                "non_text_content",
            )
        text = part_map.get("text")
        if kind not in (None, "text", "input_text", "output_text") or not isinstance(text, str):
            raise RowProblem(
                where,
                f"unsupported content part (type {kind!r}); expected"
                " {'type': 'text', 'text': ...}",
                "unsupported_part",
            )
        texts.append(text)
    return TEXT_PART_SEPARATOR.join(texts)


def message_turn(
    message: object, loc: str, role_map: Mapping[str, str] = ROLE_MAP
) -> dict[str, object]:
    """One OpenAI message as a record turn (a dict with ``role`` and ``content``).

    >>> message_turn({"role": "developer", "content": "Be brief."}, "messages.0")
    {'role': 'system', 'content': 'Be brief.'}
    """
    msg = as_mapping(message, loc, "a message")
    raw_role = msg.get("role")
    if not isinstance(raw_role, str):
        raise RowProblem(
            f"{loc}.role", f"expected a role string, got {type_name(raw_role)}", "wrong_type"
        )
    role = role_map.get(raw_role.lower())
    if role is None:
        known = ", ".join(sorted(role_map))
        raise RowProblem(
            f"{loc}.role", f"unknown role {raw_role!r}; known roles: {known}", "unknown_role"
        )
    for key in ("tool_calls", "function_call"):
        if msg.get(key):
            raise RowProblem(
                f"{loc}.{key}",
                "tool calls cannot be represented in an alignkit record; drop the row"
                " or render the call into the content",
                "tool_calls_unsupported",
            )
    turn: dict[str, object] = {
        "role": role,
        "content": text_content(msg.get("content"), f"{loc}.content"),
    }
    train = msg.get("train")
    if isinstance(train, bool):
        turn["train"] = train
    reasoning = msg.get("reasoning_content", msg.get("reasoning"))
    if isinstance(reasoning, str) and role == "assistant":
        turn["reasoning"] = reasoning
    return turn


def message_turns(
    messages: list[object], loc: str, options: ConvertOptions, notes: list[str]
) -> list[dict[str, object]]:
    """A list of messages as record turns, with the turn-order rules applied."""
    if not messages:
        raise RowProblem(loc, "the message list is empty", "empty_conversation")
    turns = [message_turn(m, f"{loc}.{i}") for i, m in enumerate(messages)]
    return tidy_turns(turns, [f"{loc}.{i}" for i in range(len(turns))], options, notes)


def matches(row: Mapping[str, object]) -> bool:
    """True for rows with a ``messages`` list."""
    return isinstance(row.get("messages"), list)


def convert(row: Mapping[str, object], options: ConvertOptions, number: int) -> list[Draft]:
    """Convert one OpenAI ``messages`` row to a chat (SFT) draft."""
    notes: list[str] = []
    turns = message_turns(get_list(row, "messages"), "messages", options, notes)
    data: dict[str, object] = {"turns": turns, **base_fields(row, {"messages"}, options)}
    return [Draft("sft", data, notes)]
