"""The fast SFT chunk path (native buffers) against the general path: same rows, rejects, counts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _chunk_tokenizer import CONTENTS, save_small_tokenizer
from hypothesis import given, settings
from hypothesis import strategies as st

import alignkit.sft_chunk
from alignkit.sft_buffer import SftBuffer
from alignkit.sft_chunk import buffer_columns, sft_plan
from alignkit.worker import (
    Chunk,
    ChunkResult,
    TokenizeConfig,
    init_worker,
    process_chunk,
)


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_small_tokenizer(tmp_path_factory.mktemp("tok"))


_content = st.sampled_from(CONTENTS)


@st.composite
def _line(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.sampled_from(["", "not json", "[1]", '{"turns": []}', '{"history": []}',
                                     '{"turns": [{"role": "bot", "content": "x"}]}',
                                     '{"turns": [{"role": "user", "content": "\\ud800"},'
                                     ' {"role": "assistant", "content": "y"}]}']))
    turns: list[dict[str, object]] = []
    if draw(st.booleans()):
        turns.append({"role": "system", "content": draw(_content)})
    for _ in range(draw(st.integers(1, 3))):
        turns.append({"role": draw(st.sampled_from(["user", "tool"])), "content": draw(_content)})
        answer: dict[str, object] = {"role": "assistant", "content": draw(_content)}
        if draw(st.integers(0, 3)) == 0:
            answer["train"] = draw(st.booleans())
        if draw(st.integers(0, 3)) == 0:
            answer["reasoning"] = draw(_content)
        turns.append(answer)
    record: dict[str, object] = {"turns": turns}
    if kind == 1:
        record["metadata"] = {"score": 1.5}  # valid, but the pydantic path
    if kind == 2:
        record["id"] = 7  # invalid
    return json.dumps(record, ensure_ascii=draw(st.booleans()))


def _run(chunk: Chunk, config: TokenizeConfig, fast: bool) -> ChunkResult:
    init_worker(config)
    with pytest.MonkeyPatch.context() as m:
        if not fast:
            m.setattr(alignkit.sft_chunk, "sft_plan", lambda encoder, kind: None)
        return process_chunk(chunk)


def _same(a: ChunkResult, b: ChunkResult) -> None:
    assert a.stats == b.stats
    assert a.rejects == b.rejects
    assert len(a.columns) == len(b.columns)
    for (va, la), (vb, lb) in zip(a.columns, b.columns):
        assert va.dtype == vb.dtype and la.dtype == lb.dtype
        assert np.array_equal(va, vb) and np.array_equal(la, lb)


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(_line(), min_size=1, max_size=8), template=st.sampled_from(
    ["qwen3", "chatml", "llama3", "plain", "alpaca"]), mask=st.sampled_from(["assistant", "last", "all"]),
    max_seq_len=st.sampled_from([0, 6, 25, 60]), truncation=st.sampled_from(["drop", "truncate", "error"]),
    special=st.sampled_from(["count", "error"]), skip_blank=st.booleans())
def test_fast_path_equals_the_general_path(
    tokenizer_file: Path, lines: list[str], template: str, mask: str,
    max_seq_len: int, truncation: str, special: str, skip_blank: bool,
) -> None:
    config = TokenizeConfig(tokenizer=str(tokenizer_file), template=template, mask=mask,
                            max_seq_len=max_seq_len, truncation=truncation, special_in_content=special,
                            skip_blank=skip_blank, on_error="skip")
    assert sft_plan(init_worker(config), "sft") is not None
    chunk = Chunk("in.jsonl", "sft", 1, [(k + 1, line.encode()) for k, line in enumerate(lines)])
    _same(_run(chunk, config, True), _run(chunk, config, False))


def test_the_fast_path_is_not_taken_for_custom_encoders_or_preference() -> None:
    config = TokenizeConfig(encoder="_byte_encoder:make")
    assert sft_plan(init_worker(config), "sft") is None
    assert sft_plan(init_worker(TokenizeConfig()), "preference") is None
    assert sft_plan(init_worker(TokenizeConfig()), None) is None


def test_empty_buffer_gives_empty_typed_columns() -> None:
    buf = SftBuffer(init_worker(TokenizeConfig(template="plain")).template.encoder)  # type: ignore[attr-defined]
    cols = buffer_columns(buf, 70_000)
    assert [(str(v.dtype), len(v), len(n)) for v, n in cols] == [("uint32", 0, 0), ("int32", 0, 0),
                                                                   ("uint8", 0, 0)]


def test_whole_runs_are_byte_identical_to_the_general_path(tokenizer_file: Path, tmp_path: Path) -> None:
    from alignkit.pipeline import tokenize_files

    lines = [json.dumps({"turns": [{"role": "user", "content": f"q{i} " + "caf\u00e9 " * (i % 4)},
                                   {"role": "assistant", "content": "ab " * (i % 9) + "ok" + "<|im_end|>" * (i % 2)}]})
             for i in range(300)] + ["bad", ""]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    config = TokenizeConfig(tokenizer=str(tokenizer_file), template="qwen3", max_seq_len=40, on_error="skip")

    def tree(out: Path) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(out.iterdir())}

    fast1 = tokenize_files([src], tmp_path / "f1", config)
    tokenize_files([src], tmp_path / "f2", config, num_proc=2)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(alignkit.sft_chunk, "sft_plan", lambda encoder, kind: None)
        tokenize_files([src], tmp_path / "g1", config)
    assert fast1.stats.written > 100 and fast1.stats.truncated > 0 and fast1.stats.special_in_content > 0
    assert tree(tmp_path / "f1") == tree(tmp_path / "g1") == tree(tmp_path / "f2")


def test_valid_sft_files_never_import_pydantic_or_jinja(tmp_path: Path) -> None:
    """Start-up matters for whole runs: pydantic (~0.15 s) is only for lines that need it, and
    the progress bar's tqdm only for a terminal (stderr is a pipe here)."""
    import subprocess
    import sys

    sample = Path(__file__).resolve().parents[1] / "sample_data" / "sft.jsonl"
    code = (
        "import sys\n"
        "from alignkit.pipeline import tokenize_files\n"
        "from alignkit.worker import TokenizeConfig\n"
        f"report = tokenize_files([{str(sample)!r}], {str(tmp_path / 'o')!r}, TokenizeConfig(),"
        " progress=True)\n"
        "assert report.stats.written == report.stats.records_in > 0, report.stats\n"
        "print(sorted(m for m in ('pydantic', 'jinja2', 'alignkit.records', 'tqdm') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(sample.read_text() + '{"turns": [{"role": "bot", "content": "x"}]}\n')
    code = code.replace(repr(str(sample)), repr(str(bad))).replace(
        "assert report.stats.written == report.stats.records_in > 0, report.stats\n", "")
    code = code.replace("TokenizeConfig()", "TokenizeConfig(on_error='skip')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pydantic" in out.stdout  # the bad line needs pydantic's exact error
