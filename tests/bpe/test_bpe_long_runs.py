"""The long-piece merge (``BPECore._merge_long``, pieces of ``_HEAP_MIN`` bytes or more).

Its candidate heap is a binary min-heap in a native ``vec[i64]``; these tests check the
heap itself, that the long merge gives the ids of the short merge (``_merge_in``) on the
same piece, and that whole texts made of long runs give tiktoken's ids (r50k/gpt2,
cl100k, o200k; built by hand from the shared rank files, skipped where they are absent).
"""

from __future__ import annotations

import heapq
import random
from functools import cache

import pytest
from conftest import shared_path
from hypothesis import given, settings
from hypothesis import strategies as st
from librt.vecs import vec
from mypy_extensions import i32, i64

from alignkit.bpe import Tokenizer, load_tokenizer
from alignkit.bpe._core import _HEAP_MIN, BPECore
from alignkit.bpe._pieces import PAD, zeros_i32
from alignkit.bpe.loaders.tiktoken_file import ENCODINGS

FILES = {
    "r50k_base": ("tokenizers", "tiktoken", "r50k_base.tiktoken"),
    "cl100k_base": ("tokenizers", "tiktoken", "cl100k_base.tiktoken"),
    "o200k_base": ("tokenizers", "tiktoken", "o200k_base.tiktoken"),
}
NAMES = list(FILES)
#: texts that are one long piece, or a few, in every pattern (o200k panics in tiktoken on
#: a megabyte of spaces: that run is compared on a shorter length, where it does not).
#: longest piece the short merge takes (it keeps a part's start in 6 bits of its scan key).
_SHORT_MAX = 64
RUNS = ["a", " ", "1", "\n", "ab", "\u00e9", "\U0001f600"]


@cache
def _ours(name: str) -> Tokenizer:
    return load_tokenizer(shared_path("data", *FILES[name]))


@cache
def _reference(name: str) -> object:
    tiktoken = pytest.importorskip("tiktoken")
    from tiktoken.load import load_tiktoken_bpe

    enc = ENCODINGS[name]
    ranks = load_tiktoken_bpe(str(shared_path("data", *FILES[name])))
    return tiktoken.Encoding(name, pat_str=enc.pattern, mergeable_ranks=ranks, special_tokens=enc.specials)


def _core(name: str) -> BPECore:
    core = _ours(name)._core
    assert isinstance(core, BPECore)
    return core


def _assert_same(name: str, text: str) -> None:
    got = _ours(name).encode_ordinary(text)
    want = list(_reference(name).encode_ordinary(text))  # type: ignore[attr-defined]
    if got != want:
        i = next((k for k, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        pytest.fail(
            f"{name}: {len(text)} characters ({text[:8]!r}...): ids differ at token {i}: "
            f"ours {got[max(0, i - 3) : i + 4]} vs tiktoken {want[max(0, i - 3) : i + 4]}"
        )


def _run(unit: str, size: int) -> str:
    """``unit`` repeated to about ``size`` UTF-8 bytes."""
    return unit * max(1, size // len(unit.encode("utf-8")))


def _both_merges(core: BPECore, piece: bytes) -> tuple[list[int], list[int]]:
    """The ids of ``piece`` from the long merge and from the short merge, called directly.

    The short merge is only called on pieces of at most ``_SHORT_MAX`` bytes (as ``_merge``
    does): on longer ones its positions wrap and it would cache wrong pair ranks in the core.
    """
    assert len(piece) <= _SHORT_MAX
    data = piece + PAD
    n = len(piece)
    long_ids = core.to_list(core._merge_long(data, 0, n, vec[i32]()))
    short_ids = core.to_list(
        core._merge_in(data, 0, n, vec[i32](), zeros_i32(n), zeros_i32(n), zeros_i32(n), zeros_i32(n))
    )
    return long_ids, short_ids


# --------------------------------------------------------------------------- the heap


def test_sift_helpers_pop_in_heapq_order() -> None:
    from alignkit.bpe._core import (  # the native heap of _merge_long
        _sift_down,
        _sift_up,
    )

    rng = random.Random(7)
    for size in [1, 2, 3, 10, 257]:
        values = [rng.randrange(50) for _ in range(size)]
        heap = vec[i64](values)
        h = size // 2 - 1
        while h >= 0:  # the linear heapify of _merge_long
            _sift_down(heap, heap[h], h, size)
            h -= 1
        ref = list(values)
        heapq.heapify(ref)
        n = size
        popped = []
        pushes = [rng.randrange(50) for _ in range(size)]
        while n > 0:
            top = heap[0]
            n -= 1
            if n > 0:
                _sift_down(heap, heap[n], 0, n)
            popped.append(top)
            assert top == heapq.heappop(ref)
            if pushes:  # a push after some pops, as merging does
                x = pushes.pop()
                _sift_up(heap, x, n)
                n += 1
                heapq.heappush(ref, x)
        assert popped  # every pop matched heapq's
        assert not ref


# --------------------------------------------------------------------------- long merge vs short merge


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("unit", RUNS)
def test_long_merge_equals_short_merge_just_over_heap_min(name: str, unit: str) -> None:
    core = _core(name)
    for extra in range(9):
        piece = _run(unit, _HEAP_MIN + extra).encode("utf-8")
        assert len(piece) >= _HEAP_MIN - 3
        long_ids, short_ids = _both_merges(core, piece)
        assert long_ids == short_ids, f"{name}: piece {piece!r}"


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(NAMES),
    st.lists(st.sampled_from([*b"ab \n1", 0xC3, 0xA9]), min_size=_HEAP_MIN, max_size=_SHORT_MAX).map(bytes),
)
def test_long_merge_equals_short_merge_random(name: str, piece: bytes) -> None:
    long_ids, short_ids = _both_merges(_core(name), piece)
    assert long_ids == short_ids, f"{name}: piece {piece!r}"


# --------------------------------------------------------------------------- against tiktoken


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("unit", RUNS)
def test_runs_equal_tiktoken(name: str, unit: str) -> None:
    for size in [_HEAP_MIN + 1, 1000, 20_000]:
        _assert_same(name, _run(unit, size))


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(NAMES),
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "ab", " ", "\n", "1", "\u00e9", "\U0001f600", "z"]), st.integers(1, 400)),
        min_size=1,
        max_size=12,
    ),
)
def test_random_long_pieces_equal_tiktoken(name: str, runs: list[tuple[str, int]]) -> None:
    """Texts of runs over a small alphabet: pieces of hundreds of bytes and mixed letters."""
    _assert_same(name, "".join(unit * count for unit, count in runs))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("unit", RUNS)
def test_megabyte_runs_equal_tiktoken(name: str, unit: str) -> None:
    size = 1 << 20
    if name == "o200k_base" and unit == " ":
        size = 1 << 16  # tiktoken 0.14 panics (stack overflow in its regex) on a megabyte of spaces
    _assert_same(name, _run(unit, size))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_megabyte_random_letters_equal_tiktoken(name: str) -> None:
    rng = random.Random(11)
    text = "".join(rng.choice("aab") for _ in range(1 << 20))
    _assert_same(name, text)
