"""A conservative fast check of parsed SFT records (compiled; never imports pydantic).

The pipeline parses a line with ``pydantic_core.from_json`` (the parser pydantic's
own ``validate_json`` uses: same duplicate-key, escape and control-character rules)
and hands the result to :func:`sft_turns`. It returns the turns as plain tuples only
when the value is certainly a valid :class:`~alignkit.records.ChatExample` under the
rules of :mod:`alignkit.records` (strict types, closed key sets, roles, the per-turn
``train``/``reasoning`` rules, system only first, no blank content, an assistant
turn); anything else, valid or not, gives ``None`` and goes through pydantic, which
accepts it or produces the exact error. So a line it accepts is a line pydantic
accepts with the same turns (a hypothesis differential test checks this), and no
error message depends on it.

It is conservative on purpose: ``metadata`` is accepted only as a flat object of JSON
scalars; nested metadata takes the pydantic path.

    >>> sft_turns({"turns": [{"role": "user", "content": "Hi"},
    ...                      {"role": "assistant", "content": "Yo", "train": True}]})
    [('user', 'Hi', None, None), ('assistant', 'Yo', True, None)]
    >>> sft_turns({"turns": [{"role": "user", "content": "Hi"}]}) is None  # no assistant turn
    True
"""

from __future__ import annotations

from typing import Final, Optional

#: ``(role, content, train, reasoning)``, as :func:`alignkit.templates.chat.turn_tuples` makes.
TurnTuple = tuple[str, str, Optional[bool], Optional[str]]

_RECORD_KEYS: Final[set[str]] = {"turns", "id", "source", "metadata"}
_TURN_KEYS: Final[set[str]] = {"role", "content", "train", "reasoning"}
_ROLES: Final[set[str]] = {"system", "user", "assistant", "tool"}


def _optional_str(d: dict[str, object], key: str) -> bool:
    """True when ``d[key]`` is absent, ``None`` or a string."""
    if key not in d:
        return True
    value = d[key]
    return value is None or isinstance(value, str)


def _plain_metadata(value: object) -> bool:
    """True for ``null`` (read as ``{}``) or a flat object of JSON scalars (strings, numbers,
    booleans, nulls).

    Any such value that ``from_json`` produces is a valid ``JsonValue`` for pydantic
    (``NaN``, infinities and big integers included); nested arrays and objects are
    left to pydantic.
    """
    if value is None:
        return True
    if not isinstance(value, dict):
        return False
    for key in value:
        item = value[key]
        if item is None or isinstance(item, (str, bool, int, float)):
            continue
        return False
    return True


def _turn(value: object, index: int) -> TurnTuple | None:
    if not isinstance(value, dict):
        return None
    role = value.get("role")
    content = value.get("content")
    if not isinstance(role, str) or role not in _ROLES or not isinstance(content, str):
        return None
    train: bool | None = None
    reasoning: str | None = None
    if len(value) > 2:  # more than role and content: only train and reasoning may be there
        for key in value:
            if key not in _TURN_KEYS:
                return None
        if "train" in value:
            flag = value["train"]
            if flag is not None:
                if not isinstance(flag, bool):
                    return None
                train = flag
        if "reasoning" in value:
            text = value["reasoning"]
            if text is not None:
                if not isinstance(text, str):
                    return None
                reasoning = text
    if role != "assistant" and (train is True or reasoning is not None):
        return None
    if role == "system" and index != 0:
        return None
    if not content or content.isspace():  # blank: what ``not content.strip()`` tells, no copy
        return None
    return (role, content, train, reasoning)


def sft_turns(value: object) -> list[TurnTuple] | None:
    """The turns of ``value`` when it is certainly a valid SFT record, else ``None``.

    Args:
        value: what ``pydantic_core.from_json`` returned for one line.

    Returns:
        ``(role, content, train, reasoning)`` per turn, or ``None``: then validate the
        line with pydantic (it may still be valid; ``None`` is never an error by itself).

        >>> sft_turns({"turns": [{"role": "assistant", "content": "ok"}], "extra": 1}) is None
        True
    """
    if not isinstance(value, dict):
        return None
    if len(value) == 1:  # the common record: only turns (no key scan, no optional fields)
        raw = value.get("turns")
    else:
        for key in value:
            if key not in _RECORD_KEYS:
                return None
        if not _optional_str(value, "id") or not _optional_str(value, "source"):
            return None
        if "metadata" in value and not _plain_metadata(value["metadata"]):
            return None
        raw = value.get("turns")
    if not isinstance(raw, list) or len(raw) == 0:
        return None
    out: list[TurnTuple] = []
    assistant = False
    for i in range(len(raw)):
        turn = _turn(raw[i], i)
        if turn is None:
            return None
        if turn[0] == "assistant":
            assistant = True
        out.append(turn)
    if not assistant:
        return None
    return out


_PAIR_KEYS: Final[set[str]] = {"history", "response_a", "response_b", "chosen", "score_a", "score_b",
                               "id", "source", "metadata"}


def _optional_score(d: dict[str, object], key: str) -> bool:
    """True when ``d[key]`` is absent, ``None``, a float or an int (not a bool)."""
    if key not in d:
        return True
    value = d[key]
    if value is None or isinstance(value, float):
        return True
    return isinstance(value, int) and not isinstance(value, bool)


def _response(d: dict[str, object], key: str) -> str | None:
    """``d[key]`` when it is a string with a non-blank character, else ``None``."""
    if key not in d:
        return None
    value = d[key]
    if not isinstance(value, str) or not value or value.isspace():  # blank, without a stripped copy
        return None
    return value


def pair_parts(value: object) -> tuple[list[TurnTuple], str, str] | None:
    """``(history, chosen response, rejected response)`` when ``value`` is certainly a valid
    :class:`~alignkit.records.PreferenceExample`, else ``None``.

    The rules are those of :func:`sft_turns` for the history's turns, plus: the history is a
    non-empty list ending on a user turn, both responses are non-blank strings that differ,
    ``chosen`` is ``"a"`` or ``"b"``, scores are absent, null or numbers.

    Args:
        value: what ``pydantic_core.from_json`` returned for one line.

    Returns:
        The parts, or ``None``: then validate the line with pydantic (``None`` is never an
        error by itself).

        >>> pair_parts({"history": [{"role": "user", "content": "2+2?"}],
        ...             "response_a": "5", "response_b": "4", "chosen": "b"})
        ([('user', '2+2?', None, None)], '4', '5')
        >>> pair_parts({"history": [{"role": "user", "content": "2+2?"}],
        ...             "response_a": "4", "response_b": "4", "chosen": "a"}) is None
        True
    """
    if not isinstance(value, dict):
        return None
    for key in value:
        if key not in _PAIR_KEYS:
            return None
    if not _optional_str(value, "id") or not _optional_str(value, "source"):
        return None
    if not _optional_score(value, "score_a") or not _optional_score(value, "score_b"):
        return None
    if "metadata" in value and not _plain_metadata(value["metadata"]):
        return None
    a = _response(value, "response_a")
    b = _response(value, "response_b")
    if a is None or b is None or a == b or "chosen" not in value or "history" not in value:
        return None
    chosen = value["chosen"]
    if not isinstance(chosen, str) or (chosen != "a" and chosen != "b"):
        return None
    raw = value["history"]
    if not isinstance(raw, list) or len(raw) == 0:
        return None
    history: list[TurnTuple] = []
    for i in range(len(raw)):
        turn = _turn(raw[i], i)
        if turn is None:
            return None
        history.append(turn)
    if history[-1][0] != "user":
        return None
    if chosen == "a":
        return history, a, b
    return history, b, a
