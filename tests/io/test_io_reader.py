"""Each class of bad line → an InputError with the exact line, field path and type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alignkit.errors import InputError, UsageError
from alignkit.io.reader import RecordParser, iter_records
from alignkit.records import ChatExample, PreferenceExample

USER = {"role": "user", "content": "What is 2 + 2?"}
ASSISTANT = {"role": "assistant", "content": "4"}
SFT_OK = json.dumps({"turns": [USER, ASSISTANT]}).encode()
PREF_OK = json.dumps({"history": [USER], "response_a": "4", "response_b": "5", "chosen": "a"}).encode()


def sft(**changes: object) -> bytes:
    doc: dict[str, object] = {"turns": [USER, ASSISTANT]}
    doc.update(changes)
    return json.dumps(doc).encode()


def pref(**changes: object) -> bytes:
    doc: dict[str, object] = {"history": [USER], "response_a": "4", "response_b": "5", "chosen": "a"}
    doc.update(changes)
    return json.dumps(doc).encode()


def run(tmp_path: Path, lines: list[bytes], kind: str = "auto", **kw: object) -> list[
        tuple[int, str, str]]:
    """(line, loc, type) of every error, with a valid line before and after the bad ones."""
    p = tmp_path / "data.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    out = []
    results = list(iter_records(p, kind, **kw))  # type: ignore[arg-type]
    for r in results:
        assert (r.record is None) == bool(r.errors)
        for e in r.errors:
            assert str(e).startswith(f"{p}:{e.line}: ")
            assert str(e).endswith(f" [{e.error_type}]")
            out.append((e.line, e.loc, e.error_type))
    return out


# (bad line, expected loc, expected type); each is placed on line 2 of an SFT file.
CASES = [
    (b'{"turns": [', "", "json_invalid"),
    (b'{"turns": [] x}', "", "json_invalid"),
    (b'{"turns": [{"role": "user", "content": "caf\xe9"}]}', "", "invalid_utf8"),
    (b'{"turns": [{"role": "user", "content": "\xc0\xaf"}]}', "", "invalid_utf8"),
    (b'{"turns": [{"role": "user", "content": "\xed\xa0\x80"}]}', "", "invalid_utf8"),
    (b'{"turns": [{"role": "user", "content": "\xe2\x82', "", "invalid_utf8"),
    (b'{"turns": [{"role": "user", "content": "\\ud800"}]}', "", "lone_surrogate"),
    (b'{"turns": [{"role": "user", "content": "\\udfff x"}]}', "", "lone_surrogate"),
    (b'{"turns": [{"role": "user", "content": "\\ud83d"}]}', "", "lone_surrogate"),
    (b'{"turns": [{"role": "user", "content": "\\ud83d\\ude00 \\x"}]}', "", "json_invalid"),
    (b'{"turns": [{"role": "user", "content": "a\x00b"}]}', "", "nul_byte"),
    (b'{"turns": [{"role": "user", "content": "a\tb"}]}', "", "control_character"),
    (b"[" * 100_000 + b"]" * 100_000, "", "nesting_too_deep"),
    (sft(metadata={"x": json.loads("[" * 300 + "]" * 300)}), "", "nesting_too_deep"),
    (b"", "", "blank_line"),
    (b"  \t ", "", "blank_line"),
    (b"[1, 2]", "", "not_an_object"),
    (b'"text"', "", "not_an_object"),
    (b"null", "", "not_an_object"),
    (b"42", "", "not_an_object"),
    (b"\xef\xbb\xbf" + SFT_OK, "", "misplaced_bom"),
    (sft(turns=[USER, {"role": "assistant", "content": 4}]), "turns.1.content", "string_type"),
    (sft(turns=[USER, {"role": "assistant"}]), "turns.1.content", "missing"),
    (sft(turns=[USER, {"role": "assistant", "content": "x", "name": "bob"}]), "turns.1.name",
     "extra_forbidden"),
    (sft(prompt="x"), "prompt", "extra_forbidden"),
    (sft(turns=[{"role": "human", "content": "x"}, ASSISTANT]), "turns.0.role", "literal_error"),
    (sft(turns=[{"role": "User", "content": "x"}, ASSISTANT]), "turns.0.role", "literal_error"),
    (sft(turns=[]), "turns", "too_short"),
    (sft(turns={"role": "user"}), "turns", "list_type"),
    (sft(turns=[USER, {"role": "assistant", "content": ""}]), "turns.1.content", "empty_content"),
    (sft(turns=[USER, ASSISTANT, USER, {"role": "assistant", "content": " \n"}]),
     "turns.3.content", "empty_content"),
    (sft(turns=[USER]), "turns", "no_assistant_turn"),
    (sft(turns=[USER, ASSISTANT, {"role": "system", "content": "x"}, ASSISTANT]), "turns.2.role",
     "system_not_first"),
    (sft(turns=[dict(USER, train=True), ASSISTANT]), "turns.0.train", "train_not_assistant"),
    (sft(turns=[dict(USER, reasoning="hm"), ASSISTANT]), "turns.0.reasoning",
     "reasoning_not_assistant"),
    (sft(turns=[dict(USER, train="yes"), ASSISTANT]), "turns.0.train", "bool_type"),
    (sft(id=7), "id", "string_type"),
    (sft(metadata=[1]), "metadata", "dict_type"),
    (b'{"prompt": "x", "response": "y"}', "", "unknown_record_kind"),
    (PREF_OK, "", "mixed_kinds"),
    (pref(history=[]), "", "mixed_kinds"),
]


@pytest.mark.parametrize(("bad", "loc", "error_type"), CASES,
                         ids=[f"{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_each_error_class_names_line_field_and_type(tmp_path: Path, bad: bytes, loc: str,
                                                    error_type: str) -> None:
    errors = run(tmp_path, [SFT_OK, bad, SFT_OK, SFT_OK])
    assert errors[0] == (2, loc, error_type)
    assert all(e[0] == 2 for e in errors), "a bad line must not disturb its neighbours"


PREF_CASES = [
    (pref(history=[]), "history", "too_short"),
    (pref(history=[USER, ASSISTANT]), "history.1.role", "history_not_user_final"),
    (pref(history=[USER, ASSISTANT, {"role": "system", "content": "x"}, USER]), "history.2.role",
     "system_not_first"),
    (pref(history=[{"role": "user", "content": ""}]), "history.0.content", "empty_content"),
    (pref(response_b="4"), "response_b", "identical_responses"),
    (pref(response_a=" "), "response_a", "empty_response"),
    (pref(chosen="c"), "chosen", "literal_error"),
    (pref(chosen="A"), "chosen", "literal_error"),
    (pref(score_a="9"), "score_a", "float_type"),
    (pref(prompt="x"), "prompt", "extra_forbidden"),
    (json.dumps({"history": [USER], "response_a": "4", "response_b": "5"}).encode(), "chosen",
     "missing"),
]


@pytest.mark.parametrize("kind", ["auto", "preference"])
@pytest.mark.parametrize(("bad", "loc", "error_type"), PREF_CASES,
                         ids=[f"{c[2]}-{i}" for i, c in enumerate(PREF_CASES)])
def test_preference_errors(tmp_path: Path, kind: str, bad: bytes, loc: str, error_type: str) -> None:
    errors = run(tmp_path, [PREF_OK, PREF_OK, bad, PREF_OK], kind)
    assert errors[0] == (3, loc, error_type)


def test_valid_records_including_unicode_edges(tmp_path: Path) -> None:
    lines = [
        sft(turns=[{"role": "user", "content": "\U0001f600 \u2028 \u2029 \u0085"}, ASSISTANT]),
        b'{"turns": [{"role": "user", "content": "\\ud83d\\ude00 and \\u0000"}, '
        b'{"role": "assistant", "content": "ok"}]}',
        sft(metadata={"a": [1, {"b": None}], "c": 1.5}, id="x", source="s"),
        sft(turns=[{"role": "system", "content": "s"}, USER,
                   {"role": "assistant", "content": "a", "train": False, "reasoning": "r"},
                   {"role": "tool", "content": "t"}, USER, ASSISTANT]),
    ]
    p = tmp_path / "ok.jsonl"
    p.write_bytes(b"\n".join(lines))
    results = list(iter_records(p))
    assert [r.errors for r in results] == [()] * 4
    first, second = (r.record for r in results[:2])
    assert isinstance(first, ChatExample) and first.turns[0].content == "\U0001f600 \u2028 \u2029 \u0085"
    assert isinstance(second, ChatExample) and second.turns[0].content == "\U0001f600 and \x00"


def test_auto_kind_is_decided_by_first_record_even_when_invalid(tmp_path: Path) -> None:
    errors = run(tmp_path, [b"not json", pref(chosen="z"), PREF_OK, SFT_OK])
    assert errors == [(1, "", "json_invalid"), (2, "chosen", "literal_error"), (4, "", "mixed_kinds")]


def test_mixed_kind_message_names_the_deciding_line(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl"
    p.write_bytes(b"\n".join([b"[]", PREF_OK, SFT_OK]))
    err = list(iter_records(p))[2].errors[0]
    assert "first record (line 2) is a preference" in err.message


def test_fixed_kind_names_a_record_of_the_other_kind(tmp_path: Path) -> None:
    assert run(tmp_path, [SFT_OK, PREF_OK], "sft") == [(2, "", "wrong_kind")]
    assert run(tmp_path, [PREF_OK, SFT_OK], "preference") == [(2, "", "wrong_kind")]
    p = tmp_path / "data.jsonl"
    (result,) = [r for r in iter_records(p, "preference") if r.errors]
    assert "pass --kind sft" in result.errors[0].message
    # a record of neither kind gets the field errors of the declared kind
    errors = run(tmp_path, [b'{"prompt": "x"}'], "sft")
    assert errors == [(1, "turns", "missing"), (1, "prompt", "extra_forbidden")]
    assert run(tmp_path, [b"[]"], "preference") == [(1, "", "not_an_object")]


def test_allow_empty_and_skip_blank(tmp_path: Path) -> None:
    lines = [sft(turns=[USER, {"role": "assistant", "content": ""}]), b"", pref(response_a="")]
    assert run(tmp_path, lines, "auto", allow_empty=True) == [(2, "", "blank_line"), (3, "", "mixed_kinds")]
    p = tmp_path / "data.jsonl"
    got = [r.line for r in iter_records(p, "auto", allow_empty=True, skip_blank=True)]
    assert got == [1, 3]


def test_over_long_line_is_an_error_and_reading_goes_on(tmp_path: Path) -> None:
    long_line = sft(metadata={"pad": "x" * 500})
    assert run(tmp_path, [SFT_OK, long_line, SFT_OK], max_line_bytes=300) == [(2, "", "line_too_long")]


def test_messages_say_how_to_fix(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_bytes(b"\n".join([SFT_OK, sft(prompt="x"), sft(turns=[USER, {"role": "assistant"}])]))
    messages = [e.message for r in iter_records(p) for e in r.errors]
    assert messages == ["unknown key 'prompt'; remove it (put extra information under 'metadata')",
                        "required key 'content' is missing; add it"]


def test_unknown_kind_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown record kind"):
        RecordParser("x", "chat")  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(
    st.binary(max_size=60),
    st.builds(lambda raw, i, b: raw[:i] + bytes([b]) + raw[i + 1:],
              st.sampled_from([SFT_OK, PREF_OK]), st.integers(0, 80), st.integers(0, 255)),
).filter(lambda b: b"\n" not in b), max_size=8))
def test_fuzz_only_input_errors_and_every_line_accounted(tmp_path: Path, lines: list[bytes]) -> None:
    p = tmp_path / "fuzz.jsonl"
    data = b"\n".join([SFT_OK, *lines, SFT_OK]) + b"\n"
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x1f\x8b")):
        return
    p.write_bytes(data)
    results = list(iter_records(p, "sft"))
    assert [r.line for r in results] == list(range(1, len(lines) + 3))
    for r in results:
        assert (r.record is None) == bool(r.errors)
        assert all(isinstance(e, InputError) and e.line == r.line for e in r.errors)
    assert results[-1].ok


def test_preference_record_type(tmp_path: Path) -> None:
    p = tmp_path / "p.jsonl"
    p.write_bytes(pref(chosen="b", score_a=1, score_b=2.5) + b"\n")
    (r,) = iter_records(p, "preference")
    assert isinstance(r.record, PreferenceExample)
    assert (r.record.chosen_response, r.record.score_a) == ("5", 1.0)


SAMPLE_SFT = (Path(__file__).resolve().parents[2] / "sample_data" / "sft.jsonl").read_bytes().splitlines()


def _corrupt(line: bytes, how: str, turn: int) -> tuple[bytes, tuple[str, str]]:
    """One seeded corruption of a valid SFT line, and the (loc, type) it must produce."""
    doc = json.loads(line)
    t = turn % len(doc["turns"])
    if how == "delete_content":
        del doc["turns"][t]["content"]
        return json.dumps(doc).encode(), (f"turns.{t}.content", "missing")
    if how == "wrong_type":
        doc["turns"][t]["content"] = len(doc["turns"][t]["content"])
        return json.dumps(doc).encode(), (f"turns.{t}.content", "string_type")
    if how == "extra_key":
        doc["turns"][t]["weight"] = 1
        return json.dumps(doc).encode(), (f"turns.{t}.weight", "extra_forbidden")
    if how == "bad_role":
        doc["turns"][t]["role"] = "gpt"
        return json.dumps(doc).encode(), (f"turns.{t}.role", "literal_error")
    if how == "empty_turns":
        doc["turns"] = []
        return json.dumps(doc).encode(), ("turns", "too_short")
    if how == "truncate":
        text = line.decode("utf-8")
        return text[: len(text) // 2 + turn % 7].encode("utf-8"), ("", "json_invalid")
    assert how == "latin1"
    text = json.dumps(doc, ensure_ascii=False)
    return text.encode("utf-8").replace(b'"content": "', b'"content": "\xe9', 1), ("", "invalid_utf8")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, len(SAMPLE_SFT) - 1),
       st.sampled_from(["delete_content", "wrong_type", "extra_key", "bad_role", "empty_turns",
                        "truncate", "latin1"]),
       st.integers(0, 50))
def test_seeded_corruptions_of_sample_data_are_located(tmp_path: Path, index: int, how: str,
                                                       turn: int) -> None:
    bad, (loc, error_type) = _corrupt(SAMPLE_SFT[index], how, turn)
    lines = list(SAMPLE_SFT)
    lines[index] = bad
    p = tmp_path / "corrupt.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    got = [(e.line, e.loc, e.error_type) for r in iter_records(p, "sft") for e in r.errors]
    assert got == [(index + 1, loc, error_type)]


@pytest.mark.parametrize(("raw", "lone"), [
    (rb'"\ud83d\ude00"', False), (rb'"\uD83D\uDE00"', False), (rb'"plain \u00e9"', False),
    (rb'"\ud83d"', True), (rb'"\ude00"', True), (rb'"\ud83d x \ude00"', True),
    (rb'"\ud83d\ud83d\ude00"', True), (rb'"\ud83d\ude00 \udfff"', True)])
def test_lone_surrogate_detection(raw: bytes, lone: bool) -> None:
    from alignkit.io.diagnostics import has_lone_surrogate

    assert has_lone_surrogate(raw) is lone
