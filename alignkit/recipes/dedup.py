"""Exact and near deduplication steps (the first occurrence in input order wins).

    >>> from alignkit.records import ChatExample, Turn
    >>> from alignkit.recipes.config import ExactDedupStep
    >>> def item(uid, q, a):
    ...     ex = ChatExample(turns=[Turn(role="user", content=q), Turn(role="assistant", content=a)])
    ...     return Item(uid, "s", ex)
    >>> kept, drops, _ = exact_dedup([item("s:1", "Hi", "A"), item("s:2", " hi ", "B")],
    ...                              ExactDedupStep(type="exact_dedup"), Context(seed=0))
    >>> [i.uid for i in kept], drops[0].reason
    (['s:1'], 'exact_duplicate:prompt')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from alignkit.recipes.config import ExactDedupStep, NearDedupStep
from alignkit.recipes.items import Context, Drop, Item, Pair
from alignkit.recipes.minhash import NearDupIndex
from alignkit.recipes.normalize import dedup_key, digest, text_view

T = TypeVar("T", Item, Pair)
_BATCH = 128


def item_text(item: Item | Pair, kind: str) -> str:
    """The text an SFT item or a pair is deduplicated on (``prompt``, ``response``, …, ``pair``)."""
    if isinstance(item, Item):
        if kind == "pair":
            kind = "prompt_response"
        return text_view(item.record, kind)  # type: ignore[arg-type]
    prompt = "\n\n".join(t.content for t in item.history)
    if kind == "prompt":
        return prompt
    if kind == "response":
        return item.chosen.text
    if kind == "prompt_response":
        return f"{prompt}\n\n{item.chosen.text}"
    return f"{prompt}\x00{item.chosen.text}\x00{item.rejected.text}"


def exact_dedup(items: Sequence[T], step: ExactDedupStep, ctx: Context) -> tuple[list[T], list[Drop], dict[str, Any]]:
    """Drop items whose normalised key of any kind in ``step.on`` was seen on a kept item."""
    seen: dict[str, dict[bytes, str]] = {kind: {} for kind in step.on}
    kept: list[T] = []
    drops: list[Drop] = []
    for item in items:
        keys = [(kind, digest(dedup_key(item_text(item, kind)))) for kind in step.on]
        first = next(((k, seen[k][d]) for k, d in keys if d in seen[k]), None)
        if first is not None:
            drops.append(Drop(item.uid, item.source, "exact_dedup", f"exact_duplicate:{first[0]}",
                              f"same normalised {first[0]} as {first[1]}"))
            continue
        for kind, d in keys:
            seen[kind][d] = item.uid
        kept.append(item)
    return kept, drops, {}


def greedy_unique(
    items: Sequence[T], text: Callable[[T], str], index: NearDupIndex, ctx: Context, desc: str,
    limit: int | None = None,
) -> tuple[list[T], list[tuple[T, T, float]]]:
    """Walk ``items`` in order, keeping each one with no kept near duplicate in ``index``.

    Returns the kept items and ``(dropped, kept match, jaccard)`` triples; stops
    keeping (and reports nothing more) once ``limit`` items are kept.
    """
    kept: list[T] = []
    dups: list[tuple[T, T, float]] = []
    bar = ctx.bar(len(items), desc)
    for start in range(0, len(items), _BATCH):
        chunk = items[start : start + _BATCH]
        shingles = [index.shingler.shingles(text(it)) for it in chunk]
        sigs = index.hasher.signatures(shingles)
        for j, it in enumerate(chunk):
            found = index.match(shingles[j], sigs[j])
            if found is None:
                index.add(shingles[j], sigs[j])
                kept.append(it)
                if limit is not None and len(kept) >= limit:
                    bar.close()
                    return kept, dups
            else:
                dups.append((it, kept[found[0]], found[1]))
        bar.update(len(chunk))
    bar.close()
    return kept, dups


def near_dedup(items: Sequence[T], step: NearDedupStep, ctx: Context) -> tuple[list[T], list[Drop], dict[str, Any]]:
    """MinHash + LSH near-dedup: drop an item whose Jaccard with a kept one is ≥ ``threshold``."""
    index = NearDupIndex(step.threshold, step.ngram, step.num_perm, step.bands, seed=ctx.seed + 1)
    kept, dups = greedy_unique(items, lambda it: item_text(it, step.field), index, ctx, "near_dedup")
    drops = [
        Drop(d.uid, d.source, "near_dedup", "near_duplicate", f"Jaccard {sim:.3f} with {k.uid}")
        for d, k, sim in dups
    ]
    stats = {"bands": index.bands, "rows": index.rows, "verified_candidates": index.comparisons}
    return kept, drops, stats
