"""Preference pairs from scored responses, length-bias control and a/b positions.

Strategies (scores are aspect ratings averaged when a response has ratings,
as in Argilla's re-binarization of UltraFeedback):

- ``best_vs_random_lower``: the best response against a random strictly lower one (Zephyr / Argilla);
- ``best_vs_worst``: the best against the worst (SimPO's on-policy data);
- ``all_pairs``: every pair whose score differs by at least ``min_margin`` (InstructGPT).

Ties are dropped by default, identical texts are never paired, and every pair
has ``chosen score - rejected score >= min_margin``.

    >>> from alignkit.records import Turn
    >>> from alignkit.recipes.config import PairsStep
    >>> g = Group("g:1", "s", [Turn(role="user", content="q")],
    ...           [Candidate("ok", 7.0), Candidate("great", 9.0), Candidate("bad", 2.0)])
    >>> pairs, drops, _ = build_pairs([g], PairsStep(type="pairs", strategy="best_vs_worst"), Context(seed=0))
    >>> pairs[0].chosen.text, pairs[0].rejected.text, pairs[0].chosen_score - pairs[0].rejected_score
    ('great', 'bad', 7.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alignkit.errors import RecipeError
from alignkit.recipes.config import LengthBiasStep, PairsStep
from alignkit.recipes.items import Candidate, Context, Drop, Group, Pair
from alignkit.recipes.normalize import measure
from alignkit.records import PreferenceExample


def candidate_score(c: Candidate, aspects: list[str] | None) -> float | None:
    """The mean of the chosen aspect ratings, else the plain score (``None``: unscored)."""
    if aspects:
        vals = [c.ratings[a] for a in aspects if a in c.ratings]
        return sum(vals) / len(vals) if len(vals) == len(aspects) else None
    if c.ratings and c.score is None:
        return sum(c.ratings.values()) / len(c.ratings)
    return c.score


def _pairs_of(g: Group, step: PairsStep, ctx: Context, rng: Any) -> tuple[list[Pair], str, str]:
    scored: list[tuple[float, int, Candidate]] = []
    seen: set[str] = set()
    unscored = 0
    for i, c in enumerate(g.candidates):
        s = candidate_score(c, step.aspects)
        unscored += s is None
        if s is None or not c.text.strip() or c.text in seen:
            continue
        seen.add(c.text)
        scored.append((s, i, c))
    if len(scored) < 2:
        texts = [c.text for c in g.candidates if c.text.strip()]
        reason = ("empty_response" if len(texts) < len(g.candidates) else
                  "identical_responses" if len(set(texts)) < len(texts) else
                  "missing_score" if unscored else "fewer_than_two_responses")
        detail = f"{len(scored)} distinct scored response(s)"
        if unscored:
            what = f"the ratings {', '.join(step.aspects)}" if step.aspects else "a score or ratings"
            detail += f"; {unscored} without {what}"
        return [], reason, detail
    by_best = sorted(scored, key=lambda t: (-t[0], t[1]))

    def ok(hi: tuple[float, int, Candidate], lo: tuple[float, int, Candidate]) -> bool:
        margin = hi[0] - lo[0]
        return margin >= step.min_margin and (margin > 0 or not step.drop_ties)

    def make(hi: tuple[float, int, Candidate], lo: tuple[float, int, Candidate], n: int) -> Pair:
        uid = g.uid if n == 0 else f"{g.uid}#{n}"
        record_id = g.record_id if n == 0 or g.record_id is None else f"{g.record_id}#{n}"
        return Pair(uid, g.source, g.history, hi[2], lo[2], hi[0], lo[0], dict(g.metadata), record_id)

    best = by_best[0]
    if step.strategy == "best_vs_worst":
        cands = [by_best[-1]] if ok(best, by_best[-1]) else []
    elif step.strategy == "best_vs_random_lower":
        lower = [t for t in by_best[1:] if ok(best, t)]
        cands = [lower[rng.randrange(len(lower))]] if lower else []
    else:
        all_pairs = [(hi, lo) for a, hi in enumerate(by_best) for lo in by_best[a + 1:] if ok(hi, lo)]
        all_pairs.sort(key=lambda p: -(p[0][0] - p[1][0]))  # widest margins first (stable)
        if step.max_pairs_per_prompt:
            all_pairs = all_pairs[: step.max_pairs_per_prompt]
        return [make(hi, lo, n) for n, (hi, lo) in enumerate(all_pairs)], "no_pair", _why(by_best, step)
    return [make(best, lo, 0) for lo in cands], "no_pair", _why(by_best, step)


def _why(by_best: list[tuple[float, int, Candidate]], step: PairsStep) -> str:
    spread = by_best[0][0] - by_best[-1][0]
    if spread == 0:
        return f"all {len(by_best)} responses tie at {by_best[0][0]:g}"
    return f"score spread {spread:g} below min_margin {step.min_margin:g}"


def build_pairs(groups: Sequence[Group], step: PairsStep, ctx: Context) -> tuple[list[Pair], list[Drop], dict[str, Any]]:
    """Pairs from every group, or a drop naming why a group gave none.

    Raises:
        RecipeError: an aspect of ``step.aspects`` that no response is rated on (a misspelt
            name would otherwise drop every group).
    """
    if step.aspects:
        rated = {a for g in groups for c in g.candidates for a in c.ratings}
        unknown = [a for a in step.aspects if a not in rated]
        if unknown and groups:
            known = ", ".join(repr(a) for a in sorted(rated)) or "none: the responses have plain scores"
            raise RecipeError(f"aspects: {', '.join(repr(a) for a in unknown)} is not a rating of any response"
                              f" (ratings seen: {known}); fix the name, or leave 'aspects' out to average all")
    rng = ctx.rng()
    pairs: list[Pair] = []
    drops: list[Drop] = []
    for g in groups:
        made, reason, detail = _pairs_of(g, step, ctx, rng)
        if made:
            pairs.extend(made)
        else:
            if reason == "no_pair":
                reason = "tie" if detail.startswith("all ") else "below_min_margin"
            drops.append(Drop(g.uid, g.source, "pairs", reason, detail))
    margins = [p.chosen_score - p.rejected_score for p in pairs]
    stats = {"groups_in": len(groups), "pairs_out": len(pairs),
             "mean_margin": round(sum(margins) / len(margins), 4) if margins else None}
    return pairs, drops, stats


def chosen_longer(pairs: Sequence[Pair]) -> float | None:
    """Fraction of pairs whose chosen response is longer (in characters) than the rejected one."""
    if not pairs:
        return None
    return round(sum(len(p.chosen.text) > len(p.rejected.text) for p in pairs) / len(pairs), 4)


def length_bias(pairs: Sequence[Pair], step: LengthBiasStep, ctx: Context) -> tuple[list[Pair], list[Drop], dict[str, Any]]:
    """Drop pairs whose chosen/rejected length ratio exceeds ``max_ratio``."""
    kept: list[Pair] = []
    drops: list[Drop] = []
    for p in pairs:
        lc = measure(p.chosen.text, step.unit, ctx.count_tokens)
        lr = measure(p.rejected.text, step.unit, ctx.count_tokens)
        ratio = lc / max(lr, 1)
        if ratio > step.max_ratio:
            drops.append(Drop(p.uid, p.source, "length_bias", "length_ratio",
                              f"chosen/rejected = {ratio:.2f} > {step.max_ratio:g} ({step.unit})"))
        else:
            kept.append(p)
    stats = {"chosen_longer_before": chosen_longer(pairs), "chosen_longer_after": chosen_longer(kept)}
    return kept, drops, stats


def assign_positions(pairs: Sequence[Pair], mode: str, ctx: Context) -> list[PreferenceExample]:
    """Preference records with ``chosen`` on "a" or "b": exactly balanced (``balanced``,
    a random half on "a") or a seeded coin per pair (``random``)."""
    rng = ctx.rng()
    n = len(pairs)
    if mode == "balanced":
        on_a = [i < n // 2 for i in range(n)]
        if n % 2:
            on_a[-1] = rng.random() < 0.5
        rng.shuffle(on_a)
    else:
        on_a = [rng.random() < 0.5 for _ in range(n)]
    return [p.to_example(a) for p, a in zip(pairs, on_a)]
