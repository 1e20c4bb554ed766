"""Shared pieces of the format adapters: options, drafts, row problems, field readers.

An adapter turns one input row (a JSON object) into zero or more :class:`Draft`
records: plain dicts in alignkit's record shape, validated later by the Pydantic
models. A row that cannot be converted raises :class:`RowProblem` with the source
field path (e.g. ``conversations.3.from``), a message that says how to fix it and
a short error type.

Example::

    >>> get_str({"prompt": "Hi"}, "prompt")
    'Hi'
    >>> get_str({"prompt": 3}, "prompt")
    Traceback (most recent call last):
    ...
    alignkit.io.adapters._common.RowProblem: prompt: expected a string, got number [wrong_type]
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from alignkit.errors import InputError

RecordKind = Literal["sft", "preference"]


@dataclass(frozen=True)
class ConvertOptions:
    """How adapters treat the data problems they can fix.

    Every fix is off by default (the row is rejected with a reason); when a fix is
    on, each use of it is counted in the conversion summary under its note name.

    Attributes:
        merge_consecutive: join consecutive turns of the same role (``user``,
            ``assistant`` or ``system``) with a blank line (note ``merged_consecutive``).
        drop_leading_assistant: drop assistant turns that come before the first user
            turn (note ``dropped_leading_assistant``).
        shuffle_seed: for preference rows, put the chosen response at a position drawn
            from this seed and the row number (``chosen`` becomes "a" or "b"); ``None``
            keeps the chosen response as ``response_a``.
        allow_empty: accept empty turn content (validation context ``allow_empty``).
        source: value of the records' ``source`` field (``None``: left unset).
    """

    merge_consecutive: bool = False
    drop_leading_assistant: bool = False
    shuffle_seed: int | None = None
    allow_empty: bool = False
    source: str | None = None


class RowProblem(Exception):
    """A row that an adapter cannot convert: where (source field path), why, and a type."""

    def __init__(self, loc: str, message: str, error_type: str) -> None:
        self.loc = loc
        self.message = message
        self.error_type = error_type
        super().__init__(f"{loc}: {message} [{error_type}]" if loc else f"{message} [{error_type}]")


class ConvertError(InputError):
    """An :class:`InputError` located by line (JSONL), item (JSON array) or row (datasets).

    ``str(err)`` is ``path:line: loc: message [type]`` for lines, and
    ``path: item N: loc: message [type]`` / ``path: row N: …`` otherwise.
    """


@dataclass
class Draft:
    """A record in the making: alignkit record fields plus the notes of fixes applied.

    Attributes:
        kind: ``"sft"`` (validated as ``ChatExample``) or ``"preference"``.
        data: the record fields.
        notes: names of the counted fixes or remarks that apply to this record.
        part: index of this record within its row when one row gives several
            (self-instruct instances), else ``None``.
        problem: set instead of ``data`` when this part of the row failed.
    """

    kind: RecordKind
    data: dict[str, object]
    notes: list[str] = field(default_factory=list)
    part: int | None = None
    problem: RowProblem | None = None


def type_name(value: object) -> str:
    """JSON-ish name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def get_str(row: Mapping[str, object], key: str, loc: str | None = None) -> str:
    """``row[key]`` as a string, or a :class:`RowProblem` naming ``loc`` (default ``key``)."""
    where = key if loc is None else loc
    if key not in row:
        raise RowProblem(where, f"missing field '{key}'", "missing")
    value = row[key]
    if not isinstance(value, str):
        raise RowProblem(where, f"expected a string, got {type_name(value)}", "wrong_type")
    return value


def opt_str(row: Mapping[str, object], key: str, loc: str | None = None) -> str | None:
    """Like :func:`get_str`, but a missing key or ``null`` gives ``None``."""
    if row.get(key) is None:
        return None
    return get_str(row, key, loc)


def get_list(row: Mapping[str, object], key: str, loc: str | None = None) -> list[object]:
    """``row[key]`` as a list, or a :class:`RowProblem`."""
    where = key if loc is None else loc
    if key not in row:
        raise RowProblem(where, f"missing field '{key}'", "missing")
    value = row[key]
    if not isinstance(value, list):
        raise RowProblem(where, f"expected an array, got {type_name(value)}", "wrong_type")
    return value


def as_mapping(value: object, loc: str, what: str) -> Mapping[str, object]:
    """``value`` as a JSON object, or a :class:`RowProblem` saying ``what`` was expected."""
    if not isinstance(value, Mapping):
        raise RowProblem(loc, f"expected {what} (an object), got {type_name(value)}", "wrong_type")
    return value


def row_id(row: Mapping[str, object]) -> str | None:
    """The row's ``id`` as a string (integers are written in decimal), if any."""
    value = row.get("id")
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (str, int)):
        return str(value)
    return None


def base_fields(
    row: Mapping[str, object], used: set[str], options: ConvertOptions
) -> dict[str, object]:
    """``id``, ``source`` and ``metadata`` of a record made from ``row``.

    Keys the adapter did not use (``used``) are kept in ``metadata`` so that no
    information is lost: ``{"id": 7, "dataset": "x"}`` gives ``id="7"`` and
    ``metadata={"dataset": "x"}``.
    """
    out: dict[str, object] = {}
    rid = row_id(row)
    skip = set(used)
    if rid is not None:
        out["id"] = rid
        skip.add("id")
    if options.source is not None:
        out["source"] = options.source
    metadata = {k: v for k, v in row.items() if k not in skip}
    if metadata:
        out["metadata"] = metadata
    return out


def preference_fields(
    history: list[dict[str, object]],
    chosen: str,
    rejected: str,
    options: ConvertOptions,
    number: int,
    scores: tuple[float | None, float | None] = (None, None),
) -> dict[str, object]:
    """The preference part of a record: the chosen response is ``response_a``
    unless ``options.shuffle_seed`` is set, in which case a draw seeded by the seed
    and the row ``number`` decides (the same seed gives the same positions).

    >>> preference_fields([], "good", "bad", ConvertOptions(), 1)["chosen"]
    'a'
    """
    out: dict[str, object] = {"history": history}
    swap = False
    if options.shuffle_seed is not None:
        swap = random.Random(f"{options.shuffle_seed}:{number}").random() < 0.5
    first, second = (rejected, chosen) if swap else (chosen, rejected)
    score_first, score_second = (scores[1], scores[0]) if swap else scores
    out["response_a"] = first
    out["response_b"] = second
    out["chosen"] = "b" if swap else "a"
    if score_first is not None:
        out["score_a"] = score_first
    if score_second is not None:
        out["score_b"] = score_second
    return out
