"""The plain classes that replaced dataclasses on the tokenize path keep the dataclasses' behaviour.

(``TokenizeConfig``, ``Chunk``, ``ChunkResult``, ``Skip``, ``TokenizeReport``, ``WholeFile``,
``LineRange``, ``LinePlan``, ``FileCuts``, ``Ref``: see ``tests/cli/test_cli_startup.py`` for why.)
Each is compared with the dataclass it replaced, declared here again.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT

from alignkit.io.whole_file import WholeFile
from alignkit.line_ranges import FileCuts, LinePlan, LineRange
from alignkit.manifest import RunStats
from alignkit.pipeline import TokenizeReport
from alignkit.result_files import Ref
from alignkit.worker import DEFAULT_ENCODER, Chunk, ChunkResult, Skip, TokenizeConfig


@dataclasses.dataclass(frozen=True)
class OldConfig:
    """``TokenizeConfig`` as a frozen dataclass (as it was, with the fields added since)."""

    tokenizer: str = "gpt2"
    template: str | None = None
    max_seq_len: int = 2048
    truncation: str = "truncate"
    pack: bool = False
    format: str = "arrow"
    mask: str = "assistant"
    on_error: str = "fail"
    special_in_content: str = "count"
    kind: str = "auto"
    skip_blank: bool = False
    layout: str = "dpo"
    encoder: str = DEFAULT_ENCODER


CONFIGS = [
    {},
    {"max_seq_len": 512, "pack": True},
    {"tokenizer": "/abs/tok.json", "template": "chatml", "truncation": "drop", "format": "parquet",
     "mask": "last", "on_error": "skip", "special_in_content": "error", "kind": "preference", "skip_blank": True,
     "layout": "reward", "encoder": "tests._x:enc"},
]


def _old_repr(obj: Any, name: str) -> str:
    """The dataclass's repr under the plain class's name."""
    return repr(obj).replace(type(obj).__qualname__ + "(", name + "(", 1)


def test_config_fields_are_the_dataclass_fields_in_order() -> None:
    names = tuple(f.name for f in dataclasses.fields(OldConfig))
    assert TokenizeConfig.FIELDS == names
    params = inspect.signature(TokenizeConfig).parameters
    assert tuple(params) == names
    assert {k: p.default for k, p in params.items()} == {f.name: f.default for f in dataclasses.fields(OldConfig)}
    values = ("t", "chatml", 7, "drop", True, "npy", "all", "skip", "error", "sft", True, "reward", "m:f")
    assert TokenizeConfig(*values) == TokenizeConfig(**dict(zip(names, values)))


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_config_repr_equality_and_hash_match_the_dataclass(kwargs: dict[str, Any]) -> None:
    config, old = TokenizeConfig(**kwargs), OldConfig(**kwargs)
    assert repr(config) == _old_repr(old, "TokenizeConfig")
    assert config == TokenizeConfig(**kwargs) and (config != TokenizeConfig(**kwargs)) is False
    assert hash(config) == hash(TokenizeConfig(**kwargs))
    assert {config: 1}[TokenizeConfig(**kwargs)] == 1
    assert config != old and config != dataclasses.astuple(old)  # another type is never equal
    for name in TokenizeConfig.FIELDS:
        assert getattr(config, name) == getattr(old, name)


def test_config_differs_in_every_field() -> None:
    base = TokenizeConfig()
    for name, value in zip(TokenizeConfig.FIELDS, ("t", "chatml", 7, "drop", True, "npy", "all", "skip",
                                                   "error", "sft", True, "m:f")):
        changed = base.replace(**{name: value})
        assert changed != base and getattr(changed, name) == value


def test_config_is_immutable() -> None:
    config = TokenizeConfig()
    with pytest.raises(AttributeError):
        config.pack = True  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del config.pack
    with pytest.raises(AttributeError):
        config.extra = 1  # type: ignore[attr-defined]
    assert config == TokenizeConfig() and not hasattr(config, "__dict__")


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_config_pickles_deterministically(kwargs: dict[str, Any]) -> None:
    config = TokenizeConfig(**kwargs)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        data = pickle.dumps(config, protocol)
        back = pickle.loads(data)
        assert type(back) is TokenizeConfig and back == config and hash(back) == hash(config)
        assert pickle.dumps(TokenizeConfig(**kwargs), protocol) == data
    assert copy.copy(config) == config and copy.deepcopy(config) == config


def test_config_pickle_is_the_same_in_another_process() -> None:
    code = "import pickle, sys; from alignkit.worker import TokenizeConfig as T; " \
           "sys.stdout.write(pickle.dumps(T(max_seq_len=9, template='chatml'), 4).hex())"
    outs = {subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONHASHSEED=seed),
                           cwd=REPO_ROOT, check=True, capture_output=True, text=True).stdout
            for seed in ("0", "4321")}
    assert outs == {pickle.dumps(TokenizeConfig(max_seq_len=9, template="chatml"), 4).hex()}


def test_config_replace() -> None:
    config = TokenizeConfig(max_seq_len=64, pack=True)
    unpacked = config.replace(pack=False)
    assert unpacked == TokenizeConfig(max_seq_len=64) and config.pack is True
    assert config.replace() == config
    changed = config.replace(template="plain", kind="sft")
    assert repr(changed) == _old_repr(dataclasses.replace(OldConfig(max_seq_len=64, pack=True), template="plain",
                                                          kind="sft"), "TokenizeConfig")
    with pytest.raises(TypeError, match="num_proc"):
        config.replace(num_proc=2)
    with pytest.raises(TypeError, match="FIELDS"):
        config.replace(FIELDS=())
    with pytest.raises(TypeError):
        dataclasses.replace(OldConfig(), num_proc=2)  # (as dataclasses.replace does)


def test_chunk_errors_default_to_a_new_list() -> None:
    a, b = Chunk("f", "sft", 1, [(1, b"{}")]), Chunk("f", "sft", 1, [(1, b"{}")])
    assert a.errors == [] and a.errors is not b.errors
    a.errors.append({"line": 1})
    assert b.errors == [] and a != b
    assert Chunk("f", None, 0, [], [{"x": 1}]).errors == [{"x": 1}]


def test_chunk_and_result_are_mutable_unhashable_and_pickle() -> None:
    chunk = Chunk("in.jsonl", "preference", 2, [(2, b"x"), (3, b"y")], [{"line": 1, "type": "t"}])
    assert repr(chunk) == ("Chunk(path='in.jsonl', kind='preference', kind_line=2,"
                           " lines=[(2, b'x'), (3, b'y')], errors=[{'line': 1, 'type': 't'}])")
    back = pickle.loads(pickle.dumps(chunk))
    assert back == chunk and back.lines == chunk.lines and back.errors == chunk.errors
    chunk.kind = "sft"
    assert chunk.kind == "sft" and chunk != back
    with pytest.raises(TypeError):
        hash(chunk)
    stats = RunStats(records_in=2, written=1)
    result = ChunkResult([([1, 2], [2])], [{"line": 3}], stats)
    assert repr(result) == f"ChunkResult(columns=[([1, 2], [2])], rejects=[{{'line': 3}}], stats={stats!r})"
    back_result = pickle.loads(pickle.dumps(result))
    assert back_result == result and back_result.stats == stats
    result.columns = []  # (result_files.stash swaps the columns in place)
    assert result.columns == [] and result != back_result
    with pytest.raises(TypeError):
        hash(result)


def test_report_keeps_its_construction_defaults_and_repr() -> None:
    @dataclasses.dataclass
    class OldReport:
        out: Path
        kind: str
        stats: RunStats
        manifest: dict[str, object]
        packing_efficiency: float | None = None
        rejects: list[dict[str, object]] = dataclasses.field(default_factory=list)
        rejects_total: int = 0

    args = (Path("out"), "sft", RunStats(written=3), {"a": 1})
    report = TokenizeReport(*args)
    assert (report.packing_efficiency, report.rejects, report.rejects_total) == (None, [], 0)
    assert report.rejects is not TokenizeReport(*args).rejects
    assert repr(report) == _old_repr(OldReport(*args), "TokenizeReport")
    full = TokenizeReport(*args, 0.5, [{"line": 1}], 4)
    assert full == TokenizeReport(out=Path("out"), kind="sft", stats=RunStats(written=3), manifest={"a": 1},
                                  packing_efficiency=0.5, rejects=[{"line": 1}], rejects_total=4)
    assert repr(full) == _old_repr(OldReport(*args, 0.5, [{"line": 1}], 4), "TokenizeReport")
    assert full != report and report == TokenizeReport(*args) and report != OldReport(*args)
    params = inspect.signature(TokenizeReport).parameters
    assert tuple(params) == tuple(f.name for f in dataclasses.fields(OldReport))
    report.rejects_total = 9  # mutable, like the dataclass
    assert report.rejects_total == 9
    with pytest.raises(TypeError):
        hash(report)
    assert pickle.loads(pickle.dumps(full)) == full


FROZEN = [
    Skip("dropped", "too_long", "9 tokens > --max-seq-len 8"),
    WholeFile([b"a", b"b"], "ab" * 32, 4),
    LineRange("p", "l", "sft", 1, 0, 10, 1, 16),
    LineRange("p", "l", None, 0, 10, 20, 5, 16),
    LinePlan([LineRange("p", "l", "sft", 1, 0, 10, 1, 16)], b"xyz"),
    FileCuts("p", 30, [0, 10, 30]),
    Ref(16, "<u4", 3),
    Ref(0, "int32", 2, True),
]


@pytest.mark.parametrize("obj", FROZEN, ids=lambda o: type(o).__name__)
def test_frozen_records(obj: Any) -> None:
    cls = type(obj)
    names = tuple(inspect.signature(cls).parameters)
    values = tuple(getattr(obj, n) for n in names)
    old = dataclasses.make_dataclass("Old", names, frozen=True)(*values)
    assert repr(obj) == _old_repr(old, cls.__qualname__)
    twin = cls(*values)
    assert twin == obj and twin is not obj and obj != old and obj != values
    assert obj != cls(*values[:-1], "other" if not isinstance(values[-1], str) else 123)
    if all(isinstance(v, (str, int, bool, type(None))) for v in values):
        assert hash(twin) == hash(obj) == hash(old)
    else:  # a list among the fields: unhashable, like the frozen dataclass
        with pytest.raises(TypeError):
            hash(obj)
    with pytest.raises(AttributeError):
        setattr(obj, names[0], values[0])
    with pytest.raises(AttributeError):
        delattr(obj, names[0])
    with pytest.raises(AttributeError):
        obj.extra = 1
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(obj, protocol))
        assert type(back) is cls and back == obj
    assert copy.deepcopy(obj) == obj
    with pytest.raises(TypeError):
        cls(*values, 1)


def test_ref_default_and_line_range_arity() -> None:
    assert Ref(1, "int64", 2).flat is False
    with pytest.raises(TypeError):
        LineRange("p", "l", None, 0, 0, 1, 1)  # type: ignore[call-arg]
    assert FileCuts("p", 3, [0, 3]).spans() == [(0, 3)]


@pytest.mark.parametrize("name", ["alignkit.worker", "alignkit.line_ranges", "alignkit.result_files"])
def test_docstring_examples(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0 and result.failed == 0
