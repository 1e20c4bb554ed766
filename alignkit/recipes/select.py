"""The selection step: rank the pool, then take ``k`` (with per-source quotas and an
optional diversity bound θ, Deita's greedy loop with MinHash Jaccard as the similarity).

Methods: ``first`` (input order), ``random`` (seeded shuffle), ``longest``
(Long-Is-More), ``score`` (a precomputed metadata field, descending, e.g. an
AlpaGasus or Deita score), ``diverse`` (walk the pool in ``order`` and keep a
record only if its Jaccard with every kept one is below ``theta``).

    >>> from alignkit.records import ChatExample, Turn
    >>> from alignkit.recipes.config import SelectStep
    >>> def item(uid, a):
    ...     ex = ChatExample(turns=[Turn(role="user", content="q"), Turn(role="assistant", content=a)])
    ...     return Item(uid, "s", ex)
    >>> pool = [item("s:1", "short"), item("s:2", "much longer answer"), item("s:3", "mid one")]
    >>> kept, drops, _ = select([*pool], SelectStep(type="select", method="longest", k=2), Context(seed=0))
    >>> [i.uid for i in kept]
    ['s:2', 's:3']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alignkit.errors import RecipeError
from alignkit.recipes.config import SelectStep
from alignkit.recipes.items import Context, Drop, Item, Pair
from alignkit.recipes.minhash import NearDupIndex
from alignkit.recipes.normalize import measure, text_view


def metadata_score(item: Item | Pair, field: str) -> float | None:
    """The number at dotted ``field`` of an item's metadata, or ``None`` when absent."""
    value: Any = item.record.metadata if isinstance(item, Item) else item.metadata
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _rank(items: list[Any], order: str, step: SelectStep, ctx: Context, drops: list[Drop]) -> list[Any]:
    if order in ("first", "input"):
        return items
    if order == "random":
        out = list(items)
        ctx.rng().shuffle(out)
        return out
    if order == "longest":
        if step.length_unit == "tokens" and ctx.count_tokens is None:
            raise RecipeError("select with length_unit = \"tokens\" needs 'tokenizer' at the top of the recipe")
        lengths = [measure(_text(it, step.length_field), step.length_unit, ctx.count_tokens) for it in items]
        idx = sorted(range(len(items)), key=lambda i: -lengths[i])
        return [items[i] for i in idx]
    assert step.score_field is not None
    scored: list[tuple[float, int]] = []
    for i, it in enumerate(items):
        s = metadata_score(it, step.score_field)
        if s is None:
            drops.append(Drop(it.uid, it.source, "select", "missing_score", f"no number at metadata.{step.score_field}"))
        elif step.min_score is not None and s < step.min_score:
            drops.append(Drop(it.uid, it.source, "select", "below_min_score", f"{s:g} < {step.min_score:g}"))
        else:
            scored.append((-s, i))
    scored.sort()
    return [items[i] for _, i in scored]


def _text(it: Item | Pair, field: str) -> str:
    if isinstance(it, Item):
        return text_view(it.record, field)  # type: ignore[arg-type]
    return it.chosen.text


def select(items: Sequence[Any], step: SelectStep, ctx: Context) -> tuple[list[Any], list[Drop], dict[str, Any]]:
    """Run a selection step; returns the kept items in input order, drops and stats."""
    drops: list[Drop] = []
    pool = list(items)
    order = step.order if step.method == "diverse" else step.method
    ranked = _rank(pool, order, step, ctx, drops)
    quotas = dict(step.quotas or {})
    if quotas and (step.k is None or "k" not in step.model_fields_set):
        k = sum(quotas.values())  # quotas and no k: the quotas say how many
    else:
        k = step.k if step.k is not None else len(ranked)
    index = (NearDupIndex(step.theta, step.ngram, seed=ctx.seed + 2) if step.method == "diverse" else None)
    taken: dict[str, int] = {}
    chosen: set[str] = set()
    similar: set[str] = set()
    passes = [True, False] if quotas and step.fill else [bool(quotas)]
    for use_quota in passes:
        bar = ctx.bar(len(ranked), "select")
        for it in ranked:
            if len(chosen) >= k:
                break
            if it.uid in chosen or it.uid in similar:
                continue
            if use_quota and taken.get(it.source, 0) >= quotas.get(it.source, 0):
                continue
            if index is not None:
                sh = index.shingler.shingles(_text(it, "prompt_response"))
                sig = index.hasher.signatures([sh])[0]
                found = index.match(sh, sig)
                if found is not None:
                    similar.add(it.uid)
                    drops.append(Drop(it.uid, it.source, "select", "too_similar",
                                      f"Jaccard {found[1]:.3f} >= theta {step.theta} with a selected record"))
                    continue
                index.add(sh, sig)
            chosen.add(it.uid)
            taken[it.source] = taken.get(it.source, 0) + 1
            bar.update(1)
        bar.close()
    kept = [it for it in pool if it.uid in chosen]
    dropped = {d.uid for d in drops}
    for it in ranked:
        if it.uid not in chosen and it.uid not in dropped:
            drops.append(Drop(it.uid, it.source, "select", "not_selected", f"outside the {k} selected"))
    shortfall = max(0, k - len(kept))
    if shortfall and step.strict:
        raise RecipeError(f"strict: only {len(kept)} records are left for k = {k}; lower 'k', loosen the"
                          " earlier steps, or set strict = false to accept a shortfall (it is reported)")
    stats: dict[str, Any] = {"k": k, "shortfall": shortfall, "per_source_selected": dict(sorted(taken.items()))}
    if quotas:
        stats["quotas"] = dict(sorted(quotas.items()))
        stats["unknown_quota_sources"] = sorted(set(quotas) - {it.source for it in pool})
    return kept, drops, stats
