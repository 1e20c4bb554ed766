"""Ranges shared by this process and forked workers: tapered cuts, worker errors, clean-up."""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit import forked_files, line_ranges
from alignkit.errors import AlignkitError
from alignkit.io.whole_file import read_whole
from alignkit.line_ranges import LineRange, RangeSizes, cut_file, read_range_lines
from alignkit.pipeline import tokenize_files
from alignkit.range_workers import RangeJob
from alignkit.worker import ChunkResult, TokenizeConfig, init_worker

ENC = "_byte_encoder:make"
HAS_FORK = "fork" in multiprocessing.get_all_start_methods()
needs_fork = pytest.mark.skipif(not HAS_FORK, reason="no fork start method here")

line = st.text(st.sampled_from("ab{}\r é"), max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.lists(line, max_size=40), st.booleans(), st.booleans(), st.integers(1, 4), st.integers(1, 12))
def test_sized_cuts_hold_the_whole_file_lines(tmp_path_factory: pytest.TempPathFactory, lines: list[str],
                                              bom: bool, final_newline: bool, procs: int, per_proc: int) -> None:
    body = "\n".join(lines) + ("\n" if final_newline and lines else "")
    path = tmp_path_factory.mktemp("r") / "f.jsonl"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body.encode())
    sizes = RangeSizes(path.stat().st_size, procs, per_proc)
    cuts = cut_file(str(path), 0, sizes)
    whole = read_whole(path)
    assert cuts is not None and whole is not None
    data = path.read_bytes()
    assert all(data[c - 1 : c] == b"\n" for c in cuts.cuts[1:-1]) and cuts.cuts[-1] == len(data)
    got: list[bytes] = []
    for start, stop in cuts.spans():
        got += read_range_lines(LineRange(str(path), "f", None, 0, start, stop, 1, 4))
    assert got == whole.lines


def test_ranges_taper_at_the_end(tmp_path: Path) -> None:
    """Full-length ranges first, then shorter ones: the processes finish close together."""
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"".join(b"x" * 99 + b"\n" for _ in range(2000)))  # 200 kB of 100-byte lines
    sizes = RangeSizes(200_000, 2, 8)  # full ranges of 12.5 kB, the shortest 1.5 kB
    cuts = cut_file(str(path), 0, sizes)
    assert cuts is not None and sizes.left == 0
    lengths = [b - a for a, b in cuts.spans()]
    assert lengths[0] == 12_500 and max(lengths) == 12_500 and lengths == sorted(lengths, reverse=True)
    assert min(lengths) <= 1_600 and sum(lengths) == 200_000 and 16 < len(lengths) < 40


def _rows(n: int, bad: dict[int, str] | None = None) -> list[str]:
    rows = [json.dumps({"turns": [{"role": "user", "content": f"q{i}"},
                                  {"role": "assistant", "content": "a" * (1 + i % 40)}]}) for i in range(n)]
    for k, text in (bad or {}).items():
        rows[k] = text
    return rows


def _fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


def _children() -> set[int]:
    """This process's child processes, unreaped ones included (Linux ``/proc``; else empty).

    Compared before and after a run: other tests' children (a process pool still shutting
    down) may be there too, so "no child at all" would be the wrong check.
    """
    tasks = Path(f"/proc/{os.getpid()}/task")
    found: set[int] = set()
    if tasks.is_dir():
        for task in tasks.iterdir():
            children = task / "children"
            if children.is_file():
                found.update(int(pid) for pid in children.read_text().split())
    return found


@needs_fork
@pytest.mark.parametrize(("parent_takes", "slots"), [(True, 99), (False, 99), (True, 2), (False, 0)])
def test_job_hands_back_every_range_in_order(tmp_path: Path, parent_takes: bool, slots: int) -> None:
    """Line counts and rejects of each range (columns through result files, or pickled past
    ``slots``); the workers reaped, descriptors closed, gc thawed."""
    src = tmp_path / "s.jsonl"
    src.write_text("\n".join(_rows(300, {10: "{", 200: "[]"})) + "\n")
    init_worker(TokenizeConfig(encoder=ENC, on_error="skip"))
    cuts = cut_file(str(src), 6)
    assert cuts is not None
    ranges = [LineRange(str(src), "s", "sft", 1, a, b, 1, 16) for a, b in cuts.spans()]
    before, frozen = _fds(), gc.get_freeze_count()
    got: list[tuple[list[ChunkResult], int]] = []
    with RangeJob(ranges, workers=2, slots=slots) as job:  # the loop of forked_files.ForkedFiles.run
        own: dict[int, tuple[list[ChunkResult], int]] = {}
        out = 0
        while out < len(ranges):
            while out < len(ranges) and (out in own or job.ready(out)):
                got.append(own.pop(out) if out in own else job.take(out))
                out += 1
            k = job.claim_here() if parent_takes and out < len(ranges) else -1
            if k >= 0:
                own[k] = line_ranges.process_line_range(ranges[k])
            elif out < len(ranges):
                job.wait(out)
    assert len(got) == len(ranges) > 4 and sum(count for _, count in got) == 300
    first = 1
    lines: list[int] = []
    for results, count in got:
        lines += [int(str(r["line"])) + first - 1 for res in results for r in res.rejects]
        first += count
    assert lines == [11, 201]
    whole, _ = line_ranges.process_line_range(LineRange(str(src), "s", "sft", 1, 0, cuts.size, 1, 16))
    parts = [res for results, _ in got for res in results]
    for c in range(len(whole[0].columns)):  # values, then lengths, of each column: joined
        for j in (0, 1):
            assert [v for res in whole for v in res.columns[c][j].tolist()] == [
                v for res in parts for v in res.columns[c][j].tolist()]
    del got, parts, results  # the mapped result files with them
    gc.collect()
    assert gc.get_freeze_count() == frozen and _fds() == before


def failing(config: TokenizeConfig) -> Any:
    """A byte encoder that raises in a worker on a record saying "boom" (a test hook)."""
    from _byte_encoder import ByteEncoder

    parent = os.getpid()

    class Failing(ByteEncoder):
        def encode_sft(self, record: Any, mask: str) -> Any:
            if os.getpid() != parent and any(t.content == "boom" for t in record.turns):
                raise RuntimeError("boom in a worker")
            return super().encode_sft(record, mask)

    return Failing()


@needs_fork
def test_a_worker_error_fails_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's exception is raised here; the other workers are stopped; nothing is written."""
    monkeypatch.setattr(forked_files, "_PARENT_TAKES", False)
    rows = _rows(400)
    rows[300] = json.dumps({"turns": [{"role": "user", "content": "boom"}, {"role": "assistant", "content": "x"}]})
    src = tmp_path / "s.jsonl"
    src.write_text("\n".join(rows) + "\n")
    before, frozen, children = _fds(), gc.get_freeze_count(), _children()
    with pytest.raises((RuntimeError, AlignkitError), match="boom in a worker"):
        tokenize_files([src], tmp_path / "out", TokenizeConfig(encoder="test_range_workers:failing"), num_proc=3)
    gc.collect()
    assert not (tmp_path / "out").exists() and _fds() == before and gc.get_freeze_count() == frozen
    assert _children() <= children  # no worker left, running or unreaped


@needs_fork
def test_plain_and_streamed_files_mixed(tmp_path: Path) -> None:
    """A gzip file between plain ones goes to a pool; line numbers and bytes as in one process."""
    import gzip
    import hashlib

    plain = tmp_path / "a.jsonl"
    plain.write_text("\n".join(_rows(500, {3: "nope"})) + "\n")
    packed = tmp_path / "b.jsonl.gz"
    packed.write_bytes(gzip.compress(("\n".join(_rows(200, {150: "{"})) + "\n").encode()))
    cfg = TokenizeConfig(encoder=ENC, on_error="skip")
    one = tokenize_files([plain, packed, plain], tmp_path / "one", cfg)
    two = tokenize_files([plain, packed, plain], tmp_path / "two", cfg, num_proc=2)
    assert [(r["path"], r["line"]) for r in two.rejects] == [(r["path"], r["line"]) for r in one.rejects]
    assert [r["line"] for r in one.rejects] == [4, 151, 4]

    def tree(folder: Path) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}

    assert tree(tmp_path / "one") == tree(tmp_path / "two")


def stuck(config: TokenizeConfig) -> Any:
    """A byte encoder whose workers die on "die" and hang on "hang" (a test hook)."""
    import time

    from _byte_encoder import ByteEncoder

    parent = os.getpid()

    class Stuck(ByteEncoder):
        def encode_sft(self, record: Any, mask: str) -> Any:
            if os.getpid() != parent:
                if any(t.content == "die" for t in record.turns):
                    os._exit(3)
                if any(t.content == "hang" for t in record.turns):
                    time.sleep(60)
            return super().encode_sft(record, mask)

    return Stuck()


@needs_fork
def test_a_dead_worker_is_noticed_while_another_holds_the_pipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No end of the pipe comes while a stuck worker holds it open: the waiting checks the workers."""
    import time

    from alignkit import range_workers

    monkeypatch.setattr(forked_files, "_PARENT_TAKES", False)
    monkeypatch.setattr(range_workers, "_PATIENCE", 0.05)
    rows = _rows(600)
    for k, word in ((100, "die"), (500, "hang")):
        rows[k] = json.dumps({"turns": [{"role": "user", "content": word}, {"role": "assistant", "content": "x"}]})
    src = tmp_path / "s.jsonl"
    src.write_text("\n".join(rows) + "\n")
    start, children = time.monotonic(), _children()
    with pytest.raises(AlignkitError, match="worker process stopped abruptly"):
        tokenize_files([src], tmp_path / "out", TokenizeConfig(encoder="test_range_workers:stuck"), num_proc=3)
    assert time.monotonic() - start < 30 and not (tmp_path / "out").exists()
    assert _children() <= children  # the stuck worker killed and reaped
