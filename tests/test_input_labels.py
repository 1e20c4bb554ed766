"""Inputs are named in outputs and messages without absolute paths, and never ambiguously.

Two inputs outside the working folder with the same file name (``/data/a/train.jsonl`` and
``/data/b/train.jsonl``) were both called ``train.jsonl``: in the manifest, in
``rejects.jsonl`` and on stderr, so a reject could not be traced to its file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLE_DATA

from alignkit.chunk_results import input_labels
from alignkit.cli import main

GOOD = (SAMPLE_DATA / "sft.jsonl").read_text().splitlines()[:2]


@pytest.fixture
def two_trains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    a, b = tmp_path / "data" / "a" / "train.jsonl", tmp_path / "data" / "b" / "train.jsonl"
    for path, bad_at in ((a, None), (b, 1)):
        path.parent.mkdir(parents=True)
        lines = list(GOOD)
        if bad_at is not None:
            lines.insert(bad_at, '{"turns": []}')
        path.write_text("\n".join(lines) + "\n")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # the inputs are outside the working folder
    return a, b


@pytest.mark.parametrize("num_proc", ["1", "2"])
def test_same_file_names_in_two_folders_stay_apart(two_trains: tuple[Path, Path], tmp_path: Path,
                                                    num_proc: str, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = two_trains
    out = tmp_path / f"out{num_proc}"
    assert main(["tokenize", str(a), str(b), "-o", str(out), "--on-error", "skip", "--num-proc", num_proc]) == 0
    err = capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert [i["path"] for i in manifest["inputs"]] == ["a/train.jsonl", "b/train.jsonl"]
    (reject,) = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert (reject["path"], reject["line"]) == ("b/train.jsonl", 2)
    assert "b/train.jsonl:2: rejected" in err
    for f in out.iterdir():
        assert str(tmp_path) not in f.read_text(errors="replace")


def test_labels_grow_only_as_far_as_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert input_labels(["x.jsonl", "/y/x.jsonl"]) == {"x.jsonl": "x.jsonl", "/y/x.jsonl": "y/x.jsonl"}
    assert input_labels(["/p/a/t.jsonl", "/q/a/t.jsonl", "/r/t.jsonl"]) == {
        "/p/a/t.jsonl": "p/a/t.jsonl", "/q/a/t.jsonl": "q/a/t.jsonl", "/r/t.jsonl": "r/t.jsonl"}
    # the same file twice keeps its one label
    assert input_labels(["/p/t.jsonl", "/p/t.jsonl"]) == {"/p/t.jsonl": "t.jsonl"}
    assert input_labels([str(tmp_path / "in.jsonl")]) == {str(tmp_path / "in.jsonl"): "in.jsonl"}
