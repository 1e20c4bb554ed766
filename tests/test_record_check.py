"""The fast structural check of SFT records: whatever it accepts, pydantic accepts with the same turns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic_core import from_json

from alignkit.io.reader import _SFT
from alignkit.record_check import sft_turns
from alignkit.templates.chat import turn_tuples

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"

_text = st.sampled_from(["Hi", "", "  ", "\n", "x y", "caf\u00e9", "\u3000", "</think>a", "<|im_end|>"])
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False), _text,
                    st.just(2**60))
_role = st.sampled_from(["user", "assistant", "user", "assistant", "tool", "system", "bot"])


def _maybe(d: dict[str, object], key: str, value: object, present: bool) -> None:
    if present:
        d[key] = value


def _usually(draw: st.DrawFn, good: st.SearchStrategy[object], bad: st.SearchStrategy[object]) -> object:
    """Mostly a valid value, sometimes anything (so both branches of the check are exercised)."""
    return draw(bad) if draw(st.integers(0, 40)) == 0 else draw(good)


@st.composite
def _turn(draw: st.DrawFn) -> object:
    if draw(st.integers(0, 40)) == 0:
        return draw(_scalar)
    d: dict[str, object] = {}
    _maybe(d, "role", _usually(draw, _role, _scalar), draw(st.integers(0, 30)) > 0)
    _maybe(d, "content", _usually(draw, st.sampled_from(["Hi", "x y", "caf\u00e9", "</think>a"]),
                                  st.one_of(_text, _scalar)), draw(st.integers(0, 30)) > 0)
    _maybe(d, "train", _usually(draw, st.one_of(st.none(), st.booleans()), _scalar),
           draw(st.integers(0, 3)) == 0)
    _maybe(d, "reasoning", _usually(draw, st.one_of(st.none(), _text), _scalar), draw(st.integers(0, 5)) == 0)
    _maybe(d, "extra", 1, draw(st.integers(0, 40)) == 0)
    return d


@st.composite
def _record(draw: st.DrawFn) -> object:
    if draw(st.integers(0, 40)) == 0:
        return draw(st.one_of(_scalar, st.lists(_scalar, max_size=2)))
    d: dict[str, object] = {}
    turns = st.lists(_turn(), min_size=1, max_size=5)
    _maybe(d, "turns", _usually(draw, turns, st.one_of(_scalar, st.just([]))), draw(st.integers(0, 30)) > 0)
    _maybe(d, "id", _usually(draw, st.one_of(st.none(), _text), _scalar), draw(st.booleans()))
    _maybe(d, "source", _usually(draw, st.one_of(st.none(), _text), _scalar), draw(st.integers(0, 3)) == 0)
    plain = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(), _text, st.just(2**70))
    flat = st.dictionaries(st.sampled_from(["a", "b"]), plain, max_size=2)
    nested = st.dictionaries(st.sampled_from(["a", "b"]), st.lists(_scalar, max_size=2), max_size=2)
    _maybe(d, "metadata", _usually(draw, flat, st.one_of(_scalar, nested)), draw(st.integers(0, 3)) == 0)
    _maybe(d, "history", [], draw(st.integers(0, 40)) == 0)
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
