"""The fast structural check of SFT records: whatever it accepts, pydantic accepts with the same turns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _record_strategies import TEXT, maybe, scalars, turn, usually
from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic_core import from_json

from alignkit.io.reader import _SFT
from alignkit.record_check import sft_turns
from alignkit.templates.chat import turn_tuples

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"

_scalar = scalars(nan=False, big=2**60)


@st.composite
def _record(draw: st.DrawFn) -> object:
    if draw(st.integers(0, 40)) == 0:
        return draw(st.one_of(_scalar, st.lists(_scalar, max_size=2)))
    d: dict[str, object] = {}
    turns = st.lists(turn(_scalar), min_size=1, max_size=5)
    maybe(d, "turns", usually(draw, turns, st.one_of(_scalar, st.just([]))), draw(st.integers(0, 30)) > 0)
    maybe(d, "id", usually(draw, st.one_of(st.none(), TEXT), _scalar), draw(st.booleans()))
    maybe(d, "source", usually(draw, st.one_of(st.none(), TEXT), _scalar), draw(st.integers(0, 3)) == 0)
    plain = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(), TEXT, st.just(2**70))
    flat = st.dictionaries(st.sampled_from(["a", "b"]), plain, max_size=2)
    nested = st.dictionaries(st.sampled_from(["a", "b"]), st.lists(_scalar, max_size=2), max_size=2)
    maybe(d, "metadata", usually(draw, flat, st.one_of(_scalar, nested)), draw(st.integers(0, 3)) == 0)
    maybe(d, "history", [], draw(st.integers(0, 40)) == 0)
    return d


def _pydantic(raw: bytes) -> object:
    try:
        return _SFT.validate_json(raw)
    except ValidationError:
        return None


@settings(max_examples=400, deadline=None)
@given(_record())
def test_accepted_records_are_valid_with_the_same_turns(value: object) -> None:
    raw = json.dumps(value).encode()
    turns = sft_turns(from_json(raw, cache_strings=False))
    record = _pydantic(raw)
    if turns is not None:
        assert record is not None, raw
        assert turns == turn_tuples(record.turns)  # type: ignore[attr-defined]
    event("accepted" if turns is not None else "pydantic path")


def _accepted(value: object) -> bool:
    return sft_turns(from_json(json.dumps(value).encode(), cache_strings=False)) is not None


def test_doubtful_metadata_is_valid_but_takes_the_pydantic_path() -> None:
    doubtful = {"turns": [{"role": "assistant", "content": "a"}], "metadata": {"a": 1.5, "b": [1]}}
    assert not _accepted(doubtful) and _pydantic(json.dumps(doubtful).encode()) is not None


def test_plain_valid_records_are_accepted() -> None:
    value = {"turns": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                       {"role": "assistant", "content": "Yo", "train": False, "reasoning": "r"},
                       {"role": "tool", "content": "42", "train": None}],
             "id": "x", "source": None, "metadata": {"lang": "en", "n": 3, "ok": True, "score": 0.5,
                                                     "big": 2**70, "none": None}}
    assert sft_turns(value) == [("system", "Be brief.", None, None), ("user", "Hi", None, None),
                                ("assistant", "Yo", False, "r"), ("tool", "42", None, None)]


@pytest.mark.parametrize("value", [
    {"turns": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"},
               {"role": "assistant", "content": "c"}]},  # system not first
    {"turns": [{"role": "user", "content": "a", "train": True}, {"role": "assistant", "content": "c"}]},
    {"turns": [{"role": "user", "content": "a", "reasoning": "r"}, {"role": "assistant", "content": "c"}]},
    {"turns": [{"role": "assistant", "content": " \n"}]},
    {"turns": [{"role": "user", "content": "a"}]},
    {"turns": []},
    {"turns": [{"role": "assistant", "content": "a"}], "metadata": {"a": {"b": 1}}},
    {"turns": [{"role": "assistant", "content": "a"}], "metadata": {"a": [1]}},
    {"turns": [{"role": "assistant", "content": "a", "train": 1}]},
    {"turns": [{"role": "assistant", "content": "a"}], "id": 3},
    [{"role": "assistant", "content": "a"}],
])
def test_doubtful_or_invalid_records_take_the_pydantic_path(value: object) -> None:
    assert sft_turns(value) is None


def test_every_invalid_sample_line_takes_the_pydantic_path() -> None:
    lines = (SAMPLE / "invalid.jsonl").read_bytes().split(b"\n")
    checked = 0
    for raw in lines:
        try:
            value = from_json(raw, cache_strings=False)
        except ValueError:
            continue
        turns = sft_turns(value)
        if _pydantic(raw) is None:
            assert turns is None, raw
            checked += 1
    assert checked >= 10
