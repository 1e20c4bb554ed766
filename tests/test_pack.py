"""Packing: best-fit-decreasing against an obviously correct reference, F18 invariants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alignkit.encode import IGNORE_INDEX, ROLE_PADDING, EncodedExample
from alignkit.pack import best_fit_decreasing, pack_examples


def reference_bfd(lengths: list[int], capacity: int) -> list[list[int]]:
    """Best-fit-decreasing, the slow and obvious way: scan every row."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    rows: list[list[int]] = []
    room: list[int] = []
    for i in order:
        best = -1
        for r in range(len(rows)):
            if room[r] >= lengths[i] and (best == -1 or room[r] < room[best]):
                best = r
        if best == -1:
            rows.append([])
            room.append(capacity)
            best = len(rows) - 1
        rows[best].append(i)
        room[best] -= lengths[i]
    return [sorted(r) for r in rows]


lengths_st = st.integers(1, 64).flatmap(
    lambda cap: st.tuples(st.just(cap), st.lists(st.integers(0, cap), max_size=60))
)


@given(lengths_st)
def test_matches_reference(case: tuple[int, list[int]]) -> None:
    capacity, lengths = case
    assert best_fit_decreasing(lengths, capacity) == reference_bfd(lengths, capacity)


def _examples(lengths: list[int]) -> list[EncodedExample]:
    out = []
    for k, n in enumerate(lengths):
        ids = [1000 * k + j for j in range(n)]
        labels = [t if (j + k) % 3 else IGNORE_INDEX for j, t in enumerate(ids)]  # some first labels trained
        out.append(EncodedExample(ids, labels, [(k + j) % 5 for j in range(n)]))
    return out


@given(lengths_st)
def test_packing_invariants(case: tuple[int, list[int]]) -> None:
    capacity, lengths = case
    lengths = [n for n in lengths if n > 0]
    exs = _examples(lengths)
    p = pack_examples(exs, capacity, pad_id=7)
    seen: list[int] = []
    for r in range(len(p.input_ids)):
        ids, labels, roles = p.input_ids[r], p.labels[r], p.role_ids[r]
        pos, mask, seq_lens = p.position_ids[r], p.attention_mask[r], p.seq_lens[r]
        assert len(ids) == len(labels) == len(roles) == len(pos) == len(mask) == capacity
        assert sum(seq_lens) == sum(mask)
        start = 0
        for k, n in zip(p.example_index[r], seq_lens):
            ex = exs[k]
            assert n == len(ex)  # never split
            assert ids[start : start + n] == ex.input_ids
            # the first token's label is never a target: a shift would aim it across documents
            assert labels[start : start + n] == [IGNORE_INDEX, *ex.labels[1:]]
            assert roles[start : start + n] == ex.role_ids
            assert pos[start : start + n] == list(range(n))
            start += n
        assert all(t == 7 for t in ids[start:])
        assert all(t == IGNORE_INDEX for t in labels[start:])
        assert all(t == ROLE_PADDING for t in roles[start:])
        assert all(t == 0 for t in mask[start:])
        seen.extend(p.example_index[r])
    assert sorted(seen) == list(range(len(exs)))
    trained = sum(e.num_trained() for e in exs)
    first_trained = sum(1 for e in exs if e.labels[0] != IGNORE_INDEX)
    assert p.first_labels_masked == first_trained
    assert sum(1 for row in p.labels for t in row if t != IGNORE_INDEX) == trained - first_trained
    assert p.num_tokens == sum(lengths)
    assert p.num_slots == capacity * len(p.input_ids)


def test_efficiency_and_determinism() -> None:
    lengths = [5, 3, 8, 2, 6, 1, 7, 4]
    p = pack_examples(_examples(lengths), 8, 0)
    assert p.num_tokens == 36 and p.efficiency() == 36 / p.num_slots
    assert len(p.input_ids) == 5  # 36 tokens need at least 5 rows of 8
    again = pack_examples(_examples(lengths), 8, 0)
    assert again.input_ids == p.input_ids and again.example_index == p.example_index
    assert pack_examples([], 8, 0).efficiency() == 1.0


def test_never_splits_too_long_examples() -> None:
    with pytest.raises(ValueError, match="never splits"):
        best_fit_decreasing([3, 9], 8)
    with pytest.raises(ValueError, match="positive"):
        best_fit_decreasing([1], 0)
