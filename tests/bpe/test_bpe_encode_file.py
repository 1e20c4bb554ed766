"""``Tokenizer.encode_file``: ids equal ``encode`` of the file's text, whatever the windows, pieces and processes."""

from __future__ import annotations

import gzip
import multiprocessing
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.bpe import Tokenizer, default_tokenizer, load_tokenizer
from alignkit.bpe import _file_encode, _parallel
from alignkit.bpe._stream import can_cut, last_cut
from alignkit.errors import InputError, SpecialTokenError
from conftest import SAMPLE_DATA, shared_path

EOT = "<|endoftext|>"
HAS_FORK = "fork" in multiprocessing.get_all_start_methods()
needs_fork = pytest.mark.skipif(not HAS_FORK, reason="no fork start method here")


@lru_cache(maxsize=None)
def _gpt2() -> Tokenizer:
    return default_tokenizer()


@lru_cache(maxsize=None)
def _cl100k() -> Tokenizer:
    return load_tokenizer(shared_path("data", "tokenizers", "tiktoken", "cl100k_base.tiktoken"))


def _tok(name: str) -> Tokenizer:
    return _gpt2() if name == "gpt2" else _cl100k()


def _expected(tok: Tokenizer, path: Path, **kw: Any) -> list[int]:
    with open(path, encoding="utf-8", newline="") as f:
        return tok.encode(f.read(), **kw)


def _bench_slice(tmp_path: Path, file: str, size: int) -> Path:
    with gzip.open(shared_path("bench", file), "rb") as f:
        blob = f.read(size)
    path = tmp_path / "slice.txt"
    path.write_bytes(blob.decode("utf-8", "ignore").encode("utf-8"))
    return path


@pytest.fixture
def small_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows and pieces small enough for many cuts, and parallel batches of any size."""
    monkeypatch.setattr(_file_encode, "WINDOW", 40_000)
    monkeypatch.setattr(_file_encode, "PIECE", 2_000)
    monkeypatch.setattr(_parallel, "MIN_PARALLEL_CHARS", 0)
    monkeypatch.setattr(_parallel, "start_method", lambda: "fork")


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of pieces of each ``encode_batch_arrays`` call encode_file makes."""
    calls: list[int] = []
    real = Tokenizer.encode_batch_arrays

    def spy(self: Tokenizer, texts: list[str], **kw: Any) -> Any:
        calls.append(len(texts))
        return real(self, texts, **kw)

    monkeypatch.setattr(Tokenizer, "encode_batch_arrays", spy)
    return calls


@needs_fork
@pytest.mark.parametrize("name", ["gpt2", "cl100k"])
@pytest.mark.parametrize("file", ["en_novels.txt.gz", "multi_novels.txt.gz"])
def test_bench_slice_equals_encode(name: str, file: str, tmp_path: Path, small_sizes: None,
                                   batches: list[int]) -> None:
    tok = _tok(name)
    path = _bench_slice(tmp_path, file, 200_000)
    expected = _expected(tok, path)
    for n in (1, 2, 3):
        ids = tok.encode_file(path, num_proc=n)
        assert ids.dtype == np.uint32 if tok.n_vocab > 1 << 16 else ids.dtype == np.uint16
        assert ids.tolist() == expected, f"num_proc={n}"
    assert len(batches) >= 3 * 4 and max(batches) > 5  # several windows, each cut into many pieces


def test_default_sizes_one_window(tmp_path: Path, batches: list[int]) -> None:
    tok = _gpt2()
    path = _bench_slice(tmp_path, "en_novels.txt.gz", 300_000)
    assert tok.encode_file(str(path)).tolist() == _expected(tok, path)
    assert len(batches) == 2 and batches[1] == 1  # one window in ~1 MB pieces, then the short rest


@needs_fork
@pytest.mark.parametrize("name", ["gpt2", "cl100k"])
@pytest.mark.parametrize("sample", ["README.md", "sft.jsonl", "preference.jsonl"])
def test_sample_data_equals_encode(name: str, sample: str, small_sizes: None) -> None:
    tok = _tok(name)
    path = SAMPLE_DATA / sample
    expected = _expected(tok, path)
    for n in (1, 2, 3):
        assert tok.encode_file(path, num_proc=n).tolist() == expected


@lru_cache(maxsize=None)
def _spaced() -> Tokenizer:
    """A GPT-2 vocabulary with ``add_prefix_space``: no safe cut."""
    gpt2 = _gpt2()
    return Tokenizer.from_ranks({t: i for i, t in gpt2.vocab.items() if i < 50256}, {EOT: 50256},
                                add_prefix_space=True)


@needs_fork
def test_no_cut_tokenizer_encodes_one_piece(tmp_path: Path, small_sizes: None, batches: list[int]) -> None:
    tok = _spaced()
    assert not can_cut(tok)
    path = tmp_path / "t.txt"
    path.write_text("Hello.\nWorld and more.\n\nNext paragraph.\n" * 300, encoding="utf-8")
    assert tok.encode_file(path, num_proc=2).tolist() == _expected(tok, path)
    assert batches == [1]


@needs_fork
def test_text_without_cut_points_is_one_piece(tmp_path: Path, small_sizes: None, batches: list[int]) -> None:
    tok = _gpt2()
    path = tmp_path / "t.txt"
    path.write_text("  indented line, no cut\n" * 5000, encoding="utf-8")  # every newline before a space
    assert tok.encode_file(path, num_proc=2).tolist() == _expected(tok, path)
    assert batches == [1]


@needs_fork
@pytest.mark.parametrize("name", ["gpt2", "cl100k"])
def test_specials_crlf_bom_non_ascii(name: str, tmp_path: Path, small_sizes: None) -> None:
    tok = _tok(name)
    unit = f"\ufeffCafé 😀 déjà.\r\nNext line{EOT}\n\nSecond 42.\n\n\nThird\r\n\r\nЖ ok.\n"
    path = tmp_path / "t.txt"
    path.write_bytes(("\ufeff" + unit * 400).encode("utf-8"))
    for n in (1, 2, 3):
        assert tok.encode_file(path, num_proc=n).tolist() == _expected(tok, path)
    decoded = tok.decode(tok.encode_file(path).tolist())
    assert decoded.startswith("\ufeff\ufeffCafé") and "\r\n" in decoded  # BOM and CRLF kept
    allowed = tok.encode_file(path, allowed_special={EOT}).tolist()
    assert allowed == _expected(tok, path, allowed_special={EOT})
    with pytest.raises(SpecialTokenError):
        tok.encode_file(path, num_proc=2, allowed_special=set())


_ALPHABET = ["a", "Z", "7", "word", " ", "  ", ".", ",", "\n", "\n\n", "\r\n", "\t", "é", "e\u0301",
             "😀", "Ж", "\ufeff", "'s", EOT, "<|endoftext", "\u00a0"]




def _write(data: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.txt"
        path.write_bytes(data)
        yield path


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(_ALPHABET), max_size=120), st.integers(1, 40), st.integers(1, 30),
       st.integers(1, 10), st.sampled_from(["gpt2", "cl100k"]))
def test_any_window_piece_and_overlap_sizes(parts: list[str], window: int, piece: int, overlap: int,
                                           name: str) -> None:
    tok = _tok(name)
    text = "".join(parts)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_file_encode, "WINDOW", window)
        mp.setattr(_file_encode, "PIECE", piece)
        mp.setattr(_file_encode, "_OVERLAP", overlap)
        for path in _write(text.encode("utf-8")):
            assert tok.encode_file(path).tolist() == tok.encode(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_ALPHABET), max_size=200), st.integers(0, 50), st.integers(1, 30),
       st.integers(1, 10), st.integers(1, 10), st.booleans())
def test_cut_pieces_are_cuts_of_the_text(parts: list[str], start: int, piece: int, overlap: int,
                                         tail: int, before_last: bool) -> None:
    text = "".join(parts)
    data = text.encode("utf-8")
    start = min(start, len(data))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_file_encode, "_OVERLAP", overlap)
        mp.setattr(_file_encode, "_TAIL", tail)
        cuts, searched = _file_encode.cut_pieces(data, start, piece, before_last)
    assert cuts == sorted(set(cuts)) and all(0 < c < len(data) for c in cuts)
    assert 0 <= searched <= len(data) - (cuts[-1] if cuts else 0)
    for c in cuts:  # each cut is a cut of the text, at the same place
        chars = len(data[:c].decode("utf-8"))
        after = 2 if before_last else 1  # last_cut looks at the letter after the run
        assert last_cut(text[: chars + after], before_last_newline=before_last) == chars


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_ALPHABET), max_size=60), st.booleans())
def test_last_cut_of_bytes_equals_last_cut_of_text(parts: list[str], before_last: bool) -> None:
    text = "".join(parts)
    data = text.encode("utf-8")
    cut = last_cut(text, before_last_newline=before_last)
    got = _file_encode._last_cut(data, 0, len(data), before_last)
    assert got == (len(text[:cut].encode("utf-8")) if cut > 0 else -1)


@pytest.mark.parametrize("window", [1, 2, 3, 5, 1 << 20])
def test_invalid_utf8_names_file_and_offset(window: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_file_encode, "WINDOW", window)
    tok = _gpt2()
    good = "héllo wörld\n".encode("utf-8")  # two-byte characters: some split between windows
    path = tmp_path / "bad.txt"
    for bad, at in [(good + b"\xff" + good, len(good)), (good * 3 + b"\xc3(", 3 * len(good)),
                    (good + b"\xe2\x82", len(good)), (b"\xed\xa0\x80" + good, 0)]:
        path.write_bytes(bad)
        with pytest.raises(InputError, match="invalid UTF-8") as err:
            tok.encode_file(path)
        assert str(err.value).startswith(f"{path}: byte offset {at}:"), str(err.value)
        assert err.value.error_type == "invalid_utf8"
    path.write_bytes(good * 5)
    assert tok.encode_file(path).tolist() == tok.encode(good.decode("utf-8") * 5)


def test_empty_file_and_dtype(tmp_path: Path) -> None:
    tok = _gpt2()
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    ids = tok.encode_file(path, num_proc=2)
    assert ids.dtype == np.uint16 and ids.shape == (0,)
    path.write_text("Hi there.\nYou", encoding="utf-8")
    ids = tok.encode_file(path, dtype="int64")
    assert ids.dtype == np.int64 and ids.tolist() == tok.encode("Hi there.\nYou")
    with pytest.raises(ValueError, match="num_proc"):
        tok.encode_file(path, num_proc=0)
