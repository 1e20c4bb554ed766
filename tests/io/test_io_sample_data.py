"""sample_data/: the valid files are valid, invalid.jsonl fails exactly as its README says."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from alignkit.cli import main
from alignkit.io.reader import iter_records
from alignkit.records import ChatExample, PreferenceExample

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"

README = SAMPLE_DATA / "README.md"


def _block(name: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    m = re.search(rf"<!-- {name}:start -->\n```\n(.*?)```\n<!-- {name}:end -->", text, re.S)
    assert m, f"README lacks the {name} block"
    return m.group(1).splitlines()


@pytest.mark.parametrize(("name", "cls", "minimum"), [
    ("sft.jsonl", ChatExample, 30), ("preference.jsonl", PreferenceExample, 30)])
def test_sample_files_are_valid_and_varied(name: str, cls: type, minimum: int) -> None:
    results = list(iter_records(SAMPLE_DATA / name))
    assert [e for r in results for e in r.errors] == []
    records = [r.record for r in results]
    assert len(records) >= minimum and all(isinstance(r, cls) for r in records)
    assert all(r.source and r.id for r in records)  # type: ignore[union-attr]
    ids = [r.id for r in records]  # type: ignore[union-attr]
    assert len(set(ids)) == len(ids)


def test_sft_sample_has_single_multi_turn_and_system() -> None:
    records = [r.record for r in iter_records(SAMPLE_DATA / "sft.jsonl")]
    lengths = {len(r.turns) for r in records if isinstance(r, ChatExample)}
    assert 2 in lengths and max(lengths) >= 6
    assert any(r.turns[0].role == "system" for r in records if isinstance(r, ChatExample))


def test_preference_sample_has_both_choices_and_multi_turn_history() -> None:
    records = [r.record for r in iter_records(SAMPLE_DATA / "preference.jsonl")]
    prefs = [r for r in records if isinstance(r, PreferenceExample)]
    assert {p.chosen for p in prefs} == {"a", "b"}
    assert any(len(p.history) > 1 for p in prefs)
    for p in prefs:
        if p.score_a is not None and p.score_b is not None:
            assert (p.score_a > p.score_b) == (p.chosen == "a") and p.score_a != p.score_b


def test_every_sample_source_is_attributed_in_readme() -> None:
    text = README.read_text(encoding="utf-8")
    for name in ("sft.jsonl", "preference.jsonl"):
        for line in (SAMPLE_DATA / name).read_text(encoding="utf-8").splitlines():
            source = json.loads(line)["source"]
            assert source.split("/")[0] in text, source
    assert "LIMA" not in text and "AlpacaEval" not in text


def test_invalid_file_fails_exactly_as_documented(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(SAMPLE_DATA.parent)
    code = main(["validate", "--max-errors", "0", "sample_data/invalid.jsonl"])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.splitlines() == _block("expected-errors")
    assert out.splitlines() == _block("expected-summary")


def test_invalid_file_covers_each_documented_error_type() -> None:
    types = {e.error_type for r in iter_records(SAMPLE_DATA / "invalid.jsonl") for e in r.errors}
    table = set(re.findall(r"^\| \d+ \|.*\| `([a-z_0-9]+)` \|$",
                           README.read_text(encoding="utf-8"), re.M))
    assert types == table and len(types) >= 19
