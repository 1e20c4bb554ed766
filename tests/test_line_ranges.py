"""Forked tokenize workers: line ranges read by the workers, columns through in-memory files."""

from __future__ import annotations

import gc
import gzip
import hashlib
import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import shared_path
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit import chunk_results, forked_files
from alignkit import line_ranges
from alignkit.bpe._fd import memory_file
from alignkit.errors import InputError
from alignkit.io.whole_file import read_whole
from alignkit.line_ranges import plan_line_ranges, read_range_lines
from alignkit.manifest import RunStats
from alignkit.pipeline import tokenize_files
from alignkit.result_files import Ref, restore, stash
from alignkit.worker import ChunkResult, TokenizeConfig

ENC = "_byte_encoder:make"
HAS_FORK = "fork" in multiprocessing.get_all_start_methods()

line = st.text(st.sampled_from("ab{}\r é"), max_size=12)


@settings(max_examples=150, deadline=None)
@given(st.lists(line, max_size=30), st.booleans(), st.booleans(), st.integers(1, 7), st.integers(1, 5))
def test_ranges_hold_the_whole_file_lines(tmp_path_factory: pytest.TempPathFactory, lines: list[str], bom: bool,
                                          final_newline: bool, parts: int, chunk_lines: int) -> None:
    body = "\n".join(lines) + ("\n" if final_newline and lines else "")
    path = tmp_path_factory.mktemp("r") / "f.jsonl"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body.encode())
    whole = read_whole(path)
    plan = plan_line_ranges(str(path), "f.jsonl", None, 0, chunk_lines, parts)
    assert whole is not None and plan is not None and len(plan.ranges) <= parts
    got: list[bytes] = []
    for r in plan.ranges:
        assert r.first_line == len(got) + 1 and (r.start < r.stop or len(plan.ranges) == 1)
        got.extend(read_range_lines(r))
    assert got == whole.lines
    assert hashlib.sha256(plan.data).hexdigest() == whole.sha256


def test_files_to_stream_are_not_planned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gz = tmp_path / "a.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"a": 1}\n'))
    assert plan_line_ranges(str(gz), "a", None, 0, 4, 2) is None
    plain = tmp_path / "b.jsonl"
    plain.write_bytes(b'{"a": 1}\n' * 10)
    monkeypatch.setattr(line_ranges, "WHOLE_FILE_LIMIT", 50)
    assert plan_line_ranges(str(plain), "b", None, 0, 4, 2) is None


def test_stash_and_restore_columns() -> None:
    cols: list[tuple[Any, Any]] = [(np.arange(5, dtype=np.uint32), np.array([2, 3], dtype=np.int64)),
            (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)),
            (np.array([7], dtype=np.uint8)[::1], [1])]  # a list stays as it is
    results = [ChunkResult(list(cols), [{"line": 1}], RunStats()), ChunkResult([], [], RunStats())]
    fd = memory_file()
    stash(results, fd)
    stashed: list[tuple[Any, Any]] = results[0].columns
    assert isinstance(stashed[0][0], Ref) and stashed[2][1] == [1]
    restore(results, fd)
    restored: list[tuple[Any, Any]] = results[0].columns
    for (v, n), (v2, n2) in zip(restored, cols):
        assert np.array_equal(v, v2) and v.dtype == v2.dtype and np.array_equal(n, n2)
    restored[0][0][0] = 9  # views are private copies: writable
    with pytest.raises(OSError):
        os.fstat(fd)  # restore closed it


def _fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


def _tree(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.skipif(not HAS_FORK, reason="no fork start method here")
def test_forked_ranges_give_identical_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [json.dumps({"turns": [{"role": "user", "content": f"q{i}"},
                                  {"role": "assistant", "content": "a" * (1 + i % 30)}]}) for i in range(500)]
    rows[7], rows[250], rows[499] = "not json", "", '{"turns": []}'
    src = tmp_path / "s.jsonl"
    src.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode())  # BOM, CRLF, no final newline
    cfg = TokenizeConfig(encoder=ENC, on_error="skip", format="jsonl", skip_blank=True)
    tokenize_files([src], tmp_path / "one", cfg)
    monkeypatch.setattr(chunk_results, "_RANGES_PER_PROC", 5)  # ranges of ~50 lines
    monkeypatch.setattr(chunk_results, "CHUNK_LINES", 16)  # chunks cut differently inside them
    gc.collect()  # files earlier tests left to the collector (datasets' tables) close now, not below
    before = _fds()
    for n in (2, 3):
        rep = tokenize_files([src, src], tmp_path / f"n{n}", cfg, num_proc=n)
        assert rep.stats.records_in == 998 and [r["line"] for r in rep.rejects] == [8, 500, 8, 500]
    assert _fds() == before  # every in-memory result file closed
    monkeypatch.setattr(forked_files, "_MAX_RESULT_FILES", 3)  # the other ranges' columns come pickled
    tokenize_files([src, src], tmp_path / "few", cfg, num_proc=2)
    assert _fds() == before
    rep = tokenize_files([src, src], tmp_path / "one2", cfg)
    assert _tree(tmp_path / "n2") == _tree(tmp_path / "n3") == _tree(tmp_path / "one2") == _tree(tmp_path / "few")
    assert _failing_line(src, tmp_path / "fail") == 8 and not (tmp_path / "fail").exists()
    gc.collect()  # the traceback's frames (a cycle) hold the pool and the results read so far
    assert _fds() == before


def _failing_line(src: Path, out: Path) -> int:
    """The line of the InputError of a failing forked run (the first bad line, found by a worker)."""
    try:
        tokenize_files([src], out, TokenizeConfig(encoder=ENC, skip_blank=True), num_proc=2)
    except InputError as err:
        return err.line
    return 0


@pytest.mark.skipif(not HAS_FORK, reason="no fork start method here")
def test_forked_ranges_on_real_conversations(tmp_path: Path) -> None:
    """HH-RLHF dialogues through the bundled GPT-2: the same bytes for 1 and 2 processes."""
    src = shared_path("data", "alignment", "preference", "hh-rlhf", "helpful-base", "test.jsonl.gz")
    out: list[str] = []
    with gzip.open(src, "rt", encoding="utf-8") as f:
        for raw, _ in zip(f, range(400)):
            turns = []
            for block in json.loads(raw)["chosen"].split("\n\nHuman: ")[1:]:
                user, *answers = block.split("\n\nAssistant: ")
                turns.append({"role": "user", "content": user.strip()})
                turns.extend({"role": "assistant", "content": a.strip()} for a in answers)
            out.append(json.dumps({"turns": turns}))
    data = tmp_path / "hh.jsonl"
    data.write_text("\n".join(out) + "\n")
    cfg = TokenizeConfig(on_error="skip", max_seq_len=256)  # the bundled GPT-2, its default template
    a = tokenize_files([data], tmp_path / "a", cfg)
    b = tokenize_files([data], tmp_path / "b", cfg, num_proc=2)
    assert a.stats.written > 300 and _tree(tmp_path / "a") == _tree(tmp_path / "b")


@pytest.mark.slow
def test_spawn_path_gives_the_same_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where fork is missing, chunks of lines go to spawned workers: same bytes out."""
    rows = [json.dumps({"turns": [{"role": "user", "content": f"q{i}"},
                                  {"role": "assistant", "content": "b" * (1 + i % 7)}]}) for i in range(300)]
    rows[5] = "{"
    src = tmp_path / "s.jsonl"
    src.write_text("\n".join(rows) + "\n")
    cfg = TokenizeConfig(encoder=ENC, on_error="skip", format="jsonl")
    tokenize_files([src], tmp_path / "one", cfg)
    monkeypatch.setattr(chunk_results, "can_fork", lambda: False)
    monkeypatch.setattr(forked_files, "ForkedFiles", None)  # (the fork path would fail on it)
    rep = tokenize_files([src], tmp_path / "spawned", cfg, num_proc=2)
    assert [r["line"] for r in rep.rejects] == [6]
    assert _tree(tmp_path / "one") == _tree(tmp_path / "spawned")


_PARENT = os.getpid()


def make_dying(config: TokenizeConfig) -> Any:
    """A byte encoder whose worker processes die on a record saying "die" (a test hook)."""
    from _byte_encoder import ByteEncoder

    class Dying(ByteEncoder):
        def encode_sft(self, record: Any, mask: str) -> Any:
            if os.getpid() != _PARENT and any(t.content == "die" for t in record.turns):
                os._exit(3)  # as the out-of-memory killer would end it
            return super().encode_sft(record, mask)

    return Dying()


@pytest.mark.skipif(not HAS_FORK, reason="no fork start method here")
def test_a_killed_worker_fails_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """multiprocessing.Pool would wait forever for the dead worker's chunk."""
    from alignkit.errors import AlignkitError

    monkeypatch.setattr(forked_files, "_PARENT_TAKES", False)  # the "die" line goes to a worker
    rows = [json.dumps({"turns": [{"role": "user", "content": "die" if i == 150 else f"q{i}"},
                                  {"role": "assistant", "content": "ok"}]}) for i in range(300)]
    src = tmp_path / "s.jsonl"
    src.write_text("\n".join(rows) + "\n")
    cfg = TokenizeConfig(encoder="test_line_ranges:make_dying")
    assert tokenize_files([src], tmp_path / "one", cfg).stats.written == 300  # fine in one process
    with pytest.raises(AlignkitError, match="worker process stopped abruptly"):
        tokenize_files([src], tmp_path / "two", cfg, num_proc=2)
    assert not (tmp_path / "two").exists()


@pytest.mark.skipif(not HAS_FORK, reason="no fork start method here")
@pytest.mark.parametrize("parent_takes", [True, False])
def test_parent_and_workers_share_ranges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parent_takes: bool) -> None:
    """Ranges taken by this process, by the workers, or all by the workers: the same Arrow bytes."""
    rows = [json.dumps({"turns": [{"role": "user", "content": f"q{i}"},
                                  {"role": "assistant", "content": "b" * (i % 50)}]}) for i in range(3000)]
    rows[1234] = "{"
    src = tmp_path / "s.jsonl"
    src.write_text("\n".join(rows) + "\n")
    cfg = TokenizeConfig(encoder=ENC, on_error="skip")
    one = tokenize_files([src], tmp_path / "one", cfg)
    monkeypatch.setattr(forked_files, "_PARENT_TAKES", parent_takes)
    monkeypatch.setattr(chunk_results, "CHUNK_LINES", 100)
    rep = tokenize_files([src], tmp_path / "two", cfg, num_proc=3)
    assert rep.stats.written == one.stats.written == 2939  # 60 empty answers dropped, 1 bad line
    assert rep.rejects == one.rejects and rep.rejects[0]["line"] == 1
    assert _tree(tmp_path / "one") == _tree(tmp_path / "two")


def test_cuts_found_with_small_probes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Newlines looked for a few bytes at a time: the same cuts as with one large read."""
    path = tmp_path / "p.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"".join(b"x" * (k % 13) + b"\n" for k in range(200)) + b"tail")
    wide = line_ranges.cut_file(str(path), 7)
    monkeypatch.setattr(line_ranges, "_PROBE", 2)
    narrow = line_ranges.cut_file(str(path), 7)
    assert wide is not None and narrow is not None and wide.cuts == narrow.cuts
    assert len(wide.spans()) == 7 and wide.cuts[0] == 3 and wide.cuts[-1] == path.stat().st_size
    data = path.read_bytes()
    assert all(data[c - 1 : c] == b"\n" for c in wide.cuts[1:-1])
