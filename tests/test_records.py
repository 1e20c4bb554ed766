"""Record models: the seed shape, strictness, the rules and where their errors point."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from alignkit.records import ROLES, ChatExample, PreferenceExample, Record, Turn, error_loc

U = {"role": "user", "content": "Hi"}
A = {"role": "assistant", "content": "Hello"}


def errors_of(cls: Any, data: Any, **kw: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as exc:
        TypeAdapter(cls).validate_python(data, **kw)
    return [(error_loc(e["loc"], e.get("ctx")), e["type"]) for e in exc.value.errors()]


def test_seed_shape_constructs() -> None:
    ex = ChatExample(turns=[Turn(role="user", content="Hi"), Turn(role="assistant", content="Yo")])
    assert ex.id is None and ex.source is None and ex.metadata == {}
    p = PreferenceExample(history=[Turn(role="user", content="2+2?")], response_a="4",
                          response_b="5", chosen="b")
    assert (p.chosen_response, p.rejected_response) == ("5", "4")
    assert [t.content for t in p.chosen_turns()] == ["2+2?", "5"]
    assert [t.role for t in p.rejected_turns()] == ["user", "assistant"]
    assert p.rejected_turns()[-1].content == "4"


def test_scores_follow_the_choice() -> None:
    p = PreferenceExample.model_validate({"history": [U], "response_a": "x", "response_b": "y",
                                          "chosen": "b", "score_a": 1, "score_b": 7.5})
    assert (p.chosen_score, p.rejected_score) == (7.5, 1.0)


def test_roles_constant_matches_the_model() -> None:
    assert ROLES == ("system", "user", "assistant", "tool")
    for role in ROLES:
        Turn(role=role, content="x")


@pytest.mark.parametrize(("data", "expected"), [
    ({"turns": [{"role": "user", "content": 1}, A]}, [("turns.0.content", "string_type")]),
    ({"turns": [dict(U, train="true"), A]}, [("turns.0.train", "bool_type")]),
    ({"turns": [U, A], "id": 3}, [("id", "string_type")]),
    ({"turns": [U, A], "extra": 1}, [("extra", "extra_forbidden")]),
    ({"turns": [dict(U, name="x"), A]}, [("turns.0.name", "extra_forbidden")]),
    ({"turns": [U]}, [("turns", "no_assistant_turn")]),
    ({"turns": [U, A, {"role": "system", "content": "s"}]}, [("turns.2.role", "system_not_first")]),
    ({"turns": [U, dict(A, content="\n ")]}, [("turns.1.content", "empty_content")]),
    ({"turns": [dict(U, train=True), A]}, [("turns.0.train", "train_not_assistant")]),
    ({"turns": [{"role": "tool", "content": "r", "reasoning": "x"}, A]},
     [("turns.0.reasoning", "reasoning_not_assistant")]),
    ({"turns": []}, [("turns", "too_short")]),
])
def test_chat_rules(data: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert errors_of(ChatExample, data) == expected


@pytest.mark.parametrize(("data", "expected"), [
    ({"history": [U, A], "response_a": "x", "response_b": "y", "chosen": "a"},
     [("history.1.role", "history_not_user_final")]),
    ({"history": [U], "response_a": "x", "response_b": "x", "chosen": "a"},
     [("response_b", "identical_responses")]),
    ({"history": [U], "response_a": "x", "response_b": "", "chosen": "a"},
     [("response_b", "empty_response")]),
    ({"history": [U], "response_a": "x", "response_b": "y", "chosen": "B"},
     [("chosen", "literal_error")]),
    ({"history": [], "response_a": "x", "response_b": "y", "chosen": "a"},
     [("history", "too_short")]),
])
def test_preference_rules(data: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert errors_of(PreferenceExample, data) == expected


def test_allow_empty_context() -> None:
    ctx = {"allow_empty": True}
    ChatExample.model_validate({"turns": [U, dict(A, content="")]}, context=ctx)
    PreferenceExample.model_validate({"history": [U], "response_a": "", "response_b": "y",
                                      "chosen": "a"}, context=ctx)


def test_metadata_takes_any_json() -> None:
    meta = {"a": [1, 2.5, None, True, {"b": "c"}], "d": {}}
    assert ChatExample.model_validate({"turns": [U, A], "metadata": meta}).metadata == meta


def test_records_are_frozen() -> None:
    t = Turn(role="user", content="x")
    with pytest.raises(ValidationError):
        t.content = "y"  # type: ignore[misc]


def test_record_union_tells_kinds_apart() -> None:
    adapter: TypeAdapter[ChatExample | PreferenceExample] = TypeAdapter(Record)
    assert isinstance(adapter.validate_python({"turns": [U, A]}), ChatExample)
    assert isinstance(adapter.validate_python({"history": [U], "response_a": "x",
                                               "response_b": "y", "chosen": "a"}),
                      PreferenceExample)
    assert errors_of(Record, {"prompt": "x"}) == [("", "unknown_record_kind")]


def test_error_loc_folds_turn_and_field() -> None:
    assert error_loc(("turns",), {"turn": 3, "field": "role"}) == "turns.3.role"
    assert error_loc(("turns", 2, "content"), None) == "turns.2.content"
    assert error_loc((), {"field": "response_b"}) == "response_b"


@given(st.lists(st.sampled_from(["user", "assistant", "tool"]), min_size=1, max_size=8),
       st.booleans())
def test_property_system_first_and_assistant_present(roles: list[str], system: bool) -> None:
    turns = ([{"role": "system", "content": "s"}] if system else []) + [
        {"role": r, "content": "x"} for r in roles]
    try:
        ChatExample.model_validate({"turns": turns})
    except ValidationError as exc:
        assert "assistant" not in roles
        assert [e["type"] for e in exc.errors()] == ["no_assistant_turn"]
    else:
        assert "assistant" in roles


def test_public_names_are_re_exported_lazily() -> None:
    import alignkit
    from alignkit import io as alignkit_io

    assert alignkit.ChatExample is ChatExample and alignkit.Turn is Turn
    assert alignkit.PreferenceExample is PreferenceExample
    assert alignkit.iter_records is alignkit_io.iter_records
    assert alignkit.validate_file is alignkit_io.validate_file
    with pytest.raises(AttributeError):
        alignkit.no_such_name  # noqa: B018
    with pytest.raises(AttributeError):
        alignkit_io.no_such_name  # noqa: B018
