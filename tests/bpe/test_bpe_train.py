"""BPE training: exact against CS336's reference, the reference trainer and itself.

- ``train_bpe`` reproduces CS336's reference vocab and merges on ``corpus.en``;
- it equals the slow ``_reference_train`` on real and hypothesis-made corpora;
- the merge loop of the installed build (compiled or not) equals the pure
  source and the reference, merge for merge;
- streaming, file cutting and parallel counting give exactly the counts of
  pre-tokenizing whole files;
- early stop, argument checks and corpus errors behave as documented.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import warnings
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from alignkit.bpe import _train, train_corpus
from alignkit.bpe._reference_train import count_words, merge_counts, reference_train_bpe
from alignkit.bpe.patterns import CL100K, GPT2, LLAMA3, O200K, QWEN
from alignkit.bpe.train import (
    TrainingStoppedEarly,
    build_vocab,
    count_pretokens,
    learn_merges,
    train_bpe,
    train_bpe_detailed,
)
from alignkit.errors import UsageError
from conftest import shared_path

EOT = "<|endoftext|>"


def _unicode_to_byte() -> dict[str, int]:
    """Inverse of GPT-2's byte-to-unicode table (how the reference files print bytes)."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    table = {chr(b): b for b in printable}
    extra = 0
    for b in range(256):
        if b not in printable:
            table[chr(256 + extra)] = b
            extra += 1
    return table


def _decode(token: str) -> bytes:
    table = _unicode_to_byte()
    return bytes(table[c] for c in token)


def _cs336(name: str) -> Path:
    return shared_path("data", "corpora", "cs336", name)


def test_reproduces_the_cs336_reference_exactly() -> None:
    ref_vocab_json = json.loads(_cs336("train-bpe-reference-vocab.json").read_text(encoding="utf-8"))
    ref_vocab = {i: (tok.encode() if tok == EOT else _decode(tok)) for tok, i in ref_vocab_json.items()}
    lines = _cs336("train-bpe-reference-merges.txt").read_text(encoding="utf-8").splitlines()
    ref_merges = [(_decode(a), _decode(b)) for a, b in (line.split(" ") for line in lines)]
    vocab, merges = train_bpe(_cs336("corpus.en"), 500, [EOT])
    assert merges == ref_merges
    assert vocab == ref_vocab  # same ids too, not only the same set of tokens


@pytest.mark.parametrize(
    ("name", "vocab_size"),
    [("tinystories_sample.txt", 400), ("address.txt", 400), ("german.txt", 330), pytest.param("corpus.en", 700, marks=pytest.mark.slow)],
)
def test_equals_the_reference_trainer_on_real_text(name: str, vocab_size: int, counter: bool) -> None:
    path = _cs336(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingStoppedEarly)
        got = train_bpe(path, vocab_size, [EOT])
    assert got == reference_train_bpe(path.read_text(encoding="utf-8"), vocab_size, [EOT])


@pytest.mark.slow
def test_equals_the_reference_on_multilingual_novels(tmp_path: Path) -> None:
    with gzip.open(shared_path("bench", "multi_novels.txt.gz"), "rt", encoding="utf-8") as f:
        text = f.read(60_000)
    path = tmp_path / "multi.txt"
    path.write_text(text, encoding="utf-8")
    assert train_bpe(path, 600, [EOT]) == reference_train_bpe(text, 600, [EOT])


def _pure_train_module() -> ModuleType:
    """The merge loop's source, imported as plain Python even where the package is compiled."""
    source = Path(_train.__file__).with_name("_train.py")
    if not source.exists():
        pytest.skip("the installed package ships no _train.py source")
    spec = importlib.util.spec_from_file_location("alignkit_pure_train", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _merges_of(module: ModuleType, words: dict[bytes, int], n: int) -> list[tuple[bytes, bytes]]:
    trainer = module.MergeTrainer(list(words), list(words.values()))
    trainer.train(n)
    tb = trainer.token_bytes
    return [(tb[a], tb[b]) for a, b in zip(trainer.merges_left, trainer.merges_right)]


_ALPHABET = st.sampled_from(["a", "b", "c", "ab", " ", " a", "\n", "é", "!", "1", "'s", "aaaa", "ba"])
_WORDS = st.dictionaries(
    st.lists(st.sampled_from([b"a", b"b", b"c", b" ", b"\xc3", b"\xa9", b"ab"]), min_size=1, max_size=12).map(
        b"".join
    ),
    st.integers(1, 50),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(words=_WORDS, n=st.integers(0, 60))
def test_merge_loop_equals_pure_source_and_reference(words: dict[bytes, int], n: int) -> None:
    expected = merge_counts(words, n)
    assert _merges_of(_train, words, n) == expected  # the installed build (compiled in CI's compiled job)
    assert _merges_of(_pure_train_module(), words, n) == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.one_of(_ALPHABET, st.just(EOT)), max_size=80), vocab_size=st.integers(257, 300))
def test_train_bpe_equals_reference_on_generated_corpora(tmp_path: Path, parts: list[str], vocab_size: int) -> None:
    text = "".join(parts) or "x"
    path = tmp_path / "c.txt"
    path.write_text(text, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingStoppedEarly)
        assert train_bpe(path, vocab_size, [EOT]) == reference_train_bpe(text, vocab_size, [EOT])


def test_layout_specials_then_bytes_then_merges() -> None:
    vocab = build_vocab(["<b>", "<a>"], [(b"x", b"y"), (b"xy", b"z")])
    assert vocab[0] == b"<b>" and vocab[1] == b"<a>"
    assert sorted(vocab[i] for i in range(2, 258)) == [bytes([b]) for b in range(256)]
    assert vocab[258] == b"xy" and vocab[259] == b"xyz" and len(vocab) == 260


# -- counting: streaming, cutting, processes ------------------------------------------

_TEXT = st.lists(
    st.sampled_from(
        ["a", "bc", " ", "  ", "\n", "\n\n", "\t", "\r\n", ".", "'s", "'ll", "'", "l", "V", "1", "é", "\u00a0", "\u3000"]
        + ["日本", EOT, "<|"]
    ),
    max_size=120,
).map("".join)


@pytest.fixture(params=[False, True], ids=["regex", "scanner"])
def counter(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Count pre-tokens with ``regex`` or with the compiled scanners (both must agree)."""
    monkeypatch.setattr(train_corpus, "USE_SCANNER", request.param)
    return bool(request.param)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_TEXT, block=st.integers(1, 40), chunks=st.integers(1, 6))
@example(text=f"{EOT}\n\n{EOT}", block=1, chunks=2)  # a newline after a special is no safe cut
@example(text=f"a\n\n{EOT}b", block=3, chunks=2)  # nor one before a special
@example(text="we'll", block=4, chunks=1)  # a block ending in "'l": the contraction is carried whole
def test_streamed_and_cut_counts_equal_whole_file_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counter: bool, text: str, block: int, chunks: int
) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes(text.encode("utf-8"))
    monkeypatch.setattr(train_corpus, "BLOCK_SIZE", block)
    bounds = train_corpus.find_chunk_boundaries(str(path), chunks, [EOT])
    assert bounds[0] == 0 and bounds[-1] == len(text.encode("utf-8")) and bounds == sorted(set(bounds))
    total: Counter[bytes] = Counter()
    for start, end in zip(bounds, bounds[1:]):
        total.update(train_corpus.count_ranges([(str(path), start, end)], [EOT], GPT2))
    assert total == count_words(text, [EOT])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_TEXT, chunks=st.integers(2, 6))
def test_cuts_without_special_tokens_are_exact(tmp_path: Path, text: str, chunks: int) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes(text.encode("utf-8"))
    bounds = train_corpus.find_chunk_boundaries(str(path), chunks, [])
    total: Counter[bytes] = Counter()
    for start, end in zip(bounds, bounds[1:]):
        total.update(train_corpus.count_ranges([(str(path), start, end)], [], GPT2))
    assert total == count_words(text, [])


@pytest.mark.parametrize("pattern", [CL100K, O200K, LLAMA3, QWEN], ids=["cl100k", "o200k", "llama3", "qwen"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_TEXT, block=st.integers(1, 30), chunks=st.integers(1, 4))
@example(text="aa\n  \nb", block=3, chunks=1)  # backtracking \s*[\r\n]+ at a block end
def test_other_patterns_stream_and_cut_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pattern: str, text: str, block: int, chunks: int
) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes(text.encode("utf-8"))
    monkeypatch.setattr(train_corpus, "BLOCK_SIZE", block)
    bounds = train_corpus.find_chunk_boundaries(str(path), chunks, [EOT], pattern)
    total: Counter[bytes] = Counter()
    for start, end in zip(bounds, bounds[1:]):
        total.update(train_corpus.count_ranges([(str(path), start, end)], [EOT], pattern))
    assert total == count_words(text, [EOT], pattern)


def test_newlines_are_no_cut_for_patterns_that_join_them(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes(b"a.\n\nb.\n\nc.\n\nd" * 100)
    assert len(train_corpus.find_chunk_boundaries(str(path), 4, [], GPT2)) == 5
    assert train_corpus.find_chunk_boundaries(str(path), 4, [], CL100K) == [0, path.stat().st_size]


def test_novel_text_is_cut_in_many_places_and_counts_stay_exact(tmp_path: Path, counter: bool) -> None:
    with gzip.open(shared_path("bench", "en_novels.txt.gz"), "rt", encoding="utf-8") as f:
        text = f.read(300_000)
    path = tmp_path / "novel.txt"
    path.write_text(text, encoding="utf-8")
    bounds = train_corpus.find_chunk_boundaries(str(path), 16, [EOT])
    assert len(bounds) == 17  # plenty of safe newlines: every chunk found a cut
    total: Counter[bytes] = Counter()
    for start, end in zip(bounds, bounds[1:]):
        total.update(train_corpus.count_ranges([(str(path), start, end)], [EOT], GPT2))
    assert total == count_words(text, [EOT])


def test_parallel_counting_equals_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _cs336("tinystories_sample.txt").read_text(encoding="utf-8") * 20
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    seen: list[tuple[str, int, int]] = []
    monkeypatch.setattr("alignkit.bpe.train.PARALLEL_MIN_BYTES", 0)
    got = count_pretokens([str(path)], [EOT], num_proc=2, progress=lambda *a: seen.append(a))
    assert got == count_words(text, [EOT])
    assert seen[-1] == ("count", len(text.encode()), len(text.encode()))


def test_in_process_counting_reports_progress_per_block(monkeypatch: pytest.MonkeyPatch) -> None:
    path = _cs336("corpus.en")
    monkeypatch.setattr(train_corpus, "BLOCK_SIZE", 1 << 14)
    seen: list[tuple[str, int, int]] = []
    count_pretokens([str(path)], [EOT], num_proc=1, progress=lambda *a: seen.append(a))
    done = [d for _, d, _ in seen]
    assert len(seen) > 5 and done == sorted(done) and seen[-1] == ("count", 133027, 133027)
    assert train_corpus.progress_hook is None


def test_long_single_piece_is_carried_until_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counter: bool
) -> None:
    text = "x " + "a" * 5000 + " b" + " " * 3000
    path = tmp_path / "p.txt"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(train_corpus, "BLOCK_SIZE", 64)
    assert count_ranges_whole(path) == count_words(text, [])


def count_ranges_whole(path: Path) -> Counter[bytes]:
    return Counter(train_corpus.count_ranges([(str(path), 0, path.stat().st_size)], [], GPT2))


def test_gzip_corpus_equals_plain(tmp_path: Path) -> None:
    text = _cs336("tinystories_sample.txt").read_text(encoding="utf-8")
    plain = tmp_path / "t.txt"
    plain.write_text(text, encoding="utf-8")
    packed = tmp_path / "t.txt.gz"
    packed.write_bytes(gzip.compress(text.encode("utf-8")))
    assert train_bpe(packed, 400, [EOT]) == train_bpe(plain, 400, [EOT])


def test_no_merge_crosses_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello wor", encoding="utf-8")
    (tmp_path / "b.txt").write_text("ld hello", encoding="utf-8")
    result = train_bpe_detailed([tmp_path / "a.txt", tmp_path / "b.txt"], 300)
    expected, _ = learn_merges(dict(count_words("hello wor", []) + count_words("ld hello", [])), 44)
    assert result.merges == expected
    assert not any(b"rl" in token for token in result.vocab.values())  # "wor" + "ld" never met


# -- stopping and errors -------------------------------------------------------------


def test_stops_when_no_pair_is_left_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "tiny.txt"
    path.write_text("abc abc", encoding="utf-8")
    with pytest.warns(TrainingStoppedEarly, match="after 3 of 44 merges"):
        vocab, merges = train_bpe(path, 300)
    assert merges == [(b"b", b"c"), (b"a", b"bc"), (b" ", b"abc")]  # tie (a,b)~(b,c): greater wins
    assert len(vocab) == 256 + len(merges)
    result = train_bpe_detailed(path, 300)
    assert result.stopped_early and result.requested_merges == 44 and result.merges == merges
    assert not train_bpe_detailed(path, 259).stopped_early


@pytest.mark.parametrize(
    ("vocab_size", "specials", "message"),
    [
        (256, [EOT], "at least 257"),
        (100, [], "at least 256"),
        (300, [EOT, EOT], "given twice"),
        (300, [""], "non-empty"),
        (300.0, [], "must be an integer"),
    ],
)
def test_bad_arguments_say_how_to_fix(tmp_path: Path, vocab_size: int, specials: list[str], message: str) -> None:
    path = tmp_path / "c.txt"
    path.write_text("some text", encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        train_bpe(path, vocab_size, specials)


def test_corpus_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read corpus .*missing.txt"):
        train_bpe(tmp_path / "missing.txt", 300)
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(UsageError, match="corpus is empty"):
        train_bpe(tmp_path / "empty.txt", 300)
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9 ok")
    with pytest.raises(UsageError, match=r"latin1.txt: byte 3: not valid UTF-8"):
        train_bpe(tmp_path / "latin1.txt", 300)


def test_worker_errors_reach_the_caller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"hello world\n\nagain caf\xe9 here\n\nmore text\n")
    monkeypatch.setattr("alignkit.bpe.train.PARALLEL_MIN_BYTES", 0)
    with pytest.raises(UsageError, match=r"bad.txt: byte 22: not valid UTF-8"):
        train_bpe(path, 300, num_proc=2)
