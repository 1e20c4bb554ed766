"""Process-parallel batch encoding.

Forked workers inherit the tokenizer; spawned ones (where fork is unavailable or
another thread runs) receive it pickled by its source and content hash (a few
bytes; see ``Persistent.__getstate__``) and rebuild it once per process.
"""

from __future__ import annotations

import importlib
import multiprocessing
import threading
from array import array
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any, Final

from librt.vecs import vec
from mypy_extensions import i32

if TYPE_CHECKING:
    from alignkit.bpe.tokenizer import SpecialSet, Tokenizer

#: Below this many characters in all, one process is faster than starting workers.
MIN_PARALLEL_CHARS: Final = 1 << 20

_WORKER: list[Tokenizer] = []


def _init(tok: Tokenizer) -> None:
    tok.n_vocab  # noqa: B018  (rebuild now, not on the first batch)
    _WORKER[:] = [tok]


def _work(args: tuple[list[str], SpecialSet]) -> tuple[bytes, bytes]:
    """Encode one batch; return its ids (int32) and per-text lengths (int32) as two buffers.

    The ids go from the compiled core into one native vector (no Python int per id), and
    two flat buffers pickle as two byte strings: the parent turns them into lists with
    ``array.tolist`` (C) or views them with numpy, instead of unpickling int by int.
    """
    return _encode_packed(_WORKER[0], *args)


def _encode_packed(tok: Tokenizer, texts: list[str], allowed: SpecialSet) -> tuple[bytes, bytes]:
    """:func:`_work` for a given tokenizer (also the in-process path)."""
    ids = vec[i32]()
    lengths = array("i")
    for t in texts:
        before = len(ids)
        ids = tok.encode_into(t, ids, allowed_special=allowed)
        lengths.append(len(ids) - before)
    return bytes(memoryview(ids)), lengths.tobytes()


def _unpack(packed: tuple[bytes, bytes], out: list[list[int]]) -> None:
    """Append the id lists of one batch returned by :func:`_work` to ``out``."""
    ids = array("i")
    ids.frombytes(packed[0])
    lengths = array("i")
    lengths.frombytes(packed[1])
    start = 0
    for n in lengths:
        out.append(ids[start : start + n].tolist())
        start += n


def start_method() -> str:
    """``fork`` where it exists and is safe (no other thread running), else ``spawn``.

    Forked workers inherit the tokenizer (no rebuild): measured here on 16 MB of novels with
    the bundled GPT-2, 2 processes ran 1.7x one, where spawned ones (import + rebuild) lost.
    """
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _packed_batches(
    tok: Tokenizer, texts: Sequence[str], num_proc: int, allowed_special: SpecialSet
) -> Iterator[tuple[bytes, bytes]]:
    """:func:`_work` results for ``texts`` in order: in this process or in ``num_proc`` workers."""
    if num_proc < 1:
        raise ValueError(f"num_proc must be >= 1, got {num_proc}")
    allowed: SpecialSet = allowed_special if allowed_special == "all" else frozenset(allowed_special)
    total = sum(len(t) for t in texts)
    if num_proc == 1 or len(texts) < 2 or total < MIN_PARALLEL_CHARS:
        yield _encode_packed(tok, list(texts), allowed)
        return
    n_batches = min(len(texts), num_proc * 8)
    step = -(-len(texts) // n_batches)
    batches = [(list(texts[i : i + step]), allowed) for i in range(0, len(texts), step)]
    ctx = multiprocessing.get_context(start_method())
    with ProcessPoolExecutor(num_proc, mp_context=ctx, initializer=_init, initargs=(tok,)) as pool:
        yield from pool.map(_work, batches)


def encode_batch(
    tok: Tokenizer, texts: Sequence[str], *, num_proc: int, allowed_special: SpecialSet
) -> list[list[int]]:
    """Encode ``texts`` in order, in ``num_proc`` worker processes when worth it.

    Example:
        >>> encode_batch(tok, ["a", "b"], num_proc=1, allowed_special="all")  # doctest: +SKIP
        [[64], [65]]
    """
    if num_proc < 1:
        raise ValueError(f"num_proc must be >= 1, got {num_proc}")
    if num_proc == 1 or len(texts) < 2 or sum(len(t) for t in texts) < MIN_PARALLEL_CHARS:
        return [tok.encode(t, allowed_special=allowed_special) for t in texts]
    out: list[list[int]] = []
    for packed in _packed_batches(tok, texts, num_proc, allowed_special):
        _unpack(packed, out)
    return out


def encode_batch_arrays(
    tok: Tokenizer, texts: Sequence[str], *, num_proc: int, allowed_special: SpecialSet, dtype: str
) -> tuple[Any, Any]:  # numpy arrays (not imported here: the mypyc build env has no numpy)
    """Encode ``texts`` into one flat id array and ``len(texts) + 1`` offsets (no int objects).

    Text ``k``'s ids are ``ids[offsets[k]:offsets[k + 1]]``. Workers send packed buffers,
    which are concatenated as they arrive, so the parent never builds Python ints.

    Example:
        >>> ids, offsets = encode_batch_arrays(tok, ["a b", "c"], num_proc=1,
        ...                                    allowed_special="all", dtype="uint32")  # doctest: +SKIP
        >>> ids.tolist(), offsets.tolist()  # doctest: +SKIP
        ([64, 275, 66], [0, 2, 3])
    """
    # imported by name: the isolated mypyc build env has no numpy to type-check against
    np: Any = importlib.import_module("numpy")

    id_parts: list[Any] = []
    len_parts: list[Any] = []
    for ids, lengths in _packed_batches(tok, texts, num_proc, allowed_special):
        id_parts.append(np.frombuffer(ids, dtype=np.int32))
        len_parts.append(np.frombuffer(lengths, dtype=np.int32))
    flat = np.concatenate(id_parts) if id_parts else np.zeros(0, np.int32)
    out = flat.astype(dtype)
    if flat.size and not np.array_equal(out, flat):
        raise ValueError(f"ids up to {int(flat.max())} do not fit dtype {dtype}")
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    if len_parts:
        np.cumsum(np.concatenate(len_parts), out=offsets[1:])
    return out, offsets
