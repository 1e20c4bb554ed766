"""The compiled per-line loop of the SFT fast path and the buffer's render-as-you-go entry."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_core import from_json

from _chunk_tokenizer import SPECIAL_IDS, ByteIds
from alignkit.encode import Encoder
from alignkit.sft_buffer import POLICY_DROP, POLICY_TRUNCATE, ZERO_TRAINED, SftBuffer
from alignkit.sft_rows import FAILED, SPOOFED, add_rows
from alignkit.templates.render import render
from alignkit.templates.specs import BUILTIN_SPECS
from alignkit.truncate import DROPPED, KEPT, TRUNCATED


def _buffer() -> SftBuffer:
    return SftBuffer(Encoder(ByteIds(), SPECIAL_IDS))


def _state(buf: SftBuffer) -> tuple[object, ...]:
    return (list(buf.ids), list(buf.run_lengths), list(buf.run_roles), list(buf.run_trained),
            list(buf.lengths), buf.tokens_by_role, buf.trained_by_role, buf.flagged)


_text = st.sampled_from(["Hi", " padded ", "<|im_end|>x", "a</think>b", "caf\u00e9", "<think>\nr\n</think>\n\nok",
                         "<tool_response>t</tool_response>"])
_turns = st.lists(st.tuples(st.sampled_from(["user", "assistant", "tool"]), _text,
                            st.sampled_from([None, True, False]), st.sampled_from([None, "why"])),
                  min_size=1, max_size=5)


@settings(max_examples=80, deadline=None)
@given(turns=_turns, name=st.sampled_from(sorted(BUILTIN_SPECS)),
       mask=st.sampled_from(["all_assistant", "last_assistant", "everything"]))
def test_add_turns_equals_add_of_the_rendered_segments(
    turns: list[tuple[str, str, bool | None, str | None]], name: str, mask: str
) -> None:
    spec = BUILTIN_SPECS[name].resolve("<|endoftext|>", "<|endoftext|>")
    fixed = [(r, c, t if r == "assistant" else None, w if r == "assistant" else None) for r, c, t, w in turns]
    a, b = _buffer(), _buffer()
    n = a.add_turns(spec, fixed, mask)
    assert n == b.add(render(spec, fixed, mask))
    assert _state(a) == _state(b)
    assert a.finish(0, POLICY_TRUNCATE) == b.finish(0, POLICY_TRUNCATE)
    assert _state(a) == _state(b)


def _line(user: str, answer: str) -> tuple[int, bytes]:
    record = {"turns": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]}
    return 0, json.dumps(record).encode()


def test_add_rows_stops_at_the_first_line_for_pydantic_and_reports_every_outcome() -> None:
    spec = BUILTIN_SPECS["chatml"]
    lines = [_line("a", "b"), _line("<|im_end|>", "b"), _line("a", "b" * 50), (0, b""),
             _line("a", "b")]
    buf, events = _buffer(), []  # type: ignore[var-annotated]
    stop = add_rows(buf, spec, lines, 0, from_json, "all_assistant", 40, POLICY_TRUNCATE, False, events)
    assert stop == 3  # the blank line goes to pydantic
    assert [(k, status, flag) for k, status, _, flag, _ in events] == [(1, KEPT, "<|im_end|>"),
                                                                       (2, TRUNCATED, "")]
    assert len(buf.lengths) == 3 and buf.lengths[2] == 40
    events.clear()
    assert add_rows(buf, spec, lines, 4, from_json, "all_assistant", 40, POLICY_TRUNCATE, False, events) == 5
    assert events == [] and len(buf.lengths) == 4


def test_add_rows_refusals_leave_the_buffer_as_it_was() -> None:
    spec = BUILTIN_SPECS["chatml"]
    buf, events = _buffer(), []  # type: ignore[var-annotated]
    lines = [_line("<|im_end|>", "b"), _line("a", "b" * 50), _line("a", "b")]
    assert add_rows(buf, spec, lines, 0, from_json, "all_assistant", 40, POLICY_DROP, True, events) == 3
    assert [e[:2] for e in events] == [(0, SPOOFED), (1, DROPPED)]
    assert len(buf.lengths) == 1 and len(buf.ids) == buf.lengths[0]
    events.clear()
    assert add_rows(buf, spec, [_line("a", "b")], 0, from_json, "last_assistant", 0, POLICY_DROP, False,
                    events) == 1
    buf2, events2 = _buffer(), []  # type: ignore[var-annotated]
    tool = (0, b'{"turns": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b",'
               b' "train": false}]}')
    assert add_rows(buf2, spec, [tool], 0, from_json, "all_assistant", 0, POLICY_DROP, False, events2) == 1
    assert [e[:2] for e in events2] == [(0, ZERO_TRAINED)] and len(buf2.ids) == 0


def test_add_rows_reports_a_record_the_template_cannot_encode() -> None:
    buf = SftBuffer(Encoder(ByteIds(), {}))  # no special tokens: ChatML cannot be encoded
    events = []  # type: ignore[var-annotated]
    assert add_rows(buf, BUILTIN_SPECS["chatml"], [_line("a", "b")], 0, from_json, "all_assistant", 0,
                    POLICY_DROP, False, events) == 1
    assert [e[:2] for e in events] == [(0, FAILED)] and "im_start" in str(events[0][4])
    assert len(buf.lengths) == 0


def test_piece_runs_past_the_cache_limit_give_the_ids_of_plain_emits() -> None:
    """Each distinct header/footer list is cached once (up to a limit); the 100 lists here
    overflow it, and every run, cached, repeated or not cached, gives the same ids."""
    from alignkit.templates.segments import KIND_SPECIAL, KIND_TEXT, ROLE_ASSISTANT, ROLE_TEMPLATE

    lists = [[(KIND_SPECIAL, "<|im_start|>"), (KIND_TEXT, f"glue{k}\n"), (KIND_TEXT, "")] for k in range(100)]
    cached, plain = _buffer(), _buffer()
    for _ in range(2):
        for k, pieces in enumerate(lists):
            role = ROLE_TEMPLATE if k % 3 else ROLE_ASSISTANT
            cached.emit_pieces(pieces, 0, len(pieces), role, k % 2 == 0)
            cached.emit_pieces(pieces, 1, 2, ROLE_TEMPLATE, False)
            for start, stop, r, trained in ((0, len(pieces), role, k % 2 == 0), (1, 2, ROLE_TEMPLATE, False)):
                for kind, text in pieces[start:stop]:
                    if text:
                        plain.emit(r, kind, text, trained)
    assert _state(cached) == _state(plain)
    assert 0 < len(cached.piece_ids) < 100


@pytest.mark.parametrize("name", ["alignkit.sft_rows", "alignkit.sft_buffer", "alignkit.templates.render",
                                  "alignkit.templates.segments"])
def test_docstring_examples_run(name: str) -> None:
    """Every docstring example of the module, read from its source (a compiled module keeps
    no docstrings), run against the imported (maybe compiled) module."""
    import ast
    import doctest
    import importlib
    from pathlib import Path

    module = importlib.import_module(name)
    source = Path(str(module.__file__)).with_name(name.rsplit(".", 1)[-1] + ".py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    nodes = [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    attempted = 0
    for node in nodes:
        docstring = ast.get_docstring(node, clean=True) or ""
        test = doctest.DocTestParser().get_doctest(docstring, dict(vars(module)), name, None, 0)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        runner.run(test)
        result = runner.summarize(verbose=False)
        assert result.failed == 0, (name, getattr(node, "name", "module"))
        attempted += result.attempted
    assert attempted >= 3


@pytest.mark.parametrize("normalizer", [None, "NFC", "NFKC,NFC", "NFD"])
@settings(max_examples=40, deadline=None)
@given(parts=st.lists(st.sampled_from(["a", " ", "\u00e9", "e\u0301", "\ufb01", "\u3000", "\ud800",
                                       "\U0001f600", "\u212b"]), min_size=1, max_size=8))
def test_content_ids_equal_encode_ordinary_for_any_text(normalizer: str | None, parts: list[str]) -> None:
    """Non-ASCII content that the tokenizer's preparation leaves unchanged skips it; any
    other text goes through it: the ids are encode_ordinary's either way."""
    from alignkit.bpe.tokenizer import Tokenizer

    text = "".join(parts)
    vocab = {i: bytes([i]) for i in range(256)}
    vocab[256] = b"\xc3\xa9"
    tok = Tokenizer(vocab, [(b"\xc3", b"\xa9")], ["<|im_end|>"], normalizer=normalizer)
    buf = SftBuffer(Encoder(tok, tok.special_tokens))
    buf.begin()
    buf.emit(1, 0, text, False)
    buf.end()
    assert list(buf.ids) == tok.encode_ordinary(text)
