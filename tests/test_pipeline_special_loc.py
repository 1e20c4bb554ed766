"""A ``special_in_content`` reject (``special_in_content="error"``) names the field of the first
turn or response whose text holds the special-token string, as every other reject names its
field: on the SFT and preference fast paths, on their pydantic path (nested metadata), on the
general path, and with 1 and 2 processes."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from _chunk_tokenizer import save_small_tokenizer

import alignkit.pref_chunk
import alignkit.sft_chunk
from alignkit import chunk_results
from alignkit.cli import main
from alignkit.errors import InputError
from alignkit.pipeline import tokenize_files
from alignkit.worker import (
    Chunk,
    ChunkResult,
    TokenizeConfig,
    init_worker,
    process_chunk,
    special_field,
)

ENC = "_byte_encoder:make"
HAS_FORK = "fork" in multiprocessing.get_all_start_methods()
NESTED = {"metadata": {"tags": [{"a": 1}]}}  # valid, but takes the pydantic path


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_small_tokenizer(tmp_path_factory.mktemp("tok"))


def _turn(role: str, content: str, **extra: object) -> dict[str, object]:
    return {"role": role, "content": content, **extra}


#: SFT records with the special-token text in one field, and that field.
SFT = [
    ({"turns": [_turn("user", "q"), _turn("assistant", "a")]}, None),
    ({"turns": [_turn("user", "q"), _turn("assistant", "a"), _turn("user", "x <|im_end|> y"),
                _turn("assistant", "b")]}, "turns.2.content"),
    ({"turns": [_turn("system", "s"), _turn("user", "q"), _turn("assistant", "a", reasoning="r<|im_start|>")]},
     "turns.2.reasoning"),
    ({"turns": [_turn("user", "q"), _turn("assistant", "<|im_end|>", reasoning="fine")]}, "turns.1.content"),
    ({"turns": [_turn("user", "a <|im_end|>"), _turn("assistant", "b <|im_end|>")]}, "turns.0.content"),
]
#: Preference records likewise (the field is named by the record, whichever side is chosen).
PAIRS = [
    ({"history": [_turn("user", "q")], "response_a": "a", "response_b": "b", "chosen": "a"}, None),
    ({"history": [_turn("user", "q"), _turn("assistant", "a"), _turn("user", "q2 <|im_end|>")],
      "response_a": "a", "response_b": "b", "chosen": "a"}, "history.2.content"),
    ({"history": [_turn("user", "q")], "response_a": "a", "response_b": "b<|im_start|>", "chosen": "a"},
     "response_b"),
    ({"history": [_turn("user", "q")], "response_a": "a<|im_end|>", "response_b": "b", "chosen": "b"},
     "response_a"),
    ({"history": [_turn("system", "s <|im_start|>"), _turn("user", "q <|im_start|>")],
      "response_a": "a", "response_b": "b", "chosen": "b"}, "history.0.content"),
]


def _lines(cases: list[tuple[dict[str, object], str | None]]) -> list[tuple[dict[str, object], str | None]]:
    """The cases, then each again with nested metadata (the pydantic path)."""
    return [*cases, *(({**record, **NESTED}, loc) for record, loc in cases)]


def _chunk(kind: str, cases: list[tuple[dict[str, object], str | None]]) -> Chunk:
    return Chunk("in.jsonl", kind, 1, [(k + 1, json.dumps(r).encode()) for k, (r, _) in enumerate(cases)])


def _run(chunk: Chunk, config: TokenizeConfig, fast: bool) -> ChunkResult:
    init_worker(config)
    with pytest.MonkeyPatch.context() as m:
        if not fast:  # the general path of alignkit.worker, with the same tokenizer and template
            m.setattr(alignkit.sft_chunk, "sft_plan", lambda encoder, kind: None)
            m.setattr(alignkit.pref_chunk, "pref_plan", lambda encoder, kind: None)
        return process_chunk(chunk)


@pytest.mark.parametrize(("kind", "cases"), [("sft", SFT), ("preference", PAIRS)])
@pytest.mark.parametrize("template", ["qwen3", "chatml"])
def test_the_reject_names_the_field(tokenizer_file: Path, kind: str, cases: list[tuple[dict[str, object], str | None]],
                                    template: str) -> None:
    config = TokenizeConfig(tokenizer=str(tokenizer_file), template=template, special_in_content="error",
                            on_error="skip", kind=kind, max_seq_len=0)
    all_cases = _lines(cases)
    chunk = _chunk(kind, all_cases)
    fast = _run(chunk, config, True)
    general = _run(chunk, config, False)
    assert fast.rejects == general.rejects and fast.stats == general.stats
    expected = [(k + 1, loc) for k, (_, loc) in enumerate(all_cases) if loc is not None]
    if template == "chatml":  # chatml renders no reasoning: that text is never encoded
        expected = [(line, loc) for line, loc in expected if not loc.endswith("reasoning")]
    assert [(r["line"], r["loc"]) for r in fast.rejects] == expected
    assert {r["reason"] for r in fast.rejects} == {"special_in_content"}


def test_general_path_of_a_custom_encoder_names_the_field(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    rows = [{"turns": [_turn("user", "q"), _turn("assistant", "a")]},
            {"turns": [_turn("user", "q"), _turn("assistant", "a"), _turn("user", "x<|"), _turn("assistant", "b")]}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InputError) as info:
        tokenize_files([src], tmp_path / "o", TokenizeConfig(encoder=ENC, special_in_content="error"))
    assert (info.value.line, info.value.loc, info.value.error_type) == (2, "turns.2.content", "special_in_content")


def test_special_field_of_records_and_lines() -> None:
    from alignkit.records import ChatExample, PreferenceExample

    record, loc = SFT[2]
    assert special_field(ChatExample.model_validate(record), "<|im_start|>") == loc
    assert special_field(json.dumps(record).encode(), "<|im_start|>") == loc
    pair, loc = PAIRS[2]
    assert special_field(PreferenceExample.model_validate(pair), "<|im_start|>") == loc == "response_b"
    assert special_field(json.dumps(pair).encode(), "<|im_start|>") == loc
    assert special_field(json.dumps(pair).encode(), "<|eot_id|>") == ""  # not there: no field
    assert special_field(b"not json", "<|im_end|>") == ""


def _file(path: Path, cases: list[tuple[dict[str, object], str | None]], repeat: int) -> list[tuple[int, str]]:
    """``repeat`` copies of the cases (and their pydantic-path twins) in one file; the expected
    (line, field) of each reject."""
    rows = _lines(cases) * repeat
    path.write_text("".join(json.dumps(r) + "\n" for r, _ in rows))
    return [(k + 1, loc) for k, (_, loc) in enumerate(rows) if loc is not None]


@pytest.mark.skipif(not HAS_FORK, reason="no fork start method here")
@pytest.mark.parametrize(("kind", "cases"), [("sft", SFT), ("preference", PAIRS)])
def test_fields_are_the_same_with_two_processes(tokenizer_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                kind: str, cases: list[tuple[dict[str, object], str | None]]) -> None:
    src = tmp_path / "in.jsonl"
    expected = _file(src, cases, 40)
    config = TokenizeConfig(tokenizer=str(tokenizer_file), template="qwen3", special_in_content="error",
                            on_error="skip", format="jsonl", max_seq_len=0)
    one = tokenize_files([src], tmp_path / "one", config)
    monkeypatch.setattr(chunk_results, "_RANGES_PER_PROC", 5)  # small ranges, cut inside the cases
    monkeypatch.setattr(chunk_results, "CHUNK_LINES", 7)
    two = tokenize_files([src], tmp_path / "two", config, num_proc=2)
    assert [(r["line"], r["loc"]) for r in one.rejects] == expected
    assert (tmp_path / "one" / "rejects.jsonl").read_bytes() == (tmp_path / "two" / "rejects.jsonl").read_bytes()
    assert one.stats == two.stats and one.manifest == two.manifest


@pytest.mark.parametrize("num_proc", ["1", "2"])
def test_stderr_names_the_field(tokenizer_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                num_proc: str) -> None:
    src = tmp_path / "in.jsonl"
    _file(src, PAIRS, 1)
    args = ["tokenize", str(src), "-o", str(tmp_path / "o"), "--tokenizer", str(tokenizer_file), "--template",
            "qwen3", "--special-in-content", "error", "--num-proc", num_proc]
    assert main(args) == 1  # --on-error fail: the first one
    err = capsys.readouterr().err
    assert "in.jsonl:2: history.2.content: content contains the special-token string '<|im_end|>'" in err
    assert main([*args, "--on-error", "skip"]) == 0
    err = capsys.readouterr().err
    assert "in.jsonl:3: rejected: response_b: content contains the special-token string '<|im_start|>'" in err
    assert "in.jsonl:10: rejected: history.0.content: content contains" in err  # the pydantic path
