"""The tokenize pipeline end to end, on a byte-level test encoder (see ``_byte_encoder``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from _byte_encoder import ByteEncoder

from alignkit.encode import IGNORE_INDEX
from alignkit.errors import InputError, UsageError
from alignkit.pipeline import tokenize_files
from alignkit.records import ChatExample, PreferenceExample
from alignkit.worker import TokenizeConfig

ENC = "_byte_encoder:make"


def _sft(i: int, answer_len: int = 5) -> dict[str, object]:
    return {"turns": [{"role": "user", "content": f"question {i}"},
                      {"role": "assistant", "content": "a" * answer_len + str(i)}]}


def _write(path: Path, rows: Sequence[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _tree_hash(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture()
def sft_file(tmp_path: Path) -> Path:
    rows: list[object] = [_sft(i, answer_len=i % 40) for i in range(600)]
    rows[3] = {"turns": [{"role": "bot", "content": "x"}]}
    rows[10] = "not json"
    return _write(tmp_path / "sft.jsonl", rows)


def test_sft_arrow_round_trip_and_manifest(sft_file: Path, tmp_path: Path) -> None:
    import datasets

    out = tmp_path / "out"
    cfg = TokenizeConfig(encoder=ENC, on_error="skip", max_seq_len=0)
    report = tokenize_files([sft_file], out, cfg)
    assert report.stats.records_in == 600 and report.stats.written == 598
    ds = datasets.load_from_disk(str(out))
    assert len(ds) == 598
    expected = ByteEncoder().encode_sft(ChatExample.model_validate(_sft(0, 0)), "assistant")
    assert ds[0]["input_ids"] == expected.input_ids
    assert ds[0]["labels"] == expected.labels and ds[0]["role_ids"] == expected.role_ids
    assert ds[0]["attention_mask"] == [1] * len(expected)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["rejected"] == {"json_invalid": 1, "literal_error": 1}
    assert manifest["columns"]["input_ids"] == "uint16" and manifest["columns"]["labels"] == "int32"
    assert manifest["labels"] == {"ignore_index": -100, "shifted": False}
    assert manifest["role_ids"]["padding"] == 5
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == entry["sha256"]
    text = (out / "manifest.json").read_text()
    assert str(tmp_path) not in text and "sft.jsonl" in text
    rejects = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    assert [(r["line"], r["reason"], r["status"]) for r in rejects] == [
        (4, "literal_error", "rejected"), (11, "json_invalid", "rejected")]
    tokens = manifest["tokens"]
    assert tokens["trained"] == sum(len(r) for r in ds["labels"]) - sum(
        1 for r in ds["labels"] for t in r if t == IGNORE_INDEX)


def test_fail_mode_writes_nothing(sft_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(InputError) as info:
        tokenize_files([sft_file], out, TokenizeConfig(encoder=ENC))
    assert info.value.line == 4 and info.value.error_type == "literal_error"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sft.jsonl"]


@pytest.mark.parametrize("fmt", ["arrow", "npy", "parquet", "jsonl"])
@pytest.mark.parametrize("pack", [False, True])
def test_byte_identical_for_any_num_proc(sft_file: Path, tmp_path: Path, fmt: str, pack: bool) -> None:
    cfg = TokenizeConfig(encoder=ENC, on_error="skip", format=fmt, pack=pack, max_seq_len=64)
    tokenize_files([sft_file], tmp_path / "a", cfg)
    tokenize_files([sft_file], tmp_path / "b", cfg, num_proc=2)
    tokenize_files([sft_file], tmp_path / "a", cfg)  # replaces its own earlier output
    assert _tree_hash(tmp_path / "a") == _tree_hash(tmp_path / "b")


def test_truncation_and_zero_trained_are_counted(tmp_path: Path) -> None:
    long_prompt = {"turns": [{"role": "user", "content": "q" * 50},
                             {"role": "assistant", "content": "yes"}]}
    rows: list[object] = [_sft(0, 1), _sft(1, 30), long_prompt]
    src = _write(tmp_path / "t.jsonl", rows)
    # _sft(0,1): 1+1+10+1+1+2+1 = 17 tokens; _sft(1,30): 47; long prompt: 1+1+51+1+4 = 58
    rep = tokenize_files([src], tmp_path / "o", TokenizeConfig(encoder=ENC, max_seq_len=40))
    assert rep.stats.truncated == 1 and rep.stats.zero_trained == 1 and rep.stats.written == 2
    assert rep.stats.dropped == {"zero_trained": 1}
    rep = tokenize_files([src], tmp_path / "o", TokenizeConfig(encoder=ENC, max_seq_len=40, truncation="drop"))
    assert rep.stats.dropped == {"too_long": 2} and rep.stats.written == 1
    dropped = [json.loads(x) for x in (tmp_path / "o" / "rejects.jsonl").read_text().splitlines()]
    assert [(d["line"], d["status"], d["reason"]) for d in dropped] == [
        (2, "dropped", "too_long"), (3, "dropped", "too_long")]
    with pytest.raises(InputError, match="too_long"):
        tokenize_files([src], tmp_path / "o", TokenizeConfig(encoder=ENC, max_seq_len=40, truncation="error"))
    rep = tokenize_files([src], tmp_path / "o", TokenizeConfig(
        encoder=ENC, max_seq_len=40, truncation="error", on_error="skip"))
    assert rep.stats.rejected == {"too_long": 2}


def test_packed_npy_is_memory_mappable(sft_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "p"
    cfg = TokenizeConfig(encoder=ENC, on_error="skip", format="npy", pack=True, max_seq_len=128)
    rep = tokenize_files([sft_file], out, cfg)
    ids = np.load(out / "input_ids.npy", mmap_mode="r")
    offsets = np.load(out / "input_ids.offsets.npy")
    assert ids.dtype == np.uint16 and offsets.dtype == np.int64
    rows = len(offsets) - 1
    assert ids.shape == (rows * 128,) and np.all(np.diff(offsets) == 128)
    mask = np.load(out / "attention_mask.npy")
    seq_lens = np.load(out / "seq_lens.npy")
    assert int(mask.sum()) == int(seq_lens.sum()) == rep.stats.total_tokens
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["packing"]["efficiency"] == round(rep.stats.total_tokens / (rows * 128), 6)
    assert 0.9 < manifest["packing"]["efficiency"] <= 1.0


def test_preference_layout(tmp_path: Path) -> None:
    import datasets

    pair = {"history": [{"role": "user", "content": "2+2?"}], "response_a": "five",
            "response_b": "4", "chosen": "b"}
    src = _write(tmp_path / "p.jsonl", [pair, {**pair, "chosen": "a"}])
    tokenize_files([src], tmp_path / "o", TokenizeConfig(encoder=ENC))
    ds = datasets.load_from_disk(str(tmp_path / "o"))
    assert ds[0]["prompt_input_ids"] == ds[1]["prompt_input_ids"]
    assert ds[0]["chosen_input_ids"] == ds[1]["rejected_input_ids"] == list(b"4") + [260]
    assert ds[0]["rejected_input_ids"] == ds[1]["chosen_input_ids"]
    assert ds[0]["chosen_labels"] == ds[0]["chosen_input_ids"]
    p, c, r = ByteEncoder().encode_pair(PreferenceExample.model_validate(pair))
    assert ds[0]["prompt_input_ids"] + ds[0]["chosen_input_ids"] == c.input_ids
    with pytest.raises(UsageError, match="SFT"):
        tokenize_files([src], tmp_path / "x", TokenizeConfig(encoder=ENC, pack=True))


def test_mixed_kinds_and_bad_options(sft_file: Path, tmp_path: Path) -> None:
    pair = {"history": [{"role": "user", "content": "q"}], "response_a": "x", "response_b": "y",
            "chosen": "a"}
    pref = _write(tmp_path / "pref.jsonl", [pair])
    with pytest.raises(UsageError, match="mix") as err:
        tokenize_files([sft_file, pref], tmp_path / "o", TokenizeConfig(encoder=ENC))
    assert f"(preference: {pref.name}; sft: {sft_file.name})" in str(err.value).replace(str(tmp_path) + "/", "")
    with pytest.raises(UsageError, match="--truncation"):
        tokenize_files([sft_file], tmp_path / "o", TokenizeConfig(encoder=ENC, truncation="left"))
    with pytest.raises(UsageError, match="--pack needs"):
        tokenize_files([sft_file], tmp_path / "o", TokenizeConfig(encoder=ENC, pack=True, max_seq_len=0))



def test_default_encoder_matches_the_template(tmp_path: Path) -> None:
    """The real path: bundled GPT-2, the plain template, same ids as ChatTemplate.encode."""
    import datasets

    from alignkit.bpe.loaders import load_tokenizer
    from alignkit.templates.chat import ChatTemplate

    rows = [_sft(i, 3) for i in range(20)]
    rows.append({"turns": [{"role": "user", "content": "say <|endoftext|>"},
                           {"role": "assistant", "content": "<|endoftext|> ok"}]})
    src = _write(tmp_path / "s.jsonl", rows)
    report = tokenize_files([src], tmp_path / "o", TokenizeConfig())
    assert report.stats.special_in_content == 1
    manifest = report.manifest
    assert manifest["template"]["name"] == "plain"  # type: ignore[index]
    assert manifest["tokenizer"]["n_vocab"] == 50257  # type: ignore[index]
    ds = datasets.load_from_disk(str(tmp_path / "o"))
    tmpl = ChatTemplate("plain", load_tokenizer("gpt2"))
    for i, row in enumerate(rows):
        ex = tmpl.encode(ChatExample.model_validate(row))
        assert ds[i]["input_ids"] == ex.input_ids and ds[i]["labels"] == ex.labels
    eot = 50256
    assert ds[20]["input_ids"].count(eot) == tmpl.encode(
        ChatExample.model_validate(_sft(0, 3))).input_ids.count(eot)  # content never becomes special


@pytest.mark.slow
def test_model_folder_brings_its_template(tmp_path: Path) -> None:
    """``--tokenizer DIR`` with a chat_template and no ``--template``: the folder's template."""
    from conftest import shared_path

    folder = shared_path("data", "tokenizers", "qwen3")
    src = _write(tmp_path / "s.jsonl", [_sft(1, 3)])
    report = tokenize_files([src], tmp_path / "o", TokenizeConfig(tokenizer=str(folder)))
    assert report.manifest["template"]["name"] == "qwen3"  # type: ignore[index]
    assert report.manifest["tokenizer"]["n_vocab"] == 151669  # type: ignore[index]
    assert report.manifest["columns"]["input_ids"] == "uint32"  # type: ignore[index]
    assert str(folder.parent) not in (tmp_path / "o" / "manifest.json").read_text()


def test_role_tally_matches_a_plain_count() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from alignkit.tally import NUM_ROLES, tally_roles

    @given(st.lists(st.tuples(st.integers(0, NUM_ROLES - 1), st.booleans()), max_size=50),
           st.integers(0, 50))
    def check(tokens: list[tuple[int, bool]], cut: int) -> None:
        roles = [r for r, _ in tokens]
        labels = [7 if t else IGNORE_INDEX for _, t in tokens][:cut]
        totals, trained = [0] * NUM_ROLES, [0] * NUM_ROLES
        tally_roles(roles, labels, totals, trained)
        assert totals == [roles.count(r) for r in range(NUM_ROLES)]
        assert trained == [sum(1 for i, (role, t) in enumerate(tokens) if role == r and t and i < cut)
                           for r in range(NUM_ROLES)]

    check()
    with pytest.raises(ValueError, match="role id 6"):
        tally_roles([6], [], [0] * NUM_ROLES, [0] * NUM_ROLES)


def test_special_in_content_is_counted_or_an_error(tmp_path: Path) -> None:
    spoof = {"turns": [{"role": "user", "content": "hi <|assistant|>"},
                       {"role": "assistant", "content": "ok"}]}
    src = _write(tmp_path / "s.jsonl", [_sft(0), spoof])
    rep = tokenize_files([src], tmp_path / "o", TokenizeConfig(encoder=ENC))
    assert rep.stats.special_in_content == 1 and rep.stats.written == 2
    with pytest.raises(InputError, match="special_in_content") as info:
        tokenize_files([src], tmp_path / "o", TokenizeConfig(encoder=ENC, special_in_content="error"))
    assert info.value.line == 2


def test_reading_errors_cross_process_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A line_too_long error found while reading reaches rejects.jsonl, with any num_proc."""
    import functools

    import alignkit.io.jsonl as jsonl

    import alignkit.io.whole_file as whole_file
    import alignkit.line_ranges as line_ranges

    monkeypatch.setattr(jsonl, "read_lines", functools.partial(jsonl.read_lines, max_line_bytes=300))
    monkeypatch.setattr(whole_file, "read_blocks", functools.partial(whole_file.read_blocks, max_line_bytes=300))
    monkeypatch.setattr(line_ranges, "WHOLE_FILE_LIMIT", 300)  # forked workers' own reads: streamed too
    rows: list[object] = [_sft(i) for i in range(600)]
    rows[400] = _sft(400, answer_len=500)
    src = _write(tmp_path / "s.jsonl", rows)
    cfg = TokenizeConfig(encoder=ENC, on_error="skip")
    for n in (1, 2):
        rep = tokenize_files([src], tmp_path / f"o{n}", cfg, num_proc=n)
        assert rep.stats.rejected == {"line_too_long": 1} and rep.stats.written == 599
        assert [(r["line"], r["reason"]) for r in rep.rejects] == [(401, "line_too_long")]
    assert _tree_hash(tmp_path / "o1") == _tree_hash(tmp_path / "o2")


def test_many_chunks_stay_in_order(sft_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """More chunks than the in-flight window: results still come back in input order."""
    from alignkit import chunk_results

    monkeypatch.setattr(chunk_results, "CHUNK_LINES", 7)
    cfg = TokenizeConfig(encoder=ENC, on_error="skip", format="jsonl")
    tokenize_files([sft_file], tmp_path / "a", cfg)
    tokenize_files([sft_file], tmp_path / "b", cfg, num_proc=2)
    assert _tree_hash(tmp_path / "a") == _tree_hash(tmp_path / "b")
    monkeypatch.setattr(chunk_results, "CHUNK_LINES", 1000)
    tokenize_files([sft_file], tmp_path / "c", cfg)
    assert _tree_hash(tmp_path / "a") == _tree_hash(tmp_path / "c")


@pytest.mark.parametrize("first", ["sft", "preference"])
def test_rejects_equal_the_readers_errors(tmp_path: Path, first: str) -> None:
    """Valid lines take the worker's one-type fast path; every other line gets the reader's exact error."""
    from alignkit.io.reader import iter_records

    pair = {"history": [{"role": "user", "content": "q"}], "response_a": "x", "response_b": "y",
            "chosen": "a"}
    odd: list[object] = [
        {"turns": [{"role": "bot", "content": "x"}]}, "not json", "", "[1, 2]", "  ",
        {"turns": _sft(1)["turns"], "history": []}, {"turns": _sft(2)["turns"], "extra": 1},
        {**pair, "turns": []}, {"response_a": "x"}, {"neither": 1}, {"turns": [{"role": "user"}]},
        {**pair, "chosen": "c"}, '{"turns": [{"role": "user", "content": "\\ud800"}]}',
    ]
    valid: list[object] = [_sft(0), _sft(3)] if first == "sft" else [pair, pair]
    src = _write(tmp_path / "mixed.jsonl", [valid[0], *odd, pair, _sft(5), valid[1]])
    cfg = TokenizeConfig(encoder=ENC, on_error="skip", max_seq_len=0)
    report = tokenize_files([src], tmp_path / "out", cfg)
    expected = [
        (r.line, str(e.loc), e.error_type, e.message)
        for r in iter_records(src) if not r.ok for e in r.errors[:1]
    ]
    got = [(r["line"], r["loc"], r["reason"], r["message"]) for r in report.rejects]
    assert got == expected and len(expected) >= len(odd)
    assert report.stats.written == sum(1 for r in iter_records(src) if r.ok) == 3


@pytest.mark.parametrize("num_proc", [1, 2])
def test_failed_arrow_run_closes_its_file_and_writes_nothing(tmp_path: Path, num_proc: int) -> None:
    """The Arrow file is written while results arrive; a bad record late in the input still
    leaves no folder, and no descriptor open."""
    import gc
    import os

    rows: list[object] = [_sft(i, answer_len=200) for i in range(6000)]
    rows[5500] = "not json"
    src = _write(tmp_path / "late.jsonl", rows)
    fds = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0
    with pytest.raises(InputError) as info:
        tokenize_files([src], tmp_path / "out", TokenizeConfig(encoder=ENC, max_seq_len=0), num_proc=num_proc)
    assert info.value.line == 5501
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.jsonl"]
    del info
    gc.collect()  # the traceback's frames hold the results read so far (mapped result files)
    if fds:
        assert len(os.listdir("/proc/self/fd")) == fds


def test_template_the_tokenizer_cannot_encode_writes_nothing(sft_file: Path, tmp_path: Path) -> None:
    """tokenize_files refuses ChatML on GPT-2 before reading a record, under either on_error."""
    from alignkit.errors import TemplateError

    for on_error in ("fail", "skip"):
        config = TokenizeConfig(tokenizer="gpt2", template="chatml", on_error=on_error)
        with pytest.raises(TemplateError, match="needs the special tokens"):
            tokenize_files([sft_file], tmp_path / "out", config)
        assert not (tmp_path / "out").exists()


def test_packed_examples_never_target_across_documents(tmp_path: Path) -> None:
    """--pack --mask all: every example's first label is -100 in a packed row (labels are not
    shifted; a trainer's shift would make the previous example predict it), and counted."""
    src = Path(__file__).resolve().parent.parent / "sample_data" / "sft.jsonl"
    if not src.is_file():
        pytest.skip("sample_data/sft.jsonl missing")
    config = TokenizeConfig(pack=True, mask="all", max_seq_len=1024, format="jsonl")
    tokenize_files([src], tmp_path / "out", config)
    rows = [json.loads(line) for line in (tmp_path / "out" / "data.jsonl").read_text().splitlines()]
    starts = [(row, k) for row in rows for k in row["cu_seqlens"][:-1]]
    assert len(starts) == 34 and all(row["labels"][k] == IGNORE_INDEX for row, k in starts)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["packing"]["first_labels_masked"] == 34  # everything trained: every first label
    assert all(any(t != IGNORE_INDEX for t in row["labels"][k + 1:]) for row, k in starts)
