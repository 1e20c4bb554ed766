"""Alpaca and self-instruct formats.

**Alpaca**: ``{"instruction", "input", "output"}`` with optional ``system`` and
``history`` (a list of ``[instruction, response]`` pairs, LLaMA-Factory's layout,
which become earlier turns). The user turn is the instruction, followed by
``"\\n\\n"`` and the input when the input is not empty or blank; the output is the
assistant turn.

**self-instruct**: ``{"instruction", "instances": [{"input", "output"}, ...]}``
(the seed tasks of Wang et al.): one record per instance, built like an Alpaca row;
record ids are ``<id>#<instance index>`` and ``metadata.instance`` is the index. A
bad instance is reported on its own (``instances.N.output``) without losing the
others.

Example::

    >>> from alignkit.io.adapters._common import ConvertOptions
    >>> row = {"instruction": "Translate to French.", "input": "cat", "output": "chat"}
    >>> convert(row, ConvertOptions(), 1)[0].data["turns"]
    [{'role': 'user', 'content': 'Translate to French.\\n\\ncat'}, {'role': 'assistant', 'content': 'chat'}]
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
    get_str,
    opt_str,
    type_name,
)

#: Separator between an instruction and its non-empty input.
INPUT_SEPARATOR: Final = "\n\n"


def user_text(instruction: str, input_text: str | None) -> str:
    """The user turn of an Alpaca row.

    >>> user_text("Add.", "2 2"), user_text("Add.", "  ")
    ('Add.\\n\\n2 2', 'Add.')
    """
    if input_text is None or not input_text.strip():
        return instruction
    return f"{instruction}{INPUT_SEPARATOR}{input_text}"


def _history_turns(row: Mapping[str, object]) -> list[dict[str, object]]:
    turns: list[dict[str, object]] = []
    if row.get("history") is None:
        return turns
    for i, pair in enumerate(get_list(row, "history")):
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(p, str) for p in pair)
        ):
            raise RowProblem(
                f"history.{i}",
                f"expected an [instruction, response] pair of strings, got {type_name(pair)}",
                "wrong_type",
            )
        turns.append({"role": "user", "content": pair[0]})
        turns.append({"role": "assistant", "content": pair[1]})
    return turns


def _turns(
    system: str | None, history: list[dict[str, object]], user: str, output: str
) -> list[dict[str, object]]:
    turns: list[dict[str, object]] = []
    if system is not None and system.strip():
        turns.append({"role": "system", "content": system})
    turns.extend(history)
    turns.append({"role": "user", "content": user})
    turns.append({"role": "assistant", "content": output})
    return turns


def matches(row: Mapping[str, object]) -> bool:
    """True for rows with ``instruction`` and ``output``."""
    return "instruction" in row and "output" in row


def convert(row: Mapping[str, object], options: ConvertOptions, number: int) -> list[Draft]:
    """Convert one Alpaca row to a chat (SFT) draft."""
    instruction = get_str(row, "instruction")
    user = user_text(instruction, opt_str(row, "input"))
    output = get_str(row, "output")
    turns = _turns(opt_str(row, "system"), _history_turns(row), user, output)
    used = {"instruction", "input", "output", "system", "history"}
    return [Draft("sft", {"turns": turns, **base_fields(row, used, options)})]


def matches_self_instruct(row: Mapping[str, object]) -> bool:
    """True for rows with ``instruction`` and an ``instances`` list."""
    return "instruction" in row and isinstance(row.get("instances"), list)


def convert_self_instruct(
    row: Mapping[str, object], options: ConvertOptions, number: int
) -> list[Draft]:
    """Convert one self-instruct task to one chat draft per instance."""
    instruction = get_str(row, "instruction")
    instances = get_list(row, "instances")
    if not instances:
        raise RowProblem("instances", "the task has no instances", "empty_instances")
    system = opt_str(row, "system")
    base = base_fields(row, {"instruction", "instances", "system"}, options)
    drafts: list[Draft] = []
    for k, item in enumerate(instances):
        loc = f"instances.{k}"
        try:
            inst = as_mapping(item, loc, "an instance")
            user = user_text(instruction, opt_str(inst, "input", f"{loc}.input"))
            output = get_str(inst, "output", f"{loc}.output")
        except RowProblem as problem:
            drafts.append(Draft("sft", {}, part=k, problem=problem))
            continue
        data: dict[str, object] = {"turns": _turns(system, [], user, output), **base}
        if "id" in base:
            data["id"] = f"{base['id']}#{k}"
        meta = base.get("metadata")
        data["metadata"] = {**(meta if isinstance(meta, dict) else {}), "instance": k}
        drafts.append(Draft("sft", data, part=k))
    return drafts
