"""The BPE core: equal to the reference encoder and to tiktoken; near-linear on pathological input.

Runs against whichever build is installed (pure in the dev venv, compiled in CI),
so the same assertions are the compiled-vs-pure differential test.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache

import pytest
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st
from librt.vecs import vec
from mypy_extensions import i32
from tiktoken.load import load_tiktoken_bpe

from alignkit.bpe import _reference_encode as ref
from alignkit.bpe import patterns
from alignkit.bpe._core import BPECore
from alignkit.bpe._pieces import PAD
from conftest import shared_path

RANK_FILES = {
    "gpt2": ("r50k_base.tiktoken", patterns.GPT2),
    "cl100k": ("cl100k_base.tiktoken", patterns.CL100K),
    "o200k": ("o200k_base.tiktoken", patterns.O200K),
}


@lru_cache(maxsize=None)
def _ranks(name: str) -> dict[bytes, int]:
    if name == "llama3":
        path = shared_path("data", "tokenizers", "llama3", "tokenizer.model")
    else:
        path = shared_path("data", "tokenizers", "tiktoken", RANK_FILES[name][0])
    return load_tiktoken_bpe(str(path))


def _pattern(name: str) -> str:
    return patterns.LLAMA3 if name == "llama3" else RANK_FILES[name][1]


@lru_cache(maxsize=None)
def _core(name: str) -> BPECore:
    return BPECore(_ranks(name), _pattern(name))


@lru_cache(maxsize=None)
def _tiktoken(name: str) -> tiktoken.Encoding:
    return tiktoken.Encoding(name, pat_str=_pattern(name), mergeable_ranks=_ranks(name), special_tokens={})


def _short(core: BPECore, piece: bytes) -> list[int]:
    return core.to_list(core._merge_short(piece + PAD, 0, len(piece), vec[i32]()))


def _long(core: BPECore, piece: bytes) -> list[int]:
    return core.to_list(core._merge_long(piece + PAD, 0, len(piece), vec[i32]()))


def _toy_ranks() -> dict[bytes, int]:
    ranks = {bytes([b]): b for b in range(256)}
    for token in (b"th", b"he", b"the", b" t", b" the", b"in", b"ing", b"aa", b"aaaa", b"  ", b"\n\n", b"ab"):
        ranks[token] = len(ranks)
    return ranks


TOY = _toy_ranks()
ALL_PATTERNS = [*patterns.KNOWN_PATTERNS.values(), patterns.GPT2_ORIGINAL, r"\w+|\s+|[^\w\s]+"]

TEXTS = st.lists(
    st.sampled_from(
        list("abthe ingaa\n\t'sLL0123é中😀\u0301\u00a0\r") + ["\r\n", " the", "aaaa", "'ll", "\ud800", "   "]
    ),
    max_size=50,
).map("".join)


# --- differential: core == reference ------------------------------------------------


@pytest.mark.parametrize("pattern", ALL_PATTERNS)
@settings(max_examples=150, deadline=None)
@given(text=TEXTS)
def test_core_equals_reference_on_a_toy_vocabulary(pattern: str, text: str) -> None:
    core = BPECore(TOY, pattern)
    assert core.encode_ordinary(text) == ref.encode(TOY, pattern, text)
    assert core.decode_bytes(core.encode_ordinary(text)) == text.encode("utf-8", "surrogatepass")


# Code points unassigned in Python's Unicode database (14.0) are left out: the scanners
# follow ``regex`` (newer Unicode: e.g. U+3D000 is a letter there), tiktoken's Rust regex
# an older table, so ids differ on them (e.g. o200k, "\U0003d000/A"). Known, reported.
ASSIGNED = st.text(st.characters(exclude_categories=("Cn",)), max_size=30)


@pytest.mark.parametrize("name", ["gpt2", "cl100k", "o200k", "llama3"])
@settings(max_examples=100, deadline=None)
@given(text=TEXTS | ASSIGNED)
def test_core_equals_tiktoken_on_generated_text(name: str, text: str) -> None:
    core = _core(name)
    text = text.encode("utf-8", "replace").decode("utf-8")  # tiktoken's own surrogate policy aside
    assert core.encode_ordinary(text) == _tiktoken(name).encode_ordinary(text)


@pytest.mark.parametrize("name", ["gpt2", "cl100k", "o200k", "llama3"])
def test_core_equals_tiktoken_on_shared_corpora(name: str) -> None:
    folder = shared_path("data", "corpora", "cs336")
    core = _core(name)
    for path in [folder / "corpus.en", folder / "german.txt", folder / "tinystories_sample.txt"]:
        text = path.read_text(encoding="utf-8")
        ids = core.encode_ordinary(text)
        assert ids == _tiktoken(name).encode_ordinary(text), path.name
        assert core.decode_bytes(ids) == text.encode()


@settings(max_examples=150, deadline=None)
@given(piece=st.binary(min_size=1, max_size=200) | st.text("aet h\n", min_size=1, max_size=200).map(str.encode))
def test_short_and_long_merges_agree_with_the_reference(piece: bytes) -> None:
    core = BPECore(_ranks("gpt2"), patterns.GPT2)
    expected = ref.merge_piece(core.ranks, piece)
    assert core.encode_piece(piece) == expected
    if piece not in core.ranks:
        assert _short(core, piece) == expected
        assert _long(core, piece) == expected


def test_merge_ties_go_to_the_leftmost_pair() -> None:
    core = BPECore(TOY, r"[\s\S]+")
    assert core.encode_piece(b"aaa") == [TOY[b"aa"], TOY[b"a"]]
    assert core.encode_piece(b"a" * 7) == [TOY[b"aaaa"], TOY[b"aa"], TOY[b"a"]]
    assert _long(core, b"a" * 7) == _short(core, b"a" * 7)


def test_short_merge_scratch_lists_survive_reentry_and_errors() -> None:
    core = BPECore(_ranks("gpt2"), patterns.GPT2)
    piece = b" unbelievably"
    expected = ref.merge_piece(core.ranks, piece)
    core.busy = True  # as if another call were merging: fresh lists, same result
    assert _short(core, piece) == expected
    core.busy = False
    holey = BPECore({b"a": 0, b"b": 1, b"ab": 2}, r"[\s\S]+")
    with pytest.raises(KeyError, match="not a token"):
        _short(holey, b"abc")
    assert not holey.busy  # released on error
    assert _short(holey, b"abab") == [2, 2]
    assert _short(core, b" unbel") + _short(core, piece) == (
        ref.merge_piece(core.ranks, b" unbel") + expected
    )  # scratch contents from a longer piece do not leak into a shorter one


def test_ranks_must_stay_below_the_no_rank_sentinel() -> None:
    with pytest.raises(ValueError, match="rank"):
        BPECore({b"a": 0, b"b": (1 << 30) - 1}, r".")


# --- cache ------------------------------------------------------------------------


def test_results_do_not_depend_on_the_cache() -> None:
    text = shared_path("data", "corpora", "cs336", "corpus.en").read_text(encoding="utf-8")
    ranks = _ranks("gpt2")
    expected = _tiktoken("gpt2").encode_ordinary(text)
    warm = BPECore(ranks, patterns.GPT2)
    assert warm.encode_ordinary(text) == expected
    assert warm.encode_ordinary(text) == expected  # cache full of pieces now
    warm.clear_cache()
    assert warm.encode_ordinary(text) == expected
    assert BPECore(ranks, patterns.GPT2, cache_size=7).encode_ordinary(text) == expected  # emptied often
    assert BPECore(ranks, patterns.GPT2, cache_size=0).encode_ordinary(text) == expected  # no cache


def test_cached_lists_are_not_shared_with_the_caller() -> None:
    core = BPECore(TOY, patterns.GPT2)
    first = core.encode_ordinary("xyz xyz")
    first.append(-1)
    assert core.encode_ordinary("xyz xyz") == ref.encode(TOY, patterns.GPT2, "xyz xyz")


# --- decode, errors, edge cases ----------------------------------------------------------


def test_decode_bytes_round_trips_every_id() -> None:
    core = _core("gpt2")
    for token, rank in core.ranks.items():
        assert core.decode_bytes([rank]) == token
    assert core.decode_bytes([]) == b""
    for n in (511, 512, 513, 1024, 1800):  # around and across whole decode chunks
        ids = (list(range(600)) * 3)[:n]
        assert core.decode_bytes(ids) == b"".join(core.decoder[i] for i in ids)


@pytest.mark.parametrize("bad", [-1, 50_256, 10**9, 10**30, -(10**30), 1 << 63])
def test_decode_rejects_unknown_ids(bad: int) -> None:
    with pytest.raises(KeyError, match=f"token id {bad} is not in this vocabulary"):
        _core("gpt2").decode_bytes([1, 2, bad, 3])


def test_decode_rejects_holes_in_the_id_space() -> None:
    core = BPECore({b"a": 0, b"b": 2}, r".")
    with pytest.raises(KeyError, match="token id 1"):
        core.decode_bytes([0, 1])


def test_missing_single_bytes_are_reported() -> None:
    core = BPECore({b"a": 0, b"b": 1}, patterns.GPT2)
    with pytest.raises(KeyError, match="all 256 single bytes"):
        core.encode_ordinary("abc")


def test_bad_ranks_are_refused() -> None:
    with pytest.raises(ValueError, match="rank"):
        BPECore({b"a": -1}, r".")
    with pytest.raises(ValueError, match="non-empty"):
        BPECore({b"": 0}, r".")


def test_lone_surrogates_do_not_crash() -> None:
    core = BPECore(TOY, patterns.CL100K)
    text = "a\ud800b \udfff"
    assert core.encode_ordinary(text) == ref.encode(TOY, patterns.CL100K, text)
    assert core.decode_bytes(core.encode_ordinary(text)) == text.encode("utf-8", "surrogatepass")


def test_encode_bytes_equals_encode_ordinary() -> None:
    core = _core("cl100k")
    text = "Hello, wörld! 123 \r\n\n  😀"
    assert core.encode_bytes(text.encode()) == core.encode_ordinary(text)
    assert core.encode_ordinary("") == []


# --- pathological input: correct and near-linear -----------------------------------------

PATHOLOGICAL: dict[str, Callable[[int], str]] = {
    "one letter": lambda n: "a" * n,
    "spaces": lambda n: " " * n,
    "newlines": lambda n: "\n" * n,
    "one emoji": lambda n: "😀" * (n // 4),
    "one word": lambda n: "".join("abcdefghijklmnopqrstuvwxyz"[(i * 7 + i // 26) % 26] for i in range(n)),
}


@pytest.mark.parametrize("kind", sorted(PATHOLOGICAL))
@pytest.mark.parametrize("name", ["gpt2", "cl100k", "o200k"])
def test_pathological_input_equals_tiktoken(kind: str, name: str) -> None:
    text = PATHOLOGICAL[kind](20_000)  # tiktoken's own merge is quadratic: keep it small
    assert _core(name).encode_ordinary(text) == _tiktoken(name).encode_ordinary(text)


def _best_time(core: BPECore, text: str) -> float:
    """Best of 3 cold encodes, in this process's CPU time (time spent descheduled on a busy
    machine does not count; only ratios of these are ever asserted)."""
    best = float("inf")
    for _ in range(3):
        core.clear_cache()
        start = time.process_time()
        core.encode_ordinary(text)
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.parametrize("kind", sorted(PATHOLOGICAL))
def test_pathological_input_grows_near_linearly(kind: str) -> None:
    # x4 input must stay well under x16 time (quadratic; n log n gives ~x5). A ratio, never an absolute
    # time: the base size doubles until one run takes 50 ms (so timer noise is small
    # in either build), min of 3 runs, generous slack for a noisy shared machine.
    core = _core("cl100k")
    n = 1 << 12
    small = _best_time(core, PATHOLOGICAL[kind](n))
    while small < 0.05 and n < 1 << 17:
        n *= 2
        small = _best_time(core, PATHOLOGICAL[kind](n))
    large = _best_time(core, PATHOLOGICAL[kind](4 * n))
    assert large / small < 10, f"{kind}: x4 input ({n} -> {4 * n}) took x{large / small:.1f} time"


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(PATHOLOGICAL))
def test_one_mebibyte_of_pathological_input(kind: str) -> None:
    core = _core("o200k")
    text = PATHOLOGICAL[kind](1 << 20)
    ids = core.encode_ordinary(text)
    assert core.decode_bytes(ids) == text.encode()
    half = _best_time(core, PATHOLOGICAL[kind](1 << 19))
    full = _best_time(core, text)
    assert full / half < 2 * 1.8, f"{kind}: x2 input took x{full / half:.1f} time"
