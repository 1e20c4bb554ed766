"""Segments → arrays: parallel arrays, masks from segments, specials by lookup only."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.encode import (
    IGNORE_INDEX,
    ROLE_ASSISTANT,
    ROLE_IDS,
    ROLE_PADDING,
    ROLE_TEMPLATE,
    ROLE_USER,
    EncodedExample,
    EncodedPair,
    Encoder,
)
from alignkit.errors import SpecialTokenError, UsageError
from alignkit.templates.segments import KIND_SPECIAL, KIND_TEXT, Segment

SPECIALS = {"<|a|>": 500, "<|b|>": 501}


class Bytes:
    """A toy tokenizer that would turn special strings into ids if asked to (it is not)."""

    calls = 0

    def encode_ordinary(self, text: str) -> list[int]:
        Bytes.calls += 1
        return list(text.encode("utf-8"))


def test_role_enum_is_the_documented_one() -> None:
    assert ROLE_IDS == {"system": 0, "user": 1, "assistant": 2, "tool": 3, "template": 4, "padding": 5}
    assert ROLE_PADDING == 5


segment = st.builds(
    Segment,
    st.sampled_from([0, 1, 2, 3, 4]),
    st.sampled_from([KIND_TEXT, KIND_SPECIAL]),
    st.one_of(st.text(max_size=6), st.sampled_from(list(SPECIALS))),
    st.booleans(),
).filter(lambda s: s.kind == KIND_TEXT or s.text in SPECIALS)


@settings(max_examples=200, deadline=None)
@given(segs=st.lists(segment, max_size=12))
def test_arrays_are_made_segment_by_segment(segs: list[Segment]) -> None:
    ex = Encoder(Bytes(), SPECIALS).encode(segs)
    assert len(ex.input_ids) == len(ex.labels) == len(ex.role_ids) == len(ex.attention_mask())
    pos = 0
    for s in segs:
        ids = [SPECIALS[s.text]] if s.kind == KIND_SPECIAL else list(s.text.encode())
        assert ex.input_ids[pos : pos + len(ids)] == ids
        assert ex.labels[pos : pos + len(ids)] == (ids if s.trained else [IGNORE_INDEX] * len(ids))
        assert ex.role_ids[pos : pos + len(ids)] == [s.role] * len(ids)
        pos += len(ids)
    assert pos == len(ex)
    # special ids only where the segments say so
    assert sum(1 for i in ex.input_ids if i >= 500) == sum(1 for s in segs if s.kind == KIND_SPECIAL)


def _plain_counts(ex: EncodedExample) -> tuple[list[int], list[int]]:
    totals, trained = [0] * len(ROLE_IDS), [0] * len(ROLE_IDS)
    for role, label in zip(ex.role_ids, ex.labels):
        totals[role] += 1
        trained[role] += label != IGNORE_INDEX
    return totals, trained


@settings(max_examples=200, deadline=None)
@given(a=st.lists(segment, max_size=12), b=st.lists(segment, max_size=12))
def test_role_counts_made_while_encoding_equal_a_plain_count(a: list[Segment], b: list[Segment]) -> None:
    enc = Encoder(Bytes(), SPECIALS)
    first, second, prompt = enc.encode(a), enc.encode(b), enc.encode_untrained(a)
    for ex in (first, second, prompt, first.concat(second), prompt.concat(second)):
        assert (ex.role_tokens, ex.role_trained) == _plain_counts(ex)
        assert ex.num_trained() == sum(1 for t in ex.labels if t != IGNORE_INDEX)
    assert EncodedExample([1], [1], [2]).role_tokens is None  # made by hand: not counted
    bad = enc.encode([*a, Segment(9, KIND_TEXT, "x", True)])  # a role outside the enum
    assert bad.role_tokens is None and bad.role_trained is None


def test_content_is_never_a_special_and_is_flagged() -> None:
    enc = Encoder(Bytes(), SPECIALS)
    ex = enc.encode([Segment(ROLE_USER, KIND_TEXT, "x<|a|>", False),
                     Segment(ROLE_ASSISTANT, KIND_TEXT, "<|b|>", True)])
    assert 500 not in ex.input_ids and 501 not in ex.input_ids
    assert ex.special_in_content == "<|a|>"
    # template glue is never flagged (its specials are SPECIAL segments anyway)
    assert enc.encode([Segment(ROLE_TEMPLATE, KIND_TEXT, "<|a|>", False)]).special_in_content == ""
    strict = Encoder(Bytes(), SPECIALS, "error")
    with pytest.raises(SpecialTokenError, match="'<\\|a\\|>'"):
        strict.encode([Segment(ROLE_USER, KIND_TEXT, "x<|a|>", False)])
    with pytest.raises(UsageError):
        Encoder(Bytes(), SPECIALS, "ignore")


def test_unknown_special_is_a_clear_error() -> None:
    with pytest.raises(SpecialTokenError, match="'<\\|c\\|>'.*does not have"):
        Encoder(Bytes(), SPECIALS).encode([Segment(ROLE_TEMPLATE, KIND_SPECIAL, "<|c|>", False)])


def test_glue_is_cached_content_is_not() -> None:
    enc = Encoder(Bytes(), SPECIALS)
    glue = Segment(ROLE_TEMPLATE, KIND_TEXT, "user\n", False)
    Bytes.calls = 0
    for _ in range(5):
        enc.encode([glue, Segment(ROLE_USER, KIND_TEXT, "hi", False)])
    assert Bytes.calls == 6


def test_example_and_pair_helpers() -> None:
    p = EncodedExample([1, 2], [IGNORE_INDEX, IGNORE_INDEX], [4, 1])
    c = EncodedExample([3], [3], [2], "<|a|>")
    r = EncodedExample([5, 6], [5, 6], [2, 2])
    pair = EncodedPair(p, c, r)
    assert pair.chosen_full().input_ids == [1, 2, 3] and pair.rejected_full().labels == [-100, -100, 5, 6]
    assert pair.special_in_content() == "<|a|>"
    assert pair.to_dpo()["rejected_input_ids"] == [5, 6]
    assert c.num_trained() == 1 and len(pair.rejected_full()) == 4


@settings(max_examples=500, deadline=None)
@given(names=st.lists(st.text(alphabet="<|>/ab\\.(*", min_size=1, max_size=5), min_size=1, max_size=8),
       texts=st.lists(st.text(alphabet="<|>/ab\\.(*xy", max_size=15), max_size=10))
def test_find_special_finds_what_a_longest_first_alternation_finds(names: list[str], texts: list[str]) -> None:
    """Same leftmost position, same (longest) name as a plain longest-first regex."""
    import re

    plain = re.compile("|".join(re.escape(n) for n in sorted(dict.fromkeys(names), key=len, reverse=True)))
    enc = Encoder(Bytes(), dict.fromkeys(names, 0))
    for text in texts:
        m = plain.search(text)
        assert enc.find_special(text) == ("" if m is None else m.group(0))
