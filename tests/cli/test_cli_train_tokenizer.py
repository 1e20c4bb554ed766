"""``alignkit train-tokenizer``: trains, saves a loadable tokenizer, reports, fails clearly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from alignkit.bpe import load_tokenizer
from alignkit.bpe.train import train_bpe
from alignkit.cli import main
from conftest import shared_path

EOT = "<|endoftext|>"


def test_trains_and_writes_a_tokenizer_that_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = shared_path("data", "corpora", "cs336", "tinystories_sample.txt")
    out = tmp_path / "tok.json"
    code = main(["train-tokenizer", str(corpus), "--vocab-size", "400", "--special-token", EOT, "-o", str(out)])
    assert code == 0
    stdout, stderr = capsys.readouterr()
    assert "trained 143 merges, vocabulary 400 (1 special)" in stdout and str(out) in stdout
    assert "counting pre-tokens" not in stderr  # progress bars only on a terminal (not in CI logs)
    tok = load_tokenizer(str(out))
    vocab, merges = train_bpe(corpus, 400, [EOT])
    assert tok.vocab == vocab
    text = corpus.read_text(encoding="utf-8")
    assert tok.decode(tok.encode(text)) == text
    assert tok.encode(EOT) == [0]


def test_stopping_early_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("abc abc", encoding="utf-8")
    out = tmp_path / "tok.json.gz"
    assert main(["train-tokenizer", str(corpus), "--vocab-size", "300", "-o", str(out), "--no-progress"]) == 0
    stdout, stderr = capsys.readouterr()
    assert "trained 3 merges, vocabulary 259 (0 special)" in stdout
    assert "stopped early: no pair left after 3 of 44 merges" in stderr
    assert "merges/s" not in stderr  # --no-progress: no bar
    assert load_tokenizer(str(out)).n_vocab == 259


def test_several_files_and_processes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = tmp_path / "a.txt"
    b = tmp_path / "b.txt"
    a.write_text("the cat sat on the mat\n" * 50, encoding="utf-8")
    b.write_text("the dog sat on the log\n" * 50, encoding="utf-8")
    out = tmp_path / "tok.json"
    argv = ["train-tokenizer", str(a), str(b), "--vocab-size", "270", "--num-proc", "2", "-o", str(out)]
    assert main([*argv, "--no-progress"]) == 0
    assert load_tokenizer(str(out)).vocab == train_bpe([a, b], 270)[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vocab-size", "100"], "vocab_size 100 is too small"),
        (["--vocab-size", "300", "--pattern", "nope"], "unknown --pattern 'nope'"),
        (["--vocab-size", "300", "--num-proc", "0"], "--num-proc must be at least 1"),
        (["--vocab-size", "300", "--special-token", "<s>", "--special-token", "<s>"], "given twice"),
    ],
)
def test_bad_arguments_exit_2_with_a_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("some text", encoding="utf-8")
    assert main(["train-tokenizer", str(corpus), *args, "-o", str(tmp_path / "t.json")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "t.json").exists()


def test_missing_corpus_exits_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "alignkit", "train-tokenizer", str(tmp_path / "nope.txt"), "--vocab-size", "300",
         "-o", str(tmp_path / "t.json")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "cannot read corpus" in proc.stderr and "nope.txt" in proc.stderr
