"""``train_bpe``'s ``pattern``: known names, custom regexes that leave text unmatched, and
patterns that match nothing (an error, as in ``alignkit train-tokenizer``)."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import pytest
from conftest import shared_path
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from alignkit.bpe import patterns, train_corpus
from alignkit.bpe._reference_train import count_words, reference_train_bpe
from alignkit.bpe.patterns import CL100K, GPT2, KNOWN_PATTERNS, O200K
from alignkit.bpe.train import TrainingStoppedEarly, train_bpe
from alignkit.cli import main
from alignkit.errors import UsageError

EOT = "<|endoftext|>"

#: Custom patterns that leave some text unmatched (gaps between pieces).
GAPPY = [r" ?\p{L}+", r"\p{L}+", r"[a-z]+|\d\d", r"\p{N}+"]


def test_custom_pattern_matching_nothing_in_a_whole_block_trains_as_on_the_whole_text(tmp_path: Path) -> None:
    # The audit's case: 2.5 MB of digits (several 1 MiB blocks with no match of the pattern), then text.
    text = "1234 5678\n" * 250_000 + "hello world\n" * 1000
    path = tmp_path / "digits_then_text.txt"
    path.write_text(text, encoding="utf-8")
    pattern = r" ?\p{L}+"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingStoppedEarly)
        vocab, merges = train_bpe(path, 300, pattern=pattern, num_proc=1)
    want_vocab, want_merges = reference_train_bpe(text, 300, [], pattern)
    assert merges == want_merges and vocab == want_vocab and len(merges) == 9  # all there are


@pytest.mark.parametrize("pattern", GAPPY)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.lists(st.sampled_from(["ab", "c", " ", "12", "3", "\n", "x y", EOT, "é", ".."]), max_size=60).map("".join),
    block=st.integers(1, 12),
)
@example(text="1 2 3 4 5 6 ab", block=2)
@example(text="ab 12 12 12 12", block=3)
def test_streamed_counts_of_custom_patterns_with_gaps_equal_whole_text_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pattern: str, text: str, block: int
) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes(text.encode("utf-8"))
    monkeypatch.setattr(train_corpus, "BLOCK_SIZE", block)
    got = Counter(train_corpus.count_ranges([(str(path), 0, path.stat().st_size)], [EOT], pattern))
    assert got == count_words(text, [EOT], pattern)


def _corpus(tmp_path: Path) -> Path:
    path = tmp_path / "c.txt"
    path.write_text("Hello, world! It's 2024: we'll encode  THIS text.\n\n" * 40 + EOT + "more words here 12345\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(KNOWN_PATTERNS))
def test_pattern_names_mean_what_they_mean_in_the_cli(tmp_path: Path, name: str) -> None:
    path = _corpus(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingStoppedEarly)  # (qwen's single digits: fewer pairs)
        by_name = train_bpe(path, 300, [EOT], pattern=name, num_proc=1)
        by_regex = train_bpe(path, 300, [EOT], pattern=KNOWN_PATTERNS[name], num_proc=1)
    assert by_name == by_regex and len(by_name[1]) > 30
    out = tmp_path / "tok.json"
    assert main(["train-tokenizer", str(path), "--vocab-size", "300", "--special-token", EOT,
                 "--pattern", name, "-o", str(out), "--no-progress", "--num-proc", "1"]) == 0
    from alignkit.bpe import load_tokenizer

    tok = load_tokenizer(out)
    assert tok.pattern == KNOWN_PATTERNS[name]
    assert [tok.id_to_token_bytes(257 + i) for i in range(len(by_name[1]))] == [a + b for a, b in by_name[1]]


def test_resolve_pattern_names_regexes_and_errors() -> None:
    resolve_pattern = patterns.resolve_pattern
    assert resolve_pattern("cl100k") == CL100K and resolve_pattern("o200k") == O200K
    assert resolve_pattern(r"\p{L}+") == r"\p{L}+"
    with pytest.raises(UsageError, match=r"unknown --pattern 'nope'; choose one of gpt2, cl100k"):
        resolve_pattern("nope", names_only=True)
    with pytest.raises(UsageError, match=r"pattern '\(ab' is not a valid regex.*position"):
        resolve_pattern("(ab")
    assert resolve_pattern("gpt2", names_only=True) == GPT2


def test_a_pattern_that_matches_nothing_in_the_corpus_is_refused(tmp_path: Path) -> None:
    path = _corpus(tmp_path)
    with pytest.raises(UsageError, match=r"matched nothing in .*c\.txt.*check the pattern"):
        train_bpe(path, 300, [EOT], pattern=r"\p{Greek}+", num_proc=1)


def test_a_corpus_of_only_special_tokens_stops_early_in_python_and_in_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No text to match is not a pattern that matches nothing: both say "stopped early", no error.
    path = tmp_path / "only.txt"
    path.write_text(EOT * 3, encoding="utf-8")
    for pattern in (GPT2, r"\p{Greek}+"):
        with pytest.warns(TrainingStoppedEarly):
            assert train_bpe(path, 300, [EOT], pattern=pattern, num_proc=1)[1] == []
    code = main(["train-tokenizer", str(path), "--vocab-size", "300", "--special-token", EOT,
                 "-o", str(tmp_path / "t.json"), "--no-progress"])
    assert code == 0 and "stopped early: no pair left after 0 of 43 merges" in capsys.readouterr().err


def test_cs336_corpus_trains_with_the_cl100k_name() -> None:
    corpus = shared_path("data", "corpora", "cs336", "corpus.en")
    _, merges = train_bpe(corpus, 500, [EOT], pattern="cl100k")
    assert len(merges) == 500 - 257 and merges == train_bpe(corpus, 500, [EOT], pattern=CL100K)[1]
