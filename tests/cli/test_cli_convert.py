"""``alignkit convert``: files in, atomic JSONL records out, every bad row reported."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from alignkit.cli import main
from conftest import shared_path
from alignkit.records import ChatExample, PreferenceExample

GOOD = {"question": "Wie viel ist 2+2? ü", "answer": "4"}
BAD = {"question": "3+3?", "answer": ""}
HH_ROW = {"chosen": "\n\nHuman: Q\n\nAssistant: A", "rejected": "\n\nHuman: Q\n\nAssistant: B"}


def _write(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name)


def test_converts_with_auto_detection(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path / "gsm.jsonl", [GOOD, GOOD])
    out = tmp_path / "out.jsonl"
    assert main(["convert", str(src), "-o", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == (
        '{"turns":[{"role":"user","content":"Wie viel ist 2+2? ü"},'
        '{"role":"assistant","content":"4"}]}'
    )
    assert all(ChatExample.model_validate_json(line) for line in lines)
    stdout = capsys.readouterr().out
    assert f"{src}: pairs, 2 rows, 2 converted, 0 rejected" in stdout
    assert _leftovers(tmp_path) == []


def test_output_is_byte_identical_across_runs(tmp_path: Path) -> None:
    src = _write(tmp_path / "hh.jsonl", [HH_ROW] * 5)
    outs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for out in outs:
        assert main(["convert", str(src), "-o", str(out), "--shuffle-seed", "7"]) == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()
    records = [PreferenceExample.model_validate_json(x) for x in outs[0].read_text().splitlines()]
    assert all(r.chosen_response == "A" for r in records)


def test_fail_mode_stops_and_leaves_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "gsm.jsonl", [GOOD, BAD, GOOD])
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n")
    assert main(["convert", str(src), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{src}:2: turns.1.content: " in err and "[empty_content]" in err
    assert "--on-error skip" in err
    assert out.read_text() == "previous\n"
    assert _leftovers(tmp_path) == []


def test_skip_mode_writes_good_rows_and_rejects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "gsm.jsonl", [GOOD, BAD, GOOD])
    (tmp_path / "gsm.jsonl").open("a").write("not json\n")
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rej.jsonl"
    code = main(
        [
            "convert",
            str(src),
            "-o",
            str(out),
            "--on-error",
            "skip",
            "--rejects",
            str(rejects),
            "--report",
            "json",
        ]
    )
    assert code == 0
    assert len(out.read_text().splitlines()) == 2
    bad = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert [(b["line"], b["type"], b["row"]) for b in bad] == [
        (2, "empty_content", BAD),
        (4, "json_invalid", None),
    ]
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["total"]["rows"] == 4
    assert (report["total"]["converted"], report["total"]["rejected"]) == (2, 2)
    assert report["files"][0]["format"] == "pairs"
    assert report["files"][0]["rejected_by_reason"] == {"empty_content": 1, "json_invalid": 1}
    assert f"{src}:4: invalid JSON" in captured.err


def test_max_errors_limits_printed_errors_not_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "gsm.jsonl", [BAD] * 4)
    out = tmp_path / "out.jsonl"
    assert (
        main(["convert", str(src), "-o", str(out), "--on-error", "skip", "--max-errors", "1"]) == 0
    )
    captured = capsys.readouterr()
    assert captured.err.count("[empty_content]") == 1
    assert "3 more errors not shown" in captured.err
    assert "4 rows, 0 converted, 4 rejected (empty_content 4)" in captured.out
    assert out.read_text() == ""


def test_unknown_format_exits_2_and_suggests_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "x.jsonl", [{"text": "hello"}])
    out = tmp_path / "out.jsonl"
    assert main(["convert", str(src), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cannot detect the input format" in err and "--from FORMAT" in err and "sharegpt" in err
    assert not out.exists()


def test_explicit_from_overrides_detection(tmp_path: Path) -> None:
    src = _write(
        tmp_path / "x.jsonl",
        [
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "a"},
                ],
                "conversations": [],
            }
        ],
    )
    out = tmp_path / "out.jsonl"
    assert main(["convert", str(src), "-o", str(out)]) == 2
    assert main(["convert", str(src), "--from", "openai", "-o", str(out)]) == 0
    record = ChatExample.model_validate_json(out.read_text())
    assert record.metadata == {"conversations": []}


def test_sft_and_preference_inputs_cannot_share_an_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sft = _write(tmp_path / "sft.jsonl", [GOOD])
    pref = _write(tmp_path / "pref.jsonl", [HH_ROW])
    out = tmp_path / "out.jsonl"
    assert main(["convert", str(sft), str(pref), "-o", str(out)]) == 2
    assert "separate files" in capsys.readouterr().err
    assert not out.exists()


def test_fix_options_are_passed_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    row = {
        "conversations": [
            {"from": "gpt", "value": "hello"},
            {"from": "human", "value": "a"},
            {"from": "human", "value": "b"},
            {"from": "gpt", "value": "c"},
        ]
    }
    src = _write(tmp_path / "s.jsonl", [row])
    out = tmp_path / "out.jsonl"
    assert main(["convert", str(src), "-o", str(out)]) == 1
    assert (
        main(
            [
                "convert",
                str(src),
                "-o",
                str(out),
                "--merge-consecutive",
                "--drop-leading-assistant",
                "--source",
                "sg",
            ]
        )
        == 0
    )
    record = ChatExample.model_validate_json(out.read_text())
    assert [t.content for t in record.turns] == ["a\n\nb", "c"]
    assert record.source == "sg"
    assert "notes: dropped_leading_assistant 1, merged_consecutive 1" in capsys.readouterr().out


def test_output_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path / "g.jsonl", [GOOD])
    assert main(["convert", str(src), "-o", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_unknown_from_value_is_an_argparse_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["convert", "x.jsonl", "--from", "csv", "-o", str(tmp_path / "o.jsonl")])
    assert info.value.code == 2


def test_from_accepts_dashes_and_capitals(tmp_path: Path) -> None:
    src = _write(tmp_path / "hh.jsonl", [HH_ROW])
    out = tmp_path / "out.jsonl"
    assert main(["convert", str(src), "--from", "HH-RLHF", "-o", str(out)]) == 0
    assert PreferenceExample.model_validate_json(out.read_text()).response_b == "B"


def test_real_fastchat_file_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = shared_path("data", "alignment/sft/fastchat/dummy_conversation.json")
    out = tmp_path / "out.jsonl"
    assert main(["convert", str(src), "-o", str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 500
    assert "sharegpt, 500 rows, 500 converted, 0 rejected" in capsys.readouterr().out


def test_dataset_folder_split_and_row_locations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import datasets

    folder = tmp_path / "ds"
    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list([GOOD, BAD]),
            "test": datasets.Dataset.from_list([GOOD]),
        }
    ).save_to_disk(str(folder))
    out = tmp_path / "out.jsonl"
    assert main(["convert", str(folder), "-o", str(out)]) == 2
    assert "choose one of ['test', 'train'] with --split" in capsys.readouterr().err
    code = main(["convert", str(folder), "--split", "train", "-o", str(out), "--on-error", "skip"])
    assert code == 0
    assert f"{folder}: row 1: turns.1.content: " in capsys.readouterr().err
    assert len(out.read_text().splitlines()) == 1


def test_rejects_file_must_differ_from_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "g.jsonl", [GOOD])
    out = tmp_path / "out.jsonl"
    assert main(["convert", str(src), "-o", str(out), "--rejects", str(out)]) == 2
    assert "same file" in capsys.readouterr().err
