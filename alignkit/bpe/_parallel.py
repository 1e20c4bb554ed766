"""Process-parallel batch encoding.

Workers receive the tokenizer pickled by its source and content hash (a few
bytes; see ``Tokenizer.__getstate__``) and rebuild it once per process.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from alignkit.bpe.tokenizer import SpecialSet, Tokenizer

#: Below this many characters in all, one process is faster than starting workers.
MIN_PARALLEL_CHARS: Final = 1 << 20

_WORKER: list[Tokenizer] = []


def _init(tok: Tokenizer) -> None:
    tok.n_vocab  # noqa: B018  (rebuild now, not on the first batch)
    _WORKER[:] = [tok]


def _work(args: tuple[list[str], SpecialSet]) -> list[list[int]]:
    texts, allowed = args
    tok = _WORKER[0]
    return [tok.encode(t, allowed_special=allowed) for t in texts]


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
    total = sum(len(t) for t in texts)
    if num_proc == 1 or len(texts) < 2 or total < MIN_PARALLEL_CHARS:
        return [tok.encode(t, allowed_special=allowed_special) for t in texts]
    allowed: SpecialSet = allowed_special if allowed_special == "all" else frozenset(allowed_special)
    n_batches = min(len(texts), num_proc * 8)
    step = -(-len(texts) // n_batches)
    batches = [(list(texts[i : i + step]), allowed) for i in range(0, len(texts), step)]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(num_proc, mp_context=ctx, initializer=_init, initargs=(tok,)) as pool:
        out: list[list[int]] = []
        for part in pool.map(_work, batches):
            out.extend(part)
    return out
