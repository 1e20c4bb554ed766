"""Preference-pair building: strategies, ties, margins, length bias, positions."""

from __future__ import annotations

from _recipe_helpers import ctx, group
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.recipes.config import LengthBiasStep, PairsStep
from alignkit.recipes.items import Candidate, Group
from alignkit.recipes.pairs import assign_positions, build_pairs, candidate_score, chosen_longer, length_bias
from alignkit.records import Turn


def pairs_step(**kw: object) -> PairsStep:
    return PairsStep.model_validate({"type": "pairs", **kw})


def test_best_vs_worst() -> None:
    pairs, drops, stats = build_pairs([group("g:1", [5, 9, 1, 7])], pairs_step(strategy="best_vs_worst"), ctx())
    assert [(p.chosen_score, p.rejected_score) for p in pairs] == [(9, 1)]
    assert stats["pairs_out"] == 1 and not drops


def test_best_vs_random_lower_is_seeded_and_strictly_lower() -> None:
    groups = [group(f"g:{i}", [5, 9, 1, 7, 9]) for i in range(40)]
    pairs, _, _ = build_pairs(groups, pairs_step(), ctx(0))
    assert all(p.chosen_score == 9 and p.rejected_score < 9 for p in pairs)
    assert {p.rejected_score for p in pairs} == {5, 1, 7}
    again, _, _ = build_pairs(groups, pairs_step(), ctx(0))
    assert [p.rejected.text for p in pairs] == [p.rejected.text for p in again]


def test_all_pairs_with_margin() -> None:
    pairs, _, _ = build_pairs([group("g:1", [1, 2, 4, 4])], pairs_step(strategy="all_pairs", min_margin=2), ctx())
    got = sorted((p.chosen_score, p.rejected_score) for p in pairs)
    assert got == [(4, 1), (4, 1), (4, 2), (4, 2)]
    assert len({p.uid for p in pairs}) == 4
    capped, _, _ = build_pairs([group("g:1", [1, 2, 4, 4])],
                               pairs_step(strategy="all_pairs", max_pairs_per_prompt=1), ctx())
    assert [(p.chosen_score, p.rejected_score) for p in capped] == [(4, 1)]


def test_ties_and_margins_drop_groups_with_reasons() -> None:
    groups = [group("g:1", [3, 3]), group("g:2", [3, 3.5]), group("g:3", [1])]
    pairs, drops, _ = build_pairs(groups, pairs_step(min_margin=1), ctx())
    assert pairs == []
    assert [d.reason for d in drops] == ["tie", "below_min_margin", "fewer_than_two_responses"]
    pairs, _, _ = build_pairs([group("g:1", [3, 3])], pairs_step(drop_ties=False), ctx())
    assert len(pairs) == 1


def test_identical_texts_are_never_paired() -> None:
    g = group("g:1", [9, 1, 5], texts=["same", "same", "other"])
    pairs, _, _ = build_pairs([g], pairs_step(strategy="best_vs_worst"), ctx())
    assert [(p.chosen.text, p.rejected.text) for p in pairs] == [("same", "other")]
    pairs, drops, _ = build_pairs([group("g:2", [9, 1], texts=["same", "same"])], pairs_step(), ctx())
    assert pairs == [] and drops[0].reason == "identical_responses"


def test_aspect_ratings_are_averaged() -> None:
    c = Candidate("x", ratings={"helpfulness": 4, "honesty": 2, "style": 5})
    assert candidate_score(c, None) == 11 / 3
    assert candidate_score(c, ["helpfulness", "honesty"]) == 3
    assert candidate_score(c, ["helpfulness", "missing"]) is None
    g = Group("g:1", "s", [Turn(role="user", content="q")], [
        Candidate("a", ratings={"h": 5, "o": 1}), Candidate("b", ratings={"h": 2, "o": 3})])
    pairs, _, _ = build_pairs([g], pairs_step(strategy="best_vs_worst"), ctx())
    assert pairs[0].chosen.text == "a"  # means: a 3.0, b 2.5
    assert (pairs[0].chosen_score, pairs[0].rejected_score) == (3.0, 2.5)
    pairs, _, _ = build_pairs([g], pairs_step(strategy="best_vs_worst", aspects=["o"]), ctx())
    assert pairs[0].chosen.text == "b"  # on aspect "o" only: a 1, b 3


def test_length_bias_cap_and_report() -> None:
    groups = [group("g:1", [2, 1], texts=["long " * 50, "short"]), group("g:2", [2, 1], texts=["tiny", "longer one"])]
    pairs, _, _ = build_pairs(groups, pairs_step(), ctx())
    assert chosen_longer(pairs) == 0.5
    kept, drops, stats = length_bias(pairs, LengthBiasStep(type="length_bias", max_ratio=2), ctx())
    assert [p.uid for p in kept] == ["g:2"] and drops[0].reason == "length_ratio"
    assert stats == {"chosen_longer_before": 0.5, "chosen_longer_after": 0.0}


def test_balanced_positions() -> None:
    pairs, _, _ = build_pairs([group(f"g:{i}", [2, 1]) for i in range(101)], pairs_step(), ctx())
    recs = assign_positions(pairs, "balanced", ctx())
    on_a = sum(r.chosen == "a" for r in recs)
    assert on_a in (50, 51)
    assert all(r.chosen_response == p.chosen.text and r.chosen_score == p.chosen_score for r, p in zip(recs, pairs))
    assert [r.chosen for r in recs] == [r.chosen for r in assign_positions(pairs, "balanced", ctx())]
    assert [r.chosen for r in recs] != [r.chosen for r in assign_positions(pairs, "balanced", ctx(1))]
    coin = assign_positions(pairs, "random", ctx())
    assert 30 < sum(r.chosen == "a" for r in coin) < 70


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.integers(0, 5), min_size=0, max_size=6), max_size=8),
       st.sampled_from(["best_vs_random_lower", "best_vs_worst", "all_pairs"]),
       st.sampled_from([0.0, 1.0, 2.0]), st.integers(0, 3))
def test_every_pair_is_ordered_and_accounted(scores: list[list[int]], strategy: str, margin: float, seed: int) -> None:
    groups = [group(f"g:{i}", [float(s) for s in ss]) for i, ss in enumerate(scores)]
    pairs, drops, _ = build_pairs(groups, pairs_step(strategy=strategy, min_margin=margin), ctx(seed))
    for p in pairs:
        assert p.chosen_score - p.rejected_score >= margin
        assert p.chosen_score > p.rejected_score
        assert p.chosen.text != p.rejected.text
    made = {p.uid.split("#")[0] for p in pairs}
    assert made.isdisjoint({d.uid for d in drops})
    assert made | {d.uid for d in drops} == {g.uid for g in groups}


def test_a_misspelt_aspect_is_an_error_and_unrated_groups_say_why() -> None:
    import pytest

    from alignkit.errors import RecipeError

    def rated(uid: str, *ratings: dict[str, float]) -> Group:
        return Group(uid, "s", [Turn(role="user", content="q")],
                     [Candidate(f"answer {i}", ratings=r) for i, r in enumerate(ratings)])

    groups = [rated("g:1", {"help": 5, "honest": 1}, {"help": 2, "honest": 3}),
              rated("g:2", {"help": 5}, {"help": 2})]
    # a typo used to drop every group as fewer_than_two_responses, and the run exited 0
    with pytest.raises(RecipeError, match=r"aspects: 'helpfulness' is not a rating of any response \(ratings seen:"
                                          r" 'help', 'honest'\); fix the name"):
        build_pairs(groups, pairs_step(aspects=["helpfulness"]), ctx())
    pairs, drops, _ = build_pairs(groups, pairs_step(aspects=["honest"]), ctx())
    assert [p.uid for p in pairs] == ["g:1"]
    assert [(d.uid, d.reason, d.detail) for d in drops] == [
        ("g:2", "missing_score", "0 distinct scored response(s); 2 without the ratings honest")]
    unscored = Group("g:3", "s", [Turn(role="user", content="q")], [Candidate("a"), Candidate("b", 2.0)])
    _, drops, _ = build_pairs([unscored], pairs_step(), ctx())
    assert (drops[0].reason, drops[0].detail) == ("missing_score", "1 distinct scored response(s); 1 without a score or ratings")
