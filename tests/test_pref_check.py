"""The fast structural check of preference records: whatever it accepts, pydantic accepts
with the same history and the same chosen/rejected responses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _record_strategies import TEXT, maybe, scalars, turn, usually
from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic_core import from_json

from alignkit.io.reader import _PREFERENCE
from alignkit.record_check import pair_parts
from alignkit.templates.chat import turn_tuples

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"

_scalar = scalars(nan=True, big=2**70)


@st.composite
def _record(draw: st.DrawFn) -> object:
    if draw(st.integers(0, 40)) == 0:
        return draw(st.one_of(_scalar, st.lists(_scalar, max_size=2)))
    d: dict[str, object] = {}
    history = st.lists(turn(_scalar), max_size=3).map(lambda ts: [*ts, {"role": "user", "content": "q"}])
    maybe(d, "history", usually(draw, history, st.one_of(_scalar, st.just([]))), draw(st.integers(0, 30)) > 0)
    answers = st.sampled_from(["A", "B", "caf\u00e9", "<|im_end|>", "x y"])
    for key in ("response_a", "response_b"):
        maybe(d, key, usually(draw, answers, st.one_of(TEXT, _scalar)), draw(st.integers(0, 30)) > 0)
    maybe(d, "chosen", usually(draw, st.sampled_from(["a", "b"]), st.one_of(TEXT, _scalar, st.just("A"))),
           draw(st.integers(0, 30)) > 0)
    score = st.one_of(st.none(), st.floats(), st.integers(-2**70, 2**70))
    for key in ("score_a", "score_b"):
        maybe(d, key, usually(draw, score, st.one_of(_scalar, st.just("1.5"))), draw(st.integers(0, 3)) == 0)
    maybe(d, "id", usually(draw, st.one_of(st.none(), TEXT), _scalar), draw(st.booleans()))
    maybe(d, "source", usually(draw, st.one_of(st.none(), TEXT), _scalar), draw(st.integers(0, 3)) == 0)
    plain = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(), TEXT, st.just(2**70))
    flat = st.dictionaries(st.sampled_from(["a", "b"]), plain, max_size=2)
    nested = st.dictionaries(st.sampled_from(["a", "b"]), st.lists(_scalar, max_size=2), max_size=2)
    maybe(d, "metadata", usually(draw, flat, st.one_of(_scalar, nested)), draw(st.integers(0, 3)) == 0)
    maybe(d, "turns", [], draw(st.integers(0, 40)) == 0)
    return d


def _pydantic(raw: bytes) -> object:
    try:
        return _PREFERENCE.validate_json(raw)
    except ValidationError:
        return None


@settings(max_examples=500, deadline=None)
@given(_record())
def test_accepted_pairs_are_valid_with_the_same_parts(value: object) -> None:
    raw = json.dumps(value).encode()
    parts = pair_parts(from_json(raw, cache_strings=False))
    record = _pydantic(raw)
    if parts is not None:
        assert record is not None, raw
        assert parts == (turn_tuples(record.history), record.chosen_response,  # type: ignore[attr-defined]
                         record.rejected_response)  # type: ignore[attr-defined]
    event("accepted" if parts is not None else "pydantic path")


def test_plain_valid_pairs_are_accepted() -> None:
    value = {"history": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                         {"role": "assistant", "content": "Yo", "train": False, "reasoning": "r"},
                         {"role": "user", "content": "and?"}],
             "response_a": "a", "response_b": "b", "chosen": "b", "score_a": 1, "score_b": 2.5,
             "id": "x", "source": None, "metadata": {"lang": "en", "n": 3, "big": 2**70, "none": None}}
    assert pair_parts(value) == ([("system", "Be brief.", None, None), ("user", "Hi", None, None),
                                  ("assistant", "Yo", False, "r"), ("user", "and?", None, None)], "b", "a")


_OK: dict[str, object] = {"history": [{"role": "user", "content": "q"}], "response_a": "a",
                          "response_b": "b", "chosen": "a"}


@pytest.mark.parametrize("change", [
    {"history": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},  # not user-final
    {"history": [{"role": "user", "content": "q"}, {"role": "system", "content": "s"},
                 {"role": "user", "content": "q"}]},  # system not first
    {"history": [{"role": "user", "content": "q", "train": True}]},
    {"history": [{"role": "user", "content": " "}]},
    {"history": []},
    {"history": {"role": "user", "content": "q"}},
    {"response_b": "a"},  # identical
    {"response_a": " \n"},
    {"response_b": 3},
    {"chosen": "c"},
    {"chosen": True},
    {"score_a": True},
    {"score_b": "1"},
    {"metadata": {"a": {"b": 1}}},
    {"id": 3},
    {"turns": []},
])
def test_doubtful_or_invalid_pairs_take_the_pydantic_path(change: dict[str, object]) -> None:
    assert pair_parts({**_OK, **change}) is None
    assert pair_parts({k: v for k, v in _OK.items() if k not in change or k == "turns"} | {"extra": 1}) is None


@pytest.mark.parametrize("missing", sorted(_OK))
def test_a_missing_required_key_takes_the_pydantic_path(missing: str) -> None:
    assert pair_parts({k: v for k, v in _OK.items() if k != missing}) is None


def test_every_preference_sample_line_agrees_with_pydantic() -> None:
    checked = 0
    for name in ("preference.jsonl", "invalid.jsonl"):
        for raw in (SAMPLE / name).read_bytes().split(b"\n"):
            try:
                value = from_json(raw, cache_strings=False)
            except ValueError:
                continue
            parts = pair_parts(value)
            if _pydantic(raw) is None:
                assert parts is None, raw
            else:
                assert parts is not None, raw  # plain valid sample pairs take the fast path
            checked += 1
    assert checked >= 10
