"""``datasets.map`` errors: alignkit's ``InputError``, naming the dataset row, the batch row and the field."""

from __future__ import annotations

from typing import Any

import pytest

datasets = pytest.importorskip("datasets")

from pydantic import ValidationError

from alignkit.errors import AlignkitError, InputError, UsageError
from alignkit.hf import PreferenceTokenize, SFTTokenize, tokenize_dataset

GOOD = {"turns": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
LONG = {"turns": [{"role": "user", "content": "word " * 100}, {"role": "assistant", "content": "Hello"}]}
PAIR = {"history": [{"role": "user", "content": "2+2?"}], "response_a": "4", "response_b": "5",
        "chosen": "a", "score_a": None, "score_b": None}


def _turns(*turns: tuple[str, str]) -> dict[str, Any]:
    return {"turns": [{"role": r, "content": c} for r, c in turns]}


BAD_SFT = [
    (_turns(("human", "Hi"), ("assistant", "Hello")), "turns.0.role", "literal_error"),
    (_turns(("user", "  "), ("assistant", "Hello")), "turns.0.content", ""),
    (_turns(("user", "Hi"), ("user", "again")), "turns", ""),
    (_turns(("user", "Hi"), ("system", "late"), ("assistant", "Hello")), "turns.1", ""),
    ({"turns": [{"role": "user", "content": "Hi", "train": True},
                {"role": "assistant", "content": "Hello", "train": None}]}, "turns.0", ""),
]


def _map(rows: list[dict[str, Any]], fn: Any, **kw: Any) -> Any:
    ds = datasets.Dataset.from_list(rows)
    return ds.map(fn, remove_columns=ds.column_names, load_from_cache_file=False, **kw)


@pytest.mark.parametrize(("bad", "loc", "error_type"), BAD_SFT)
def test_invalid_record_names_dataset_row_batch_row_and_field(bad: dict[str, Any], loc: str,
                                                                error_type: str) -> None:
    datasets.disable_progress_bars()
    rows = [GOOD] * 6 + [bad] + [GOOD] * 3
    with pytest.raises(InputError) as info:
        _map(rows, SFTTokenize(), batched=True, batch_size=4, with_indices=True)
    err = info.value
    text = str(err)
    assert (err.path, err.unit, err.line) == ("dataset", "row", 6), text
    assert text.startswith("dataset: row 6: " + loc), text
    assert "(row 2 of this batch)" in text
    assert err.loc.startswith(loc)
    if error_type:
        assert err.error_type == error_type
    assert isinstance(err.__cause__, ValidationError)
    assert "pydantic" not in text and "errors.pydantic.dev" not in text
    # without with_indices: the batch row, and how to get the dataset row
    with pytest.raises(InputError) as info:
        _map(rows, SFTTokenize(), batched=True, batch_size=4)
    text = str(info.value)
    assert text.startswith("batch: row 2: " + loc), text
    assert "pass with_indices=True to ds.map to get dataset row numbers" in text


def test_several_problems_in_one_record_are_all_named() -> None:
    bad = [{"role": "human", "content": "Hi"}, {"role": "assistant", "content": 4}]
    with pytest.raises(InputError) as info:
        SFTTokenize()({"turns": [GOOD["turns"], bad]}, [10, 11])
    text = str(info.value)
    assert text.startswith("dataset: row 11: turns.0.role: Input should be"), text
    assert "; turns.1.content: Input should be a valid string (got number 4) [string_type]" in text
    assert text.endswith("(row 1 of this batch) [literal_error]"), text


def test_too_long_under_truncation_error_names_the_dataset_row() -> None:
    datasets.disable_progress_bars()
    rows = [GOOD] * 6 + [LONG] + [GOOD] * 3
    fn = SFTTokenize(max_seq_len=50, truncation="error")
    with pytest.raises(InputError) as info:
        _map(rows, fn, batched=True, batch_size=4, with_indices=True)
    text = str(info.value)
    assert text.startswith("dataset: row 6: "), text
    assert "(row 2 of this batch)" in text and "[too_long]" in text
    # Python parameter names, not the CLI's flags
    assert "max_seq_len=50" in text and "truncation=" in text and "--" not in text
    with pytest.raises(InputError) as info:
        _map(rows, fn, batched=True, batch_size=4)
    assert str(info.value).startswith("batch: row 2: "), str(info.value)


def test_per_row_mode_with_and_without_indices() -> None:
    datasets.disable_progress_bars()
    rows = [GOOD] * 3 + [_turns(("human", "Hi"), ("assistant", "Hello"))]
    with pytest.raises(InputError) as info:
        _map(rows, SFTTokenize(), with_indices=True)
    assert str(info.value).startswith("dataset: row 3: turns.0.role: "), str(info.value)
    # a row that batched mode would drop: say so, in Python terms
    fn = SFTTokenize(max_seq_len=8, truncation="drop")
    with pytest.raises(InputError) as info:
        fn(LONG, 5)
    text = str(info.value)
    assert text.startswith("dataset: row 5: ") and "batched=True" in text, text
    assert "max_seq_len=8" in text and "--" not in text
    with pytest.raises(InputError) as info:
        fn(LONG)
    assert "pass with_indices=True" in str(info.value)


def test_preference_rows() -> None:
    datasets.disable_progress_bars()
    same = {**PAIR, "response_b": "4"}
    rows = [PAIR] * 5 + [same]
    with pytest.raises(InputError) as info:
        _map(rows, PreferenceTokenize(), batched=True, batch_size=4, with_indices=True)
    text = str(info.value)
    assert text.startswith("dataset: row 5: response_b: response_a and response_b are identical"), text
    assert "(row 1 of this batch) [identical_responses]" in text
    assert isinstance(info.value.__cause__, ValidationError)


def test_with_indices_gives_the_same_rows_and_fingerprint(tmp_path: Any) -> None:
    datasets.disable_progress_bars()
    ds = datasets.Dataset.from_list([GOOD, LONG, GOOD] * 3)
    fn = SFTTokenize(max_seq_len=64, truncation="drop")
    plain = ds.map(fn, batched=True, batch_size=4, remove_columns=ds.column_names)
    indexed = ds.map(fn, batched=True, batch_size=4, remove_columns=ds.column_names, with_indices=True)
    assert plain.to_dict() == indexed.to_dict()
    out = tokenize_dataset(ds, fn, batch_size=4, num_proc=2)
    assert out.to_dict() == plain.to_dict()
    assert out._fingerprint == fn.fingerprint(ds._fingerprint)


def test_one_error_type_survives_processes() -> None:
    datasets.disable_progress_bars()
    ds = datasets.Dataset.from_list([GOOD] * 7 + [_turns(("human", "Hi"), ("assistant", "Hello"))])
    with pytest.raises(InputError) as info:
        tokenize_dataset(ds, SFTTokenize(), batch_size=2, num_proc=2)
    assert str(info.value).startswith("dataset: row 7: turns.0.role: "), str(info.value)


@pytest.mark.parametrize(("kw", "name"), [
    ({"truncation": "cut"}, "truncation='cut'"), ({"mask": "user"}, "mask='user'"),
    ({"max_seq_len": -1}, "max_seq_len=-1"),
])
def test_bad_settings_name_the_python_parameter(kw: dict[str, Any], name: str) -> None:
    with pytest.raises(UsageError) as info:
        SFTTokenize(**kw)
    assert name in str(info.value) and "--" not in str(info.value), str(info.value)


def test_a_tokenizer_that_cannot_load_is_not_a_row_error(tmp_path: Any) -> None:
    fn = SFTTokenize(tokenizer=str(tmp_path / "missing"))
    with pytest.raises(AlignkitError) as info:
        fn(GOOD, 3)
    assert not isinstance(info.value, InputError), str(info.value)


def test_with_rank_and_empty_turns() -> None:
    datasets.disable_progress_bars()
    rows = [GOOD] * 5
    ds = datasets.Dataset.from_list(rows)
    fn = SFTTokenize()
    plain = ds.map(fn, batched=True, batch_size=2, remove_columns=ds.column_names)
    ranked = ds.map(fn, batched=True, batch_size=2, remove_columns=ds.column_names, with_indices=True,
                    with_rank=True)
    assert ranked.to_dict() == plain.to_dict()
    with pytest.raises(InputError) as info:
        fn({"turns": []}, 4)  # one row whose turns are an empty list
    assert str(info.value).startswith("dataset: row 4: turns: empty list"), str(info.value)


def test_a_template_the_tokenizer_cannot_encode_is_no_row_error() -> None:
    """ChatML on GPT-2 (no ``<|im_start|>``): one TemplateError naming the template and the
    missing tokens before any row, not an encode error blamed on the first row."""
    from alignkit.errors import TemplateError

    fn = SFTTokenize(tokenizer="gpt2", template="chatml")
    with pytest.raises(TemplateError, match=r"template 'chatml' needs the special tokens '<\|im_start\|>'") as err:
        fn({"turns": [GOOD["turns"]]})
    assert "row" not in str(err.value) and "template=" in str(err.value)
