"""Parallel batches: balanced ranges, packed id lists, the forked batch (errors, files, order)."""

from __future__ import annotations

import multiprocessing
import os
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.bpe import Tokenizer, default_tokenizer
from alignkit.bpe import _fork_batch, _parallel
from alignkit.bpe._fork_batch import ForkedBatch, balanced_ranges
from alignkit.bpe._id_lists import id_lists, int_table
from alignkit.errors import SpecialTokenError

EOT = "<|endoftext|>"
HAS_FORK = "fork" in multiprocessing.get_all_start_methods()


@pytest.fixture(scope="module")
def gpt2() -> Tokenizer:
    return default_tokenizer()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=40), st.integers(1, 50))
def test_balanced_ranges_cover_in_order(texts: list[str], parts: int) -> None:
    ranges = balanced_ranges(texts, parts)
    assert [i for a, b in ranges for i in range(a, b)] == list(range(len(texts)))
    assert all(a < b for a, b in ranges) and len(ranges) <= parts


def test_balanced_ranges_balance_characters() -> None:
    texts = ["x" * 100] * 10 + ["y" * 1000]  # the long text alone is half the characters
    assert balanced_ranges(texts, 2) == [(0, 10), (10, 11)]
    even = ["z" * 10] * 100
    assert [sum(map(len, even[a:b])) for a, b in balanced_ranges(even, 4)] == [250, 250, 250, 250]


def _pack(rows: list[list[int]]) -> bytes:
    flat = [i for r in rows for i in r]
    return struct.pack(f"<{len(rows)}i{len(flat)}i", *map(len, rows), *flat)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 999), max_size=20), max_size=20))
def test_id_lists_unpack_packed_rows(rows: list[list[int]]) -> None:
    table = int_table(1000)
    got = id_lists(_pack(rows), len(rows), table)
    assert got == rows
    assert all(type(i) is int for r in got for i in r)  # type: ignore[attr-defined]


def test_id_lists_refuse_bad_blobs() -> None:
    blob = _pack([[1, 2], [3]])
    with pytest.raises(ValueError, match="counts say"):
        id_lists(blob + bytes(4), 2, int_table(10))
    with pytest.raises(IndexError):
        id_lists(_pack([[12]]), 1, int_table(10))  # an id outside the table


def _fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


@pytest.mark.skipif(not HAS_FORK, reason="no fork start method here")
def test_forked_batch_lists_and_arrays_equal_serial(gpt2: Tokenizer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_parallel, "MIN_PARALLEL_CHARS", 0)
    monkeypatch.setattr(_parallel, "start_method", lambda: "fork")
    texts = [f"{i} {'word ' * (i % 17)}{EOT if i % 5 == 0 else ''} é😀" * (i % 3) for i in range(300)]
    expected = [gpt2.encode(t) for t in texts]
    gpt2.encode_batch(texts[:4], num_proc=2)  # multiprocessing's shared-memory arena, made once
    before = _fds()
    for n in (2, 3):
        assert gpt2.encode_batch(texts, num_proc=n) == expected
        ids, offsets = gpt2.encode_batch_arrays(texts, num_proc=n, dtype="int32")
        assert [ids[offsets[k] : offsets[k + 1]].tolist() for k in range(len(texts))] == expected
    assert _fds() == before  # every result file closed
    assert not _fork_batch._JOB  # the job is not left parked for a later fork


@pytest.mark.skipif(not HAS_FORK, reason="no fork start method here")
def test_forked_batch_raises_a_worker_error(gpt2: Tokenizer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A disallowed special in a text a worker encodes is raised here, whoever encodes it."""
    monkeypatch.setattr(_parallel, "MIN_PARALLEL_CHARS", 0)
    monkeypatch.setattr(_parallel, "start_method", lambda: "fork")
    texts = ["plain text here " * 20] * 200
    for bad in (0, 199):  # first range (this process claims it) and last range
        with_special = [*texts]
        with_special[bad] = f"a {EOT} b"
        with pytest.raises(SpecialTokenError):
            gpt2.encode_batch(with_special, num_proc=2, allowed_special=set())
        with pytest.raises(SpecialTokenError):
            gpt2.encode_batch_arrays(with_special, num_proc=2, allowed_special=set())
    assert not _fork_batch._JOB


@pytest.mark.skipif(not HAS_FORK, reason="no fork start method here")
def test_forked_batch_workers_take_ranges(gpt2: Tokenizer) -> None:
    """Every range is encoded exactly once, by this process or a worker, and read back in order."""
    texts = [f"text {i} " * 50 for i in range(64)]
    with ForkedBatch(gpt2, texts, "all", num_proc=3) as job:
        assert len(job.ranges) == min(len(texts), 3 * _fork_batch.RANGES_PER_PROC)
        job.wait()  # this process claims nothing: the two workers do every range
        got: list[list[int]] = [[] for _ in texts]
        for r in job.ready():
            _parallel._lists_into(got, job.ranges[r][0], job.size(r), job.read(r), gpt2.n_vocab)
        assert not job.mine and job.claim() == -1
    assert got == [gpt2.encode(t) for t in texts]


def test_arrays_dtype_check(gpt2: Tokenizer) -> None:
    ids = np.array([1, 70000], dtype=np.int32)
    assert _parallel._checked(np, ids, "uint32").tolist() == [1, 70000]
    with pytest.raises(ValueError, match="do not fit dtype uint16"):
        _parallel._checked(np, ids, "uint16")
    with pytest.raises(ValueError, match="do not fit dtype float16"):
        _parallel._checked(np, np.array([70001], dtype=np.int32), "float16")


@pytest.mark.skipif(not HAS_FORK, reason="no fork start method here")
def test_forked_batch_with_more_processes_than_texts(gpt2: Tokenizer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_parallel, "MIN_PARALLEL_CHARS", 0)
    monkeypatch.setattr(_parallel, "start_method", lambda: "fork")
    texts = ["one text " * 30, "another text " * 30]
    assert gpt2.encode_batch(texts, num_proc=8) == [gpt2.encode(t) for t in texts]
    with ForkedBatch(gpt2, texts[:1] * 1, "all", num_proc=4) as job:  # one range: no worker at all
        assert job._pool is None and job.claim() == 0 and job.claim() == -1
        job.wait()
