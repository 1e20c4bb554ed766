"""MinHash + LSH near-dup search against brute-force Jaccard."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.recipes.minhash import MinHasher, NearDupIndex, Shingler, choose_bands, jaccard
from alignkit.recipes.normalize import words


def ref_shingles(text: str, n: int) -> set[tuple[str, ...]]:
    ws = words(text)
    if not ws:
        return set()
    n = min(n, len(ws))
    return {tuple(ws[i : i + n]) for i in range(len(ws) - n + 1)}


def ref_jaccard(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


WORDS = st.lists(st.sampled_from("alpha beta gamma delta eps zeta eta theta iota kappa".split()), max_size=30)


@settings(max_examples=200, deadline=None)
@given(WORDS, WORDS, st.integers(1, 5))
def test_hashed_jaccard_equals_reference(a: list[str], b: list[str], n: int) -> None:
    sh = Shingler(n)
    ta, tb = " ".join(a), " ".join(b)
    assert jaccard(sh.shingles(ta), sh.shingles(tb)) == ref_jaccard(ref_shingles(ta, n), ref_shingles(tb, n))


def test_signature_estimates_jaccard() -> None:
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(500)]
    base = [rng.choice(vocab) for _ in range(300)]
    other = list(base)
    for i in rng.sample(range(300), 30):
        other[i] = rng.choice(vocab)
    sh = Shingler(3)
    a, b = sh.shingles(" ".join(base)), sh.shingles(" ".join(other))
    sig = MinHasher(256, seed=1).signatures([a, b])
    est = float(np.mean(sig[0] == sig[1]))
    assert abs(est - jaccard(a, b)) < 0.1


def test_signatures_are_stable_across_runs() -> None:
    sig = MinHasher(8, seed=1).signatures([Shingler(2).shingles("the quick brown fox")])[0]
    again = MinHasher(8, seed=1).signatures([Shingler(2).shingles("the quick brown fox")])[0]
    assert sig.tolist() == again.tolist()
    assert MinHasher(8, seed=2).signatures([Shingler(2).shingles("the quick brown fox")])[0].tolist() != sig.tolist()


def test_choose_bands_has_high_recall_at_threshold() -> None:
    for t in (0.5, 0.7, 0.8, 0.9):
        b, r = choose_bands(t, 128)
        assert b * r <= 128
        assert 1 - (1 - t**r) ** b >= 0.995


def _corpus(n: int, seed: int) -> list[str]:
    """Random texts, a third of them light edits of an earlier one."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(2000)]
    texts: list[str] = []
    for i in range(n):
        if texts and i % 3 == 0:
            ws = rng.choice(texts).split()
            for j in rng.sample(range(len(ws)), rng.randint(0, 4)):
                ws[j] = rng.choice(vocab)
            texts.append(" ".join(ws))
        else:
            texts.append(" ".join(rng.choice(vocab) for _ in range(rng.randint(20, 80))))
    return texts


def test_index_matches_brute_force() -> None:
    texts = _corpus(400, seed=3)
    threshold = 0.7
    index = NearDupIndex(threshold, ngram=3)
    kept_idx: list[int] = []
    for i, t in enumerate(texts):
        if index.add_if_new(t) is None:
            kept_idx.append(i)
    refs = [ref_shingles(t, 3) for t in texts]
    kept = set(kept_idx)
    # no two kept texts at or above the threshold
    for x in range(len(kept_idx)):
        for y in range(x + 1, len(kept_idx)):
            assert ref_jaccard(refs[kept_idx[x]], refs[kept_idx[y]]) < threshold
    # every dropped text has a kept twin at or above the threshold (no false positives)
    dropped = [i for i in range(len(texts)) if i not in kept]
    assert dropped, "the corpus must hold near duplicates"
    for i in dropped:
        assert any(ref_jaccard(refs[i], refs[j]) >= threshold for j in kept_idx if j < i)
    # sub-quadratic: far fewer exact comparisons than pairs
    assert index.comparisons < len(texts) * (len(texts) - 1) / 2 / 20


def test_empty_text_is_never_a_duplicate() -> None:
    index = NearDupIndex(0.5, ngram=2)
    assert index.add_if_new("") is None
    assert index.add_if_new("...") is None
