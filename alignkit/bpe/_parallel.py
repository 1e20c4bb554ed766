"""Process-parallel batch encoding.

With ``fork`` (where it exists and no other thread runs), this process and
``num_proc - 1`` forked workers share the batch (:mod:`alignkit.bpe._fork_batch`):
the workers inherit the tokenizer and the texts, nothing is pickled, and their ids
come back as int32 buffers through in-memory files. Elsewhere ``num_proc`` spawned
workers receive the tokenizer pickled by its source and content hash (a few bytes;
see ``Persistent.__getstate__``) and batches of texts, and send packed buffers back.
"""

from __future__ import annotations

import importlib
import multiprocessing
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any, Final, cast

from alignkit.bpe._fork_batch import RANGES_PER_PROC, ForkedBatch, balanced_ranges, encode_range
from alignkit.bpe._id_lists import id_lists, int_table

if TYPE_CHECKING:
    from alignkit.bpe.tokenizer import SpecialSet, Tokenizer

#: Below this many characters in all, one process is faster than starting workers.
MIN_PARALLEL_CHARS: Final = 1 << 20

_WORKER: list[Tokenizer] = []


def _init(tok: Tokenizer) -> None:
    tok.n_vocab  # noqa: B018  (rebuild now, not on the first batch)
    _WORKER[:] = [tok]


def _work(args: tuple[list[str], SpecialSet]) -> bytes:
    """Encode one batch in a spawned worker; return it packed: per-text id counts, then ids (int32).

    One flat buffer pickles as one byte string: the parent views it with numpy or builds
    lists from it natively, instead of unpickling int by int.
    """
    texts, allowed = args
    ids, lengths = encode_range(_WORKER[0], texts, 0, len(texts), allowed)
    return lengths.tobytes() + bytes(memoryview(ids))


def start_method() -> str:
    """``fork`` where it exists and is safe (no other thread running), else ``spawn``.

    Forked workers inherit the tokenizer and the texts (no rebuild, no pickling); spawned
    ones import alignkit, rebuild the tokenizer and unpickle their texts.
    """
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _spawned_batches(
    tok: Tokenizer, texts: Sequence[str], num_proc: int, allowed: SpecialSet
) -> Iterator[tuple[int, bytes]]:
    """(number of texts, packed result of :func:`_work`) of ``texts`` in order, from spawned workers."""
    ranges = balanced_ranges(texts, num_proc * RANGES_PER_PROC)
    batches = [(list(texts[a:b]), allowed) for a, b in ranges]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(num_proc, mp_context=ctx, initializer=_init, initargs=(tok,)) as pool:
        for (a, b), blob in zip(ranges, pool.map(_work, batches)):
            yield b - a, blob


def _serial(texts: Sequence[str], num_proc: int) -> bool:
    """True when the batch is encoded in this process alone (``num_proc`` checked)."""
    if num_proc < 1:
        raise ValueError(f"num_proc must be >= 1, got {num_proc}")
    return num_proc == 1 or len(texts) < 2 or sum(len(t) for t in texts) < MIN_PARALLEL_CHARS


def _allowed(allowed_special: SpecialSet) -> SpecialSet:
    return allowed_special if allowed_special == "all" else frozenset(allowed_special)


_INTS: list[list[object]] = []


def _lists_into(out: list[list[int]], start: int, n_rows: int, blob: bytes, n_vocab: int) -> None:
    """Put the id lists of one packed result into ``out[start : start + n_rows]``.

    The ints are shared objects of one table (a pointer copy per id, no new object).
    """
    if not _INTS or len(_INTS[0]) < n_vocab:
        _INTS[:] = [int_table(n_vocab)]
    out[start : start + n_rows] = cast("list[list[int]]", id_lists(blob, n_rows, _INTS[0]))


def _arrays(np: Any, n_rows: int, blob: bytes, dtype: str) -> tuple[Any, Any]:
    """(int32 counts, ids in ``dtype``) of one packed result."""
    flat = np.frombuffer(blob, dtype=np.int32)
    return flat[:n_rows], _checked(np, flat[n_rows:], dtype)


def encode_batch(
    tok: Tokenizer, texts: Sequence[str], *, num_proc: int, allowed_special: SpecialSet
) -> list[list[int]]:
    """Encode ``texts`` in order, in ``num_proc`` processes (this one included) when worth it.

    Example:
        >>> encode_batch(tok, ["a", "b"], num_proc=1, allowed_special="all")  # doctest: +SKIP
        [[64], [65]]
    """
    if _serial(texts, num_proc):
        return [tok.encode(t, allowed_special=allowed_special) for t in texts]
    allowed = _allowed(allowed_special)
    out: list[list[int]] = [[] for _ in range(len(texts))]
    if start_method() != "fork":
        done = 0
        for n_rows, blob in _spawned_batches(tok, texts, num_proc, allowed):
            _lists_into(out, done, n_rows, blob, tok.n_vocab)
            done += n_rows
        return out
    with ForkedBatch(tok, texts, allowed, num_proc) as job:

        def here(k: int) -> None:
            start, stop = job.ranges[k]
            for i in range(start, stop):
                out[i] = tok.encode(texts[i], allowed_special=allowed)

        def collect(r: int) -> None:
            _lists_into(out, job.ranges[r][0], job.size(r), job.read(r), tok.n_vocab)

        job.run(here, collect)
    return out


def encode_batch_arrays(
    tok: Tokenizer, texts: Sequence[str], *, num_proc: int, allowed_special: SpecialSet, dtype: str
) -> tuple[Any, Any]:  # numpy arrays (not imported here: the mypyc build env has no numpy)
    """Encode ``texts`` into one flat id array and ``len(texts) + 1`` offsets (no int objects).

    Text ``k``'s ids are ``ids[offsets[k]:offsets[k + 1]]``. Ids travel as int32 buffers
    (native vectors here, in-memory files or packed pickles from workers), are converted
    to ``dtype`` range by range as they arrive (range-checked) and concatenated once, so
    the parent never builds Python ints.

    Example:
        >>> ids, offsets = encode_batch_arrays(tok, ["a b", "c"], num_proc=1,
        ...                                    allowed_special="all", dtype="uint32")  # doctest: +SKIP
        >>> ids.tolist(), offsets.tolist()  # doctest: +SKIP
        ([64, 275, 66], [0, 2, 3])
    """
    # imported by name: the isolated mypyc build env has no numpy to type-check against
    np: Any = importlib.import_module("numpy")

    parts: list[tuple[Any, Any]] = []  # (int32 lengths, ids in dtype), in text order
    allowed = _allowed(allowed_special)
    if _serial(texts, num_proc):
        ids, lengths = encode_range(tok, texts, 0, len(texts), allowed)
        parts.append((np.frombuffer(lengths, dtype=np.int32), _checked(np, memoryview(ids), dtype)))
    elif start_method() != "fork":
        for n_rows, blob in _spawned_batches(tok, texts, num_proc, allowed):
            parts.append(_arrays(np, n_rows, blob, dtype))
    else:
        by_range: dict[int, tuple[Any, Any]] = {}
        with ForkedBatch(tok, texts, allowed, num_proc) as job:

            def here(k: int) -> None:
                vids, vlengths = encode_range(tok, texts, *job.ranges[k], allowed)
                by_range[k] = (np.frombuffer(vlengths, dtype=np.int32), _checked(np, memoryview(vids), dtype))

            def collect(r: int) -> None:
                by_range[r] = _arrays(np, job.size(r), job.read(r), dtype)

            job.run(here, collect)
        parts = [by_range[r] for r in range(len(job.ranges))]
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    if not parts:
        return np.zeros(0, dtype=dtype), offsets
    np.cumsum(np.concatenate([lengths for lengths, _ in parts]), out=offsets[1:])
    flat = parts[0][1] if len(parts) == 1 else np.concatenate([ids for _, ids in parts])
    return flat, offsets


def _checked(np: Any, ids: Any, dtype: str) -> Any:
    """A copy of int32 ids (an array or a buffer) in ``dtype``.

    Raises:
        ValueError: an id that does not fit ``dtype``.
    """
    ids = np.frombuffer(ids, dtype=np.int32) if not isinstance(ids, np.ndarray) else ids
    target = np.dtype(dtype)
    if not len(ids):
        return ids.astype(target)
    top = int(ids.max())
    if target.kind in "iu":
        info = np.iinfo(target)
        if top > info.max or int(ids.min()) < info.min:
            raise ValueError(f"ids up to {top} do not fit dtype {dtype}")
        return ids.astype(target)
    with np.errstate(over="ignore", invalid="ignore"):
        out = ids.astype(target)
    if not np.array_equal(out, ids):
        raise ValueError(f"ids up to {top} do not fit dtype {dtype}")
    return out
