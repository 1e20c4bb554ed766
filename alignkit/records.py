"""The records alignkit reads: chat (SFT) examples and preference pairs.

The shape is the one of the CS336 lecture that started the project::

    Turn(role, content)
    ChatExample(turns)
    PreferenceExample(history, response_a, response_b, chosen="a" | "b")

with what real data needs added around it (ids, sources, metadata, a per-turn
``train`` override, scores) without breaking that shape.

Models are strict and closed: a wrong type is an error (no ``"1"`` → ``1``
coercion) and an unknown key is an error, except inside ``metadata``.

Structural rules are checked on construction and each names the turn it is
about. Empty content is an error unless validation is given the context
``{"allow_empty": True}``::

    >>> ChatExample.model_validate({"turns": [{"role": "user", "content": "Hi"},
    ...                                       {"role": "assistant", "content": ""}]},
    ...                            context={"allow_empty": True}).turns[1].content
    ''

A preference pair and its chosen/rejected helpers::

    >>> ex = PreferenceExample(history=[Turn(role="user", content="2+2?")],
    ...                        response_a="4", response_b="5", chosen="a")
    >>> ex.chosen_response, ex.rejected_response
    ('4', '5')
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

Role = Literal["system", "user", "assistant", "tool"]
#: The roles, in the order of :data:`ROLE_IDS`'s first entries.
ROLES: tuple[Role, ...] = ("system", "user", "assistant", "tool")

_CLOSED = ConfigDict(strict=True, extra="forbid", frozen=True)

_ID_DOC = "Optional identifier of the record, e.g. its id in the source data set."
_SOURCE_DOC = "Optional name of the data set or file the record comes from."
_METADATA_DOC = (
    "Free-form JSON kept with the record; the only place unknown keys may go. null is read as {}."
)


def _null_as_empty(value: object) -> object:
    """``metadata: null`` is no metadata: ``Dataset.to_json`` writes it for rows that had none."""
    return {} if value is None else value


def _object_or_null(schema: dict[str, Any]) -> None:
    """The JSON Schema of :data:`Metadata`: an object, or null (validation reads null as ``{}``)."""
    obj = {k: schema.pop(k) for k in ("type", "additionalProperties") if k in schema}
    schema["anyOf"] = [obj, {"type": "null"}]


#: A record's metadata: any JSON object; ``null`` is read as ``{}``, so the value is always a dict.
Metadata = Annotated[dict[str, JsonValue], BeforeValidator(_null_as_empty)]


def _allow_empty(info: ValidationInfo) -> bool:
    ctx = info.context
    return bool(isinstance(ctx, dict) and ctx.get("allow_empty", False))


def _turn_error(kind: str, message: str, index: int, field: str) -> PydanticCustomError:
    """An error about one turn; ``index`` and ``field`` locate it (see :func:`error_loc`)."""
    return PydanticCustomError(kind, message, {"turn": index, "field": field})


class Turn(BaseModel):
    """One message of a conversation."""

    model_config = _CLOSED

    role: Role = Field(
        description="Who speaks: system, user, assistant, or tool (the result of a tool call,"
        " shown to the model as input and never trained)."
    )
    content: str = Field(description="The text of the message.")
    train: bool | None = Field(
        default=None,
        description="Per-turn override of the masking policy: true trains this turn (assistant"
        " turns only), false never trains it, null follows the policy.",
    )
    reasoning: str | None = Field(
        default=None,
        description="Reasoning text of an assistant turn (what chat templates such as Qwen3's"
        " call reasoning_content).",
    )

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Turn:
        if self.train is True and self.role != "assistant":
            raise PydanticCustomError(
                "train_not_assistant",
                "only assistant turns can be trained; remove 'train: true' from this {role} turn",
                {"role": self.role, "field": "train"},
            )
        if self.reasoning is not None and self.role != "assistant":
            raise PydanticCustomError(
                "reasoning_not_assistant",
                "only assistant turns carry 'reasoning'; remove it from this {role} turn",
                {"role": self.role, "field": "reasoning"},
            )
        return self


def _check_turns(turns: list[Turn], info: ValidationInfo, *, offset: int = 0) -> None:
    """Rules shared by SFT turns and preference histories."""
    allow_empty = _allow_empty(info)
    for i, turn in enumerate(turns):
        if turn.role == "system" and i + offset != 0:
            raise _turn_error(
                "system_not_first",
                "turn {turn} is a system turn; a system turn may only come first",
                i,
                "role",
            )
        if not allow_empty and not turn.content.strip():
            raise _turn_error(
                "empty_content",
                "turn {turn} has empty content; fill it or drop the turn"
                " (or allow empty content: --allow-empty, allow_empty=True)",
                i,
                "content",
            )


class ChatExample(BaseModel):
    """A conversation for supervised fine-tuning (SFT).

    Rules: at least one assistant turn; a system turn only first; no turn with
    empty content (unless validated with allow_empty).
    """

    model_config = _CLOSED

    turns: list[Turn] = Field(min_length=1, description="The conversation, in order.")
    id: str | None = Field(default=None, description=_ID_DOC)
    source: str | None = Field(default=None, description=_SOURCE_DOC)
    metadata: Metadata = Field(default_factory=dict, description=_METADATA_DOC, json_schema_extra=_object_or_null)

    @field_validator("turns", mode="after")
    @classmethod
    def _check_turns(cls, turns: list[Turn], info: ValidationInfo) -> list[Turn]:
        _check_turns(turns, info)
        if not any(t.role == "assistant" for t in turns):
            raise PydanticCustomError(
                "no_assistant_turn",
                "an SFT example needs at least one assistant turn to train on",
            )
        return turns


class PreferenceExample(BaseModel):
    """A preference pair: one prompt (history) and two responses, one of them chosen.

    Rules: the history is non-empty, follows the turn rules of an SFT record and
    ends on a user turn; both responses are non-empty and they differ.
    """

    model_config = _CLOSED

    history: list[Turn] = Field(
        min_length=1, description="The prompt: the turns both responses answer; ends on a user turn."
    )
    response_a: str = Field(description="The first candidate assistant response.")
    response_b: str = Field(description="The second candidate assistant response.")
    chosen: Literal["a", "b"] = Field(description="Which response is preferred: a or b.")
    score_a: float | None = Field(default=None, description="Optional score of response_a.")
    score_b: float | None = Field(default=None, description="Optional score of response_b.")
    id: str | None = Field(default=None, description=_ID_DOC)
    source: str | None = Field(default=None, description=_SOURCE_DOC)
    metadata: Metadata = Field(default_factory=dict, description=_METADATA_DOC, json_schema_extra=_object_or_null)

    @field_validator("history", mode="after")
    @classmethod
    def _check_history(cls, history: list[Turn], info: ValidationInfo) -> list[Turn]:
        _check_turns(history, info)
        if history[-1].role != "user":
            raise _turn_error(
                "history_not_user_final",
                "the history must end on a user turn (turn {turn} is not); the responses"
                " answer that turn",
                len(history) - 1,
                "role",
            )
        return history

    @model_validator(mode="after")
    def _check_responses(self, info: ValidationInfo) -> PreferenceExample:
        if not _allow_empty(info):
            for name in ("response_a", "response_b"):
                if not getattr(self, name).strip():
                    raise PydanticCustomError(
                        "empty_response", "{name} is empty; a preference pair needs two answers",
                        {"name": name, "field": name},
                    )
        if self.response_a == self.response_b:
            raise PydanticCustomError(
                "identical_responses",
                "response_a and response_b are identical; the pair carries no preference",
                {"field": "response_b"},
            )
        return self

    @property
    def chosen_response(self) -> str:
        return self.response_a if self.chosen == "a" else self.response_b

    @property
    def rejected_response(self) -> str:
        return self.response_b if self.chosen == "a" else self.response_a

    @property
    def chosen_score(self) -> float | None:
        return self.score_a if self.chosen == "a" else self.score_b

    @property
    def rejected_score(self) -> float | None:
        return self.score_b if self.chosen == "a" else self.score_a

    def chosen_turns(self) -> list[Turn]:
        """The history followed by the chosen response as an assistant turn."""
        return [*self.history, Turn(role="assistant", content=self.chosen_response)]

    def rejected_turns(self) -> list[Turn]:
        """The history followed by the rejected response as an assistant turn."""
        return [*self.history, Turn(role="assistant", content=self.rejected_response)]


def record_kind(value: object) -> str | None:
    """``"sft"`` or ``"preference"`` by the keys of a dict (or the type of a record), else None.

        >>> record_kind({"turns": []}), record_kind({"response_a": "x"}), record_kind([1])
        ('sft', 'preference', None)
    """
    if isinstance(value, dict):
        if "turns" in value:
            return "sft"
        if "history" in value or "response_a" in value:
            return "preference"
        return None
    if isinstance(value, ChatExample):
        return "sft"
    if isinstance(value, PreferenceExample):
        return "preference"
    return None


#: Either kind of record, told apart by its keys (``turns`` or ``history``/``response_a``).
Record = Annotated[
    Union[
        Annotated[ChatExample, Tag("sft")],
        Annotated[PreferenceExample, Tag("preference")],
    ],
    Discriminator(
        record_kind,
        custom_error_type="unknown_record_kind",
        custom_error_message="cannot tell the record kind: an SFT record has 'turns',"
        " a preference record has 'history', 'response_a', 'response_b' and 'chosen'"
        " (data in another format, e.g. ShareGPT, OpenAI messages, Alpaca, HH-RLHF: convert it"
        " first with alignkit convert FILE -o records.jsonl)",
    ),
]


def error_loc(loc: tuple[int | str, ...], ctx: dict[str, object] | None) -> str:
    """The dotted field path of a validation error, e.g. ``turns.2.content``.

    Rule errors raised on a whole list carry the turn index and field in ``ctx``;
    they are folded into the path here so every error names the exact field.
    """
    parts: list[str] = [str(p) for p in loc]
    if ctx:
        turn = ctx.get("turn")
        field = ctx.get("field")
        if isinstance(turn, int):
            parts.append(str(turn))
        if isinstance(field, str):
            parts.append(field)
    return ".".join(parts)
