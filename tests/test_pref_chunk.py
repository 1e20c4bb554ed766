"""The fast preference chunk path (native buffers) against the general path: same rows,
rejects, counts and dtypes, on generated pairs (invalid ones included) and on real data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _chunk_tokenizer import CONTENTS, save_small_tokenizer
from hypothesis import given, settings
from hypothesis import strategies as st

import alignkit.pref_chunk
from alignkit.pref_buffer import PairBuffer
from alignkit.pref_chunk import pair_columns, pref_plan, process_pref_chunk
from alignkit.worker import (
    PAIR_COLUMNS,
    Chunk,
    ChunkResult,
    TokenizeConfig,
    init_worker,
    process_chunk,
)


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_small_tokenizer(tmp_path_factory.mktemp("tok"))


_content = st.sampled_from([*CONTENTS, "<|eot_id|> <|start_header_id|>"])


@st.composite
def _line(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 11))
    if kind == 0:
        return draw(st.sampled_from([
            "", "not json", "[1]", '{"history": []}', '{"turns": [{"role": "user", "content": "x"}]}',
            '{"history": [{"role": "user", "content": "\\ud800"}], "response_a": "a", "response_b": "b",'
            ' "chosen": "a"}',
            '{"history": [{"role": "user", "content": "q"}], "response_a": "\\udc00x", "response_b": "b",'
            ' "chosen": "b"}',
        ]))
    history: list[dict[str, object]] = []
    if draw(st.booleans()):
        history.append({"role": "system", "content": draw(_content)})
    for _ in range(draw(st.integers(0, 2))):
        history.append({"role": draw(st.sampled_from(["user", "tool"])), "content": draw(_content)})
        answer: dict[str, object] = {"role": "assistant", "content": draw(_content)}
        if draw(st.integers(0, 3)) == 0:
            answer["train"] = draw(st.booleans())
        if draw(st.integers(0, 3)) == 0:
            answer["reasoning"] = draw(_content)
        history.append(answer)
    history.append({"role": "user", "content": draw(_content)})
    a, b = draw(_content), draw(_content)
    record: dict[str, object] = {"history": history, "response_a": a, "response_b": b,
                                 "chosen": draw(st.sampled_from(["a", "b"]))}
    if draw(st.integers(0, 3)) == 0:
        record["score_a"], record["score_b"] = 1.5, 2
    if kind == 1:
        record["metadata"] = {"nested": [1]}  # valid, but the pydantic path
    if kind == 2:
        record["id"] = 7  # invalid
    if kind == 3:
        record["response_b"] = a  # identical: invalid
    return json.dumps(record, ensure_ascii=draw(st.booleans()))


def _run(chunk: Chunk, config: TokenizeConfig, fast: bool) -> ChunkResult:
    encoder = init_worker(config)
    if fast:
        plan = pref_plan(encoder, chunk.kind)
        assert plan is not None
        return process_pref_chunk(chunk, config, encoder, plan)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(alignkit.pref_chunk, "pref_plan", lambda encoder, kind: None)
        return process_chunk(chunk)


def _same(a: ChunkResult, b: ChunkResult) -> None:
    assert a.stats == b.stats
    assert a.rejects == b.rejects
    assert len(a.columns) == len(b.columns) == len(PAIR_COLUMNS)
    for (va, la), (vb, lb) in zip(a.columns, b.columns):
        assert va.dtype == vb.dtype and la.dtype == lb.dtype
        assert np.array_equal(va, vb) and np.array_equal(la, lb)


@settings(max_examples=80, deadline=None)
@given(lines=st.lists(_line(), min_size=1, max_size=8), template=st.sampled_from(
    ["qwen3", "chatml", "llama3", "plain", "alpaca"]), mask=st.sampled_from(["assistant", "last", "all"]),
    max_seq_len=st.sampled_from([0, 6, 12, 25, 60]), truncation=st.sampled_from(["drop", "truncate", "error"]),
    special=st.sampled_from(["count", "error"]), skip_blank=st.booleans())
def test_fast_path_equals_the_general_path(
    tokenizer_file: Path, lines: list[str], template: str, mask: str,
    max_seq_len: int, truncation: str, special: str, skip_blank: bool,
) -> None:
    config = TokenizeConfig(tokenizer=str(tokenizer_file), template=template, mask=mask,
                            max_seq_len=max_seq_len, truncation=truncation, special_in_content=special,
                            skip_blank=skip_blank, on_error="skip", kind="preference")
    chunk = Chunk("in.jsonl", "preference", 1, [(k + 1, line.encode()) for k, line in enumerate(lines)])
    _same(_run(chunk, config, True), _run(chunk, config, False))


def _pairs(n: int, spoof: int = 2) -> list[str]:
    out = []
    for i in range(n):
        history = [{"role": "user", "content": f"q{i} " + "caf\u00e9 " * (i % 4)}]
        if i % 3 == 0:
            history = [{"role": "system", "content": "Be brief" + "<|im_start|>" * (i % 2)},
                       {"role": "user", "content": "first"}, {"role": "assistant", "content": "ab " * (i % 5) + "x"},
                       *history]
        out.append(json.dumps({"history": history, "response_a": "ab " * (i % 9) + "ok",
                               "response_b": "no" + "<|im_end|>" * (i % spoof), "chosen": "ab"[i % 2]}))
    return out


@pytest.mark.parametrize("max_seq_len, truncation", [(0, "truncate"), (60, "truncate"), (60, "drop"),
                                                     (60, "error"), (30, "truncate")])
def test_truncation_policies_keep_the_prompt_identical(tokenizer_file: Path, max_seq_len: int,
                                                       truncation: str) -> None:
    config = TokenizeConfig(tokenizer=str(tokenizer_file), template="qwen3", max_seq_len=max_seq_len,
                            truncation=truncation, on_error="skip", kind="preference")
    chunk = Chunk("in.jsonl", "preference", 1, [(k + 1, s.encode()) for k, s in enumerate(_pairs(60))])
    fast = _run(chunk, config, True)
    _same(fast, _run(chunk, config, False))
    counted = fast.stats.truncated + sum(fast.stats.dropped.values()) + sum(fast.stats.rejected.values())
    assert (counted > 0) == (max_seq_len > 0)
    assert fast.stats.special_in_content > 0
    (p_ids, p_len), (c_ids, c_len) = fast.columns[0], fast.columns[2]
    assert fast.stats.written > 0
    if max_seq_len:
        assert int((np.asarray(p_len) + np.asarray(c_len)).max(initial=0)) <= max_seq_len


def test_a_zero_trained_response_drops_the_pair(tokenizer_file: Path) -> None:
    """Qwen3's completion starts with its (untrained) think block: a budget that leaves only
    that block trains nothing, and the pair is counted as dropped, on both paths."""
    line = json.dumps({"history": [{"role": "user", "content": "q"}], "response_a": "ab ab ab",
                       "response_b": "no", "chosen": "a"}).encode()
    zero = []
    for max_seq_len in range(8, 40):
        config = TokenizeConfig(tokenizer=str(tokenizer_file), template="qwen3", max_seq_len=max_seq_len,
                                on_error="skip", kind="preference")
        fast = _run(Chunk("in.jsonl", "preference", 1, [(1, line)]), config, True)
        _same(fast, _run(Chunk("in.jsonl", "preference", 1, [(1, line)]), config, False))
        if fast.stats.zero_trained:
            assert fast.stats.dropped == {"zero_trained": 1} and fast.rejects[0]["reason"] == "zero_trained"
            zero.append(max_seq_len)
    assert zero


def test_special_in_content_error_rejects_history_or_either_response(tokenizer_file: Path) -> None:
    config = TokenizeConfig(tokenizer=str(tokenizer_file), template="chatml", special_in_content="error",
                            on_error="skip", kind="preference")
    base = {"history": [{"role": "user", "content": "q"}], "response_a": "a", "response_b": "b", "chosen": "a"}
    lines = [base, {**base, "history": [{"role": "user", "content": "q<think>"}]},
             {**base, "response_a": "a<|im_end|>"}, {**base, "response_b": "</think>b", "chosen": "b"}]
    chunk = Chunk("in.jsonl", "preference", 1, [(k + 1, json.dumps(v).encode()) for k, v in enumerate(lines)])
    fast = _run(chunk, config, True)
    _same(fast, _run(chunk, config, False))
    assert fast.stats.written == 1 and fast.stats.rejected == {"special_in_content": 3}
    assert [str(r["message"]).split("'")[1] for r in fast.rejects] == ["<think>", "<|im_end|>", "</think>"]


def test_the_fast_path_is_not_taken_for_custom_encoders_or_sft() -> None:
    assert pref_plan(init_worker(TokenizeConfig(encoder="_byte_encoder:make")), "preference") is None
    assert pref_plan(init_worker(TokenizeConfig()), "sft") is None
    assert pref_plan(init_worker(TokenizeConfig()), None) is None
    assert pref_plan(init_worker(TokenizeConfig()), "preference") is not None


def test_empty_buffer_gives_empty_typed_columns() -> None:
    buf = PairBuffer(init_worker(TokenizeConfig(template="plain")).template.encoder)  # type: ignore[attr-defined]
    cols = pair_columns(buf, 70_000)
    assert [str(v.dtype) for v, _ in cols] == ["uint32", "uint8", "uint32", "int32", "uint8", "uint32",
                                               "int32", "uint8"]
    assert all(len(v) == len(n) == 0 for v, n in cols)


def _tree(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_whole_runs_are_byte_identical_to_the_general_path(tokenizer_file: Path, tmp_path: Path) -> None:
    from alignkit.pipeline import tokenize_files

    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(_pairs(300) + ["bad", ""]) + "\n")
    config = TokenizeConfig(tokenizer=str(tokenizer_file), template="qwen3", max_seq_len=40, on_error="skip")
    fast1 = tokenize_files([src], tmp_path / "f1", config)
    tokenize_files([src], tmp_path / "f2", config, num_proc=2)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(alignkit.pref_chunk, "pref_plan", lambda encoder, kind: None)
        tokenize_files([src], tmp_path / "g1", config)
    assert fast1.stats.written > 100 and fast1.stats.truncated > 0 and fast1.stats.special_in_content > 0
    assert _tree(tmp_path / "f1") == _tree(tmp_path / "g1") == _tree(tmp_path / "f2")


@pytest.mark.slow
def test_real_hh_rlhf_pairs_with_qwen3(tmp_path: Path) -> None:
    """Every HH-RLHF subset's first 150 test rows, converted by alignkit, Qwen3's tokenizer
    and template: the fast and general runs write byte-identical folders."""
    from conftest import hh_rlhf_pairs, shared_path

    from alignkit.pipeline import tokenize_files

    qwen = shared_path("data", "tokenizers", "qwen3")
    pairs = hh_rlhf_pairs(tmp_path, 150)
    for max_seq_len in (0, 256):
        config = TokenizeConfig(tokenizer=str(qwen), template="qwen3", max_seq_len=max_seq_len, on_error="skip")
        fast = tokenize_files([pairs], tmp_path / f"f{max_seq_len}", config)
        with pytest.MonkeyPatch.context() as m:
            m.setattr(alignkit.pref_chunk, "pref_plan", lambda encoder, kind: None)
            tokenize_files([pairs], tmp_path / f"g{max_seq_len}", config)
        assert fast.stats.written > 400
        assert (fast.stats.truncated > 0 and fast.stats.zero_trained > 0) == (max_seq_len > 0)
        assert _tree(tmp_path / f"f{max_seq_len}") == _tree(tmp_path / f"g{max_seq_len}")


@pytest.mark.parametrize("name", ["pref_buffer", "pref_rows"])
def test_the_module_docstring_example_runs(name: str) -> None:
    """The module docstring's worked example, read from the source beside the module (a
    compiled module has no ``__doc__``), run against the imported (maybe compiled) module."""
    import ast
    import doctest
    import importlib

    module = importlib.import_module(f"alignkit.{name}")
    source = Path(str(module.__file__)).with_name(f"{name}.py").read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source)) or ""
    test = doctest.DocTestParser().get_doctest(docstring, dict(vars(module)), name, None, 0)
    runner = doctest.DocTestRunner()
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 5 and result.failed == 0


@pytest.mark.skipif(alignkit.COMPILED, reason="patches the renderer the buffer module calls")
def test_a_response_that_changes_the_prompt_gets_the_templates_own_error(tokenizer_file: Path) -> None:
    """No built-in template renders the prompt differently once a response is added; a
    renderer that does (for the response "DIFF") gives the same rejection on both paths."""
    import alignkit.pref_buffer
    import alignkit.templates.chat
    from alignkit.templates.render import render as real
    from alignkit.templates.render import render_into as real_into
    from alignkit.templates.segments import KIND_TEXT, Segment, SegmentSink

    def odd(spec: object, turns: list[tuple[str, str, object, object]], *args: object) -> list[Segment]:
        out = real(spec, turns, *args)  # type: ignore[arg-type]
        if turns[-1][1] == "DIFF":
            out.insert(0, Segment(4, KIND_TEXT, "x", False))
        return out

    def odd_into(spec: object, turns: list[tuple[str, str, object, object]], sink: SegmentSink,
                 *args: object) -> None:  # the buffer renders full pairs into a sink
        if turns[-1][1] == "DIFF":
            sink.emit(4, KIND_TEXT, "x", False)
        real_into(spec, turns, sink, *args)  # type: ignore[arg-type]

    config = TokenizeConfig(tokenizer=str(tokenizer_file), template="chatml", on_error="skip", kind="preference")
    base = {"history": [{"role": "user", "content": "q"}], "response_a": "a", "response_b": "b", "chosen": "a"}
    lines = [base, {**base, "response_a": "DIFF"}, {**base, "response_b": "DIFF"}, base]
    chunk = Chunk("in.jsonl", "preference", 1, [(k + 1, json.dumps(v).encode()) for k, v in enumerate(lines)])
    with pytest.MonkeyPatch.context() as m:
        m.setattr(alignkit.templates.chat, "render", odd)
        m.setattr(alignkit.pref_buffer, "render", odd)
        m.setattr(alignkit.pref_buffer, "render_into", odd_into)
        fast = _run(chunk, config, True)
        _same(fast, _run(chunk, config, False))
    assert fast.stats.written == 2 and fast.stats.rejected == {"encode_error": 2}
    assert "renders the prompt differently" in str(fast.rejects[0]["message"])
