"""TRL preference rows: ``prompt``/``chosen``/``rejected``.

Explicit prompt: ``prompt`` is a string (one user turn) or a message list (the
history, OpenAI message rules); ``chosen`` and ``rejected`` are strings or a list
holding one assistant message; when both are longer conversations that repeat the
prompt (UltraFeedback-binarized), they are split like implicit-prompt rows and their
shared messages must end with the prompt (``prompt_mismatch`` otherwise). An optional ``system`` string comes first.

Implicit prompt (no ``prompt`` key): ``chosen`` and ``rejected`` are whole
conversations (message lists) sharing a prefix; the longest common prefix of
messages is the history and each remainder must be exactly one assistant message,
else the row is rejected as ``multi_turn_divergence``. (Implicit rows whose
``chosen``/``rejected`` are *strings* are HH-RLHF transcripts: see
:mod:`alignkit.io.adapters.hh_rlhf`.)

Numeric ``score_chosen``/``score_rejected`` (UltraFeedback-style) become the
scores of the two responses. Other keys go to ``metadata``.

Example::

    >>> from alignkit.io.adapters._common import ConvertOptions
    >>> u = {"role": "user", "content": "2+2?"}
    >>> row = {"chosen": [u, {"role": "assistant", "content": "4"}],
    ...        "rejected": [u, {"role": "assistant", "content": "5"}]}
    >>> d = convert(row, ConvertOptions(), 1)[0].data
    >>> d["history"], d["response_a"], d["response_b"]
    ([{'role': 'user', 'content': '2+2?'}], '4', '5')
"""

from __future__ import annotations

from collections.abc import Mapping

from alignkit.io.adapters._common import (
    ConvertOptions,
    Draft,
    RowProblem,
    base_fields,
    get_list,
    opt_str,
    preference_fields,
    type_name,
)
from alignkit.io.adapters._turns import tidy_turns
from alignkit.io.adapters.openai import message_turn, message_turns


def _response(value: object, loc: str) -> str:
    """A response given as a string or as a list of one assistant message."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise RowProblem(
            loc, f"expected a string or a list of messages, got {type_name(value)}", "wrong_type"
        )
    if len(value) != 1:
        raise RowProblem(
            loc,
            f"expected exactly one assistant message, got {len(value)} messages;"
            " multi-turn completions cannot be a preference response",
            "multi_turn_divergence",
        )
    turn = message_turn(value[0], f"{loc}.0")
    if turn["role"] != "assistant":
        raise RowProblem(
            f"{loc}.0.role",
            f"the response must be an assistant message, not {turn['role']}",
            "response_not_assistant",
        )
    content = turn["content"]
    assert isinstance(content, str)
    return content


def _scores(row: Mapping[str, object]) -> tuple[float | None, float | None]:
    out: list[float | None] = []
    for key in ("score_chosen", "score_rejected"):
        value = row.get(key)
        if value is None:
            out.append(None)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append(float(value))
        else:
            raise RowProblem(key, f"expected a number, got {type_name(value)}", "wrong_type")
    return out[0], out[1]


def _implicit(
    row: Mapping[str, object], options: ConvertOptions, notes: list[str]
) -> tuple[list[dict[str, object]], str, str]:
    chosen = [message_turn(m, f"chosen.{i}") for i, m in enumerate(get_list(row, "chosen"))]
    rejected = [message_turn(m, f"rejected.{i}") for i, m in enumerate(get_list(row, "rejected"))]
    if chosen == rejected:
        raise RowProblem(
            "rejected",
            "chosen and rejected are identical; the pair carries no preference",
            "identical_responses",
        )
    n = 0
    while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
        n += 1
    for name, side in (("chosen", chosen), ("rejected", rejected)):
        rest = side[n:]
        if len(rest) != 1 or rest[0]["role"] != "assistant":
            raise RowProblem(
                f"{name}.{n}",
                f"after the {n} shared messages, {name} has {len(rest)} messages; each side"
                " must end in exactly one assistant message that differs from the other",
                "multi_turn_divergence",
            )
    history = tidy_turns(chosen[:n], [f"chosen.{i}" for i in range(n)], options, notes)
    return history, str(chosen[n]["content"]), str(rejected[n]["content"])


def _explicit(
    row: Mapping[str, object], options: ConvertOptions, notes: list[str]
) -> tuple[list[dict[str, object]], str, str]:
    prompt = row.get("prompt")
    history: list[dict[str, object]]
    if isinstance(prompt, str):
        history = [{"role": "user", "content": prompt}]
    elif isinstance(prompt, list):
        history = message_turns(prompt, "prompt", options, notes)
    else:
        raise RowProblem(
            "prompt",
            f"expected a string or a list of messages, got {type_name(prompt)}",
            "wrong_type",
        )
    if "chosen" not in row or "rejected" not in row:
        raise RowProblem(
            "chosen" if "chosen" not in row else "rejected", "missing field", "missing"
        )
    chosen, rejected = row["chosen"], row["rejected"]
    if (
        isinstance(chosen, list)
        and isinstance(rejected, list)
        and max(len(chosen), len(rejected)) > 1
    ):
        return _repeated_prompt(history, row, options, notes)
    return history, _response(chosen, "chosen"), _response(rejected, "rejected")


def _repeated_prompt(
    history: list[dict[str, object]],
    row: Mapping[str, object],
    options: ConvertOptions,
    notes: list[str],
) -> tuple[list[dict[str, object]], str, str]:
    """``chosen``/``rejected`` that repeat the prompt (UltraFeedback-binarized): split them
    as implicit-prompt rows and check that their shared part is the prompt."""
    shared, chosen, rejected = _implicit(row, options, notes)
    same = shared == history
    if not same and len(history) == 1 and shared:
        same = shared[-1] == history[0]  # a string prompt is the last shared user turn
    if not same:
        raise RowProblem(
            "prompt",
            "chosen and rejected are whole conversations, but their shared messages do not"
            " end with the prompt; give chosen/rejected as the responses only",
            "prompt_mismatch",
        )
    return shared, chosen, rejected


def matches(row: Mapping[str, object]) -> bool:
    """True for ``prompt``/``chosen``/``rejected`` rows and for implicit-prompt rows
    whose ``chosen``/``rejected`` are message lists."""
    if "chosen" not in row or "rejected" not in row:
        return False
    return "prompt" in row or isinstance(row.get("chosen"), list)


def convert(row: Mapping[str, object], options: ConvertOptions, number: int) -> list[Draft]:
    """Convert one TRL preference row to a preference draft."""
    notes: list[str] = []
    if "prompt" in row:
        history, chosen, rejected = _explicit(row, options, notes)
    else:
        history, chosen, rejected = _implicit(row, options, notes)
    system = opt_str(row, "system")
    if system is not None and system.strip():
        if history and history[0]["role"] == "system":
            raise RowProblem(
                "system",
                "the row has both a 'system' field and a system message; keep one",
                "duplicate_system",
            )
        history.insert(0, {"role": "system", "content": system})
    data = preference_fields(history, chosen, rejected, options, number, _scores(row))
    used = {"prompt", "chosen", "rejected", "system", "score_chosen", "score_rejected"}
    data.update(base_fields(row, used, options))
    return [Draft("preference", data, notes)]
