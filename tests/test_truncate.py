"""Truncation policies: every parallel array cut together, every cut reported."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alignkit.encode import IGNORE_INDEX, EncodedExample
from alignkit.truncate import (
    DROPPED,
    KEPT,
    PROMPT_TOO_LONG,
    TOO_LONG,
    TRUNCATED,
    check_policy,
    truncate_example,
    truncate_pair,
)


def _ex(n: int, start: int = 0) -> EncodedExample:
    ids = list(range(start, start + n))
    return EncodedExample(ids, [i if i % 2 else IGNORE_INDEX for i in ids], [i % 5 for i in ids])


@given(n=st.integers(0, 40), budget=st.integers(1, 40))
def test_truncate_keeps_the_start_of_every_array(n: int, budget: int) -> None:
    ex = _ex(n)
    status, out = truncate_example(ex, budget, "truncate")
    assert out is not None
    if n <= budget:
        assert status == KEPT and out is ex
    else:
        assert status == TRUNCATED
        assert out.input_ids == ex.input_ids[:budget]
        assert out.labels == ex.labels[:budget]
        assert out.role_ids == ex.role_ids[:budget]
    assert len(out.input_ids) == len(out.labels) == len(out.role_ids) <= budget


@pytest.mark.parametrize(("policy", "status"), [("drop", DROPPED), ("error", TOO_LONG)])
def test_too_long_examples_are_dropped_or_errors(policy: str, status: int) -> None:
    assert truncate_example(_ex(5), 4, policy) == (status, None)
    fits = _ex(4)
    assert truncate_example(fits, 4, policy) == (KEPT, fits)


def test_no_limit_and_unknown_policy() -> None:
    ex = _ex(1000)
    assert truncate_example(ex, 0, "drop") == (KEPT, ex)
    with pytest.raises(ValueError, match="drop, truncate, error"):
        check_policy("left")
    with pytest.raises(ValueError):
        truncate_example(ex, 10, "keep_end")


def _pair(prompt: int, a: int, b: int) -> tuple[EncodedExample, EncodedExample]:
    p = _ex(prompt)
    ca, cb = _ex(a, 1000), _ex(b, 2000)
    chosen = EncodedExample(p.input_ids + ca.input_ids, p.labels + ca.labels, p.role_ids + ca.role_ids)
    rejected = EncodedExample(p.input_ids + cb.input_ids, p.labels + cb.labels, p.role_ids + cb.role_ids)
    return chosen, rejected


@given(prompt=st.integers(1, 20), a=st.integers(1, 20), b=st.integers(1, 20), budget=st.integers(1, 45))
def test_pair_prompt_stays_identical_on_both_sides(prompt: int, a: int, b: int, budget: int) -> None:
    chosen, rejected = _pair(prompt, a, b)
    status, c, r = truncate_pair(prompt, chosen, rejected, budget, "truncate")
    if prompt + max(a, b) <= budget:
        assert (status, c, r) == (KEPT, chosen, rejected)
    elif prompt >= budget:
        assert (status, c, r) == (PROMPT_TOO_LONG, None, None)
    else:
        assert status == TRUNCATED and c is not None and r is not None
        assert c.input_ids[:prompt] == r.input_ids[:prompt] == chosen.input_ids[:prompt]
        assert len(c) <= budget and len(r) <= budget
        assert c.input_ids == chosen.input_ids[:budget]
        assert r.labels == rejected.labels[:budget]
        # at least one response token survives on each side
        assert len(c) > prompt and len(r) > prompt


def test_pair_policies() -> None:
    chosen, rejected = _pair(3, 4, 2)
    assert truncate_pair(3, chosen, rejected, 6, "drop") == (DROPPED, None, None)
    assert truncate_pair(3, chosen, rejected, 6, "error") == (TOO_LONG, None, None)
    assert truncate_pair(3, chosen, rejected, 3, "drop") == (PROMPT_TOO_LONG, None, None)
    assert truncate_pair(3, chosen, rejected, 3, "error") == (TOO_LONG, None, None)
    assert truncate_pair(3, chosen, rejected, 7, "error") == (KEPT, chosen, rejected)
