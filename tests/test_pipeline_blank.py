"""Blank lines under ``skip_blank``: counted (``RunStats.skipped_blank``, the manifest's ``counts``),
the same for 1 and 2 processes, on the general path and on both fast paths; without
``skip_blank`` they stay ``blank_line`` errors."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from pathlib import Path

import pytest

from alignkit import chunk_results
from alignkit.io.validate import validate_file
from alignkit.pipeline import tokenize_files
from alignkit.worker import TokenizeConfig

ENC = "_byte_encoder:make"
HAS_FORK = "fork" in multiprocessing.get_all_start_methods()

#: Blank lines as the reader hands them over (``Line.is_blank``: nothing but ASCII whitespace),
#: each with a line ending; ``b"\r\r\n"`` leaves a lone ``\r``.
BLANKS = [b"\n", b"\r\n", b"   \n", b"\t\r\n", b" \t \n", b"\r\r\n", b"\x0c\n", b"  \r\n"]


def _sft(i: int) -> dict[str, object]:
    return {"turns": [{"role": "user", "content": f"question {i}"},
                      {"role": "assistant", "content": "a" * (i % 7) + str(i)}]}


def _pair(i: int) -> dict[str, object]:
    return {"history": [{"role": "user", "content": f"q{i}"}], "response_a": f"yes {i}",
            "response_b": f"no {i}", "chosen": "ab"[i % 2]}


def _file(path: Path, make: object, n: int = 300) -> tuple[Path, int]:
    """``n`` records with blank lines of every form between them (and first and last); the
    path and the number of blank lines."""
    assert callable(make)
    data = bytearray()
    blanks = 0
    for i in range(n):
        if i % 5 == 0:
            data += BLANKS[blanks % len(BLANKS)]
            blanks += 1
        record = make(i)
        if i % 11 == 3:  # a record that takes the pydantic path (nested metadata)
            record = {**record, "metadata": {"tags": ["x", {"y": 1}]}}
        data += json.dumps(record).encode() + (b"\r\n" if i % 2 else b"\n")
    data += b"  \r\n\t"  # a whitespace-only last line without a line ending
    blanks += 2
    path.write_bytes(bytes(data))
    return path, blanks


def _tree(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


CASES = [("sft", ENC), ("sft", "alignkit.encoder:default_encoder"),
         ("preference", ENC), ("preference", "alignkit.encoder:default_encoder")]


@pytest.mark.parametrize(("kind", "encoder"), CASES, ids=["sft-general", "sft-fast", "pref-general", "pref-fast"])
def test_skipped_blank_lines_are_counted(tmp_path: Path, kind: str, encoder: str) -> None:
    src, blanks = _file(tmp_path / "in.jsonl", _sft if kind == "sft" else _pair)
    assert validate_file(src, skip_blank=True).skipped_blank == blanks  # what validate counts
    cfg = TokenizeConfig(encoder=encoder, skip_blank=True, format="jsonl", max_seq_len=0)
    rep = tokenize_files([src], tmp_path / "one", cfg)
    assert rep.kind == kind
    assert rep.stats.skipped_blank == blanks and rep.stats.records_in == rep.stats.written == 300
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert manifest["counts"]["skipped_blank"] == blanks and rep.manifest == manifest
    assert rep.rejects_total == 0


@pytest.mark.skipif(not HAS_FORK, reason="no fork start method here")
@pytest.mark.parametrize(("kind", "encoder"), CASES, ids=["sft-general", "sft-fast", "pref-general", "pref-fast"])
def test_skipped_blank_lines_same_with_two_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     kind: str, encoder: str) -> None:
    src, blanks = _file(tmp_path / "in.jsonl", _sft if kind == "sft" else _pair)
    cfg = TokenizeConfig(encoder=encoder, skip_blank=True, format="jsonl", max_seq_len=0)
    one = tokenize_files([src, src], tmp_path / "one", cfg)
    monkeypatch.setattr(chunk_results, "_RANGES_PER_PROC", 5)  # small ranges: blank lines in many
    monkeypatch.setattr(chunk_results, "CHUNK_LINES", 16)
    two = tokenize_files([src, src], tmp_path / "two", cfg, num_proc=2)
    assert one.stats == two.stats and two.stats.skipped_blank == 2 * blanks
    assert _tree(tmp_path / "one") == _tree(tmp_path / "two")


@pytest.mark.parametrize(("kind", "encoder"), CASES, ids=["sft-general", "sft-fast", "pref-general", "pref-fast"])
@pytest.mark.parametrize("num_proc", [1, 2])
def test_without_skip_blank_blank_lines_stay_errors(tmp_path: Path, kind: str, encoder: str,
                                                    num_proc: int) -> None:
    src, blanks = _file(tmp_path / "in.jsonl", _sft if kind == "sft" else _pair)
    cfg = TokenizeConfig(encoder=encoder, format="jsonl", max_seq_len=0, on_error="skip")
    rep = tokenize_files([src], tmp_path / "o", cfg, num_proc=num_proc)
    assert rep.stats.skipped_blank == 0 and rep.stats.rejected == {"blank_line": blanks}
    assert rep.stats.records_in == 300 + blanks and rep.manifest["counts"]["skipped_blank"] == 0  # type: ignore[index]
    assert {r["reason"] for r in rep.rejects} == {"blank_line"}
    with pytest.raises(Exception, match="blank line") as info:
        tokenize_files([src], tmp_path / "f", cfg.replace(on_error="fail"), num_proc=num_proc)
    assert getattr(info.value, "line", None) == 1  # the file starts with a blank line
