"""Prompt/response pairs: ``prompt``+``response``, ``prompt``+``completion`` (TRL's
prompt-completion rows) and ``question``+``answer`` (GSM8K).

Rows with a boolean ``label`` (TRL's unpaired preference / KTO rows) are refused
as ``unpaired_preference``: a completion labelled ``false`` is not training data.

String fields give a user turn and an assistant turn, after an optional ``system``
turn. TRL's conversational form, where ``prompt`` and ``completion`` are message
lists, is accepted too: the prompt messages come first, then the completion
messages (OpenAI message rules, see :mod:`alignkit.io.adapters.openai`).

Example::

    >>> from alignkit.io.adapters._common import ConvertOptions
    >>> row = {"question": "2+2?", "answer": "#### 4"}
    >>> convert(row, ConvertOptions(), 1)[0].data["turns"]
    [{'role': 'user', 'content': '2+2?'}, {'role': 'assistant', 'content': '#### 4'}]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from alignkit.io.adapters._common import (
    ConvertOptions,
    Draft,
    RowProblem,
    base_fields,
    get_str,
    opt_str,
    type_name,
)
from alignkit.io.adapters._turns import tidy_turns
from alignkit.io.adapters.openai import message_turn

#: (prompt key, response key) pairs, in the order they are tried.
KEY_PAIRS: Final = (("prompt", "response"), ("prompt", "completion"), ("question", "answer"))


def _keys(row: Mapping[str, object]) -> tuple[str, str] | None:
    for prompt_key, response_key in KEY_PAIRS:
        if prompt_key in row and response_key in row:
            return prompt_key, response_key
    return None


def matches(row: Mapping[str, object]) -> bool:
    """True for rows with one of the key pairs of :data:`KEY_PAIRS`."""
    return _keys(row) is not None


def convert(row: Mapping[str, object], options: ConvertOptions, number: int) -> list[Draft]:
    """Convert one prompt/response row to a chat (SFT) draft."""
    keys = _keys(row)
    if keys is None:
        wanted = ", ".join(f"{p}/{r}" for p, r in KEY_PAIRS)
        raise RowProblem("", f"expected one of the key pairs {wanted}", "missing")
    prompt_key, response_key = keys
    if isinstance(row.get("label"), bool):
        raise RowProblem(
            "label",
            "a boolean 'label' marks an unpaired preference (KTO) row: its completion may be"
            " an undesirable one, so it is not SFT data; convert only label=true rows, or"
            " pair them with --from trl",
            "unpaired_preference",
        )
    notes: list[str] = []
    turns: list[dict[str, object]] = []
    system = opt_str(row, "system")
    if system is not None and system.strip():
        turns.append({"role": "system", "content": system})
    prompt, response = row[prompt_key], row[response_key]
    if isinstance(prompt, list) and isinstance(response, list):
        messages = [(f"{prompt_key}.{i}", m) for i, m in enumerate(prompt)]
        messages += [(f"{response_key}.{i}", m) for i, m in enumerate(response)]
        turns.extend(message_turn(m, loc) for loc, m in messages)
        locs = ["system"] * (len(turns) - len(messages)) + [loc for loc, _ in messages]
        turns = tidy_turns(turns, locs, options, notes)
    elif isinstance(prompt, list) or isinstance(response, list):
        raise RowProblem(
            prompt_key if not isinstance(prompt, list) else response_key,
            f"'{prompt_key}' is {type_name(prompt)} but '{response_key}' is {type_name(response)};"
            " give both as strings or both as message lists",
            "wrong_type",
        )
    else:
        turns.append({"role": "user", "content": get_str(row, prompt_key)})
        turns.append({"role": "assistant", "content": get_str(row, response_key)})
    data = {"turns": turns, **base_fields(row, {prompt_key, response_key, "system"}, options)}
    return [Draft("sft", data, notes)]
