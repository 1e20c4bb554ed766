"""``rejects.jsonl`` is written as the rejects come: a report keeps only the first few.

A run that rejects many lines must not hold them all in memory; the file still gets every
one, in input order, and the manifest records its size and sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from alignkit import pipeline
from alignkit.cli import main
from alignkit.errors import InputError
from alignkit.pipeline import REJECTS_NAME, tokenize_files
from alignkit.worker import TokenizeConfig

ENC = "_byte_encoder:make"


def _lines(n: int, bad_every: int) -> list[str]:
    good = {"turns": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    return ['{"turns": []}' if k % bad_every == 0 else json.dumps(good) for k in range(n)]


def _fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


@pytest.mark.parametrize("num_proc", [1, 2])
def test_every_reject_in_the_file_the_first_few_in_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              num_proc: int) -> None:
    monkeypatch.setattr(pipeline, "REJECTS_KEPT", 3)
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(_lines(3000, 7)) + "\n")
    report = tokenize_files([src], tmp_path / "out", TokenizeConfig(encoder=ENC, on_error="skip"),
                            num_proc=num_proc)
    data = (tmp_path / "out" / REJECTS_NAME).read_bytes()
    written = [json.loads(line) for line in data.decode().splitlines()]
    expected_lines = [k + 1 for k in range(3000) if k % 7 == 0]
    assert [r["line"] for r in written] == expected_lines
    assert report.rejects_total == len(expected_lines) == sum(report.stats.rejected.values())
    assert report.rejects == written[:3]
    assert data == "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in written).encode()
    files = report.manifest["files"]
    entry = files[REJECTS_NAME] if isinstance(files, dict) else next(f for f in files if f["name"] == REJECTS_NAME)
    assert entry["bytes"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()


def test_no_reject_gives_an_empty_recorded_file(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(_lines(10, 1000)[1:]) + "\n")
    report = tokenize_files([src], tmp_path / "out", TokenizeConfig(encoder=ENC))
    assert (tmp_path / "out" / REJECTS_NAME).read_bytes() == b""
    assert report.rejects == [] and report.rejects_total == 0


def test_a_failed_run_closes_the_rejects_file(tmp_path: Path) -> None:
    """The first rejected line ends an ``on_error="fail"`` run: nothing written, nothing left open."""
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(_lines(600, 400)[1:]) + "\n")  # line 400 is bad
    tokenize_files([src], tmp_path / "warm", TokenizeConfig(encoder=ENC, on_error="skip"))
    before = _fds()
    with pytest.raises(InputError):
        tokenize_files([src], tmp_path / "out", TokenizeConfig(encoder=ENC))
    assert not (tmp_path / "out").exists() and _fds() == before
    assert not any(p.name.startswith(".out.partial") for p in tmp_path.iterdir())


def test_cli_counts_all_rejects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(pipeline, "REJECTS_KEPT", 25)
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(_lines(100, 2)) + "\n")  # 50 rejects
    assert main(["tokenize", str(src), "-o", str(tmp_path / "out"), "--on-error", "skip"]) == 0
    err = capsys.readouterr().err
    assert err.count(": rejected: ") == 20 and "... and 30 more in" in err
