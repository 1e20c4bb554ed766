"""MinHash signatures over word n-grams, and an LSH index for near-duplicate search.

Shingles are word n-grams hashed to 64 bits with a stable hash (BLAKE2b of each
word, combined polynomially), so results never depend on ``PYTHONHASHSEED``.
Each of ``num_perm`` hash functions is a multiply-shift hash ``(a·x + b) >> 32``
with fixed seeded coefficients. The LSH index splits a signature into ``bands``
bands of ``rows`` rows; two texts become candidates when one band agrees, and a
candidate only counts as a duplicate after its *exact* Jaccard similarity (on
the shingle sets) is checked, so there are no false positives.

    >>> sh = Shingler(ngram=2)
    >>> a, b = sh.shingles("the cat sat on the mat"), sh.shingles("the cat sat on a mat")
    >>> round(jaccard(a, b), 3)
    0.429
    >>> index = NearDupIndex(threshold=0.4, ngram=2)
    >>> index.add_if_new("the cat sat on the mat"), index.add_if_new("the cat sat on a mat")
    (None, (0, 0.42857142857142855))
"""

from __future__ import annotations

import hashlib
from typing import Final

import numpy as np
import numpy.typing as npt

from alignkit.recipes.normalize import words

U64 = npt.NDArray[np.uint64]
_MIX: Final = np.uint64(0x9E3779B97F4A7C15)
_EMPTY: Final = np.zeros(0, dtype=np.uint64)


class Shingler:
    """Text → sorted unique 64-bit hashes of its word n-grams (a text shorter than
    ``ngram`` words is one shingle; an empty text has none)."""

    def __init__(self, ngram: int = 5) -> None:
        self.ngram = ngram
        self._cache: dict[str, int] = {}

    def _hash_words(self, ws: list[str]) -> U64:
        cache = self._cache
        try:
            vals = list(map(cache.__getitem__, ws))
        except KeyError:
            if len(cache) > 2_000_000:  # bound the memory of a huge vocabulary
                cache.clear()
            for w in ws:
                if w not in cache:
                    digest = hashlib.blake2b(w.encode("utf-8"), digest_size=8).digest()
                    cache[w] = int.from_bytes(digest, "little")
            vals = list(map(cache.__getitem__, ws))
        return np.array(vals, dtype=np.uint64)

    def shingles(self, text: str) -> U64:
        ws = words(text)
        if not ws:
            return _EMPTY
        arr = self._hash_words(ws)
        n = min(self.ngram, len(ws))
        m = len(ws) - n + 1
        h = arr[:m].copy()
        with np.errstate(over="ignore"):
            for j in range(1, n):
                h = h * _MIX + arr[j : j + m]
        return np.unique(h)


def jaccard(a: U64, b: U64) -> float:
    """Exact Jaccard similarity of two sorted unique shingle arrays (0 when both are empty)."""
    if a.size == 0 and b.size == 0:
        return 0.0
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (a.size + b.size - inter)


def choose_bands(threshold: float, num_perm: int, recall: float = 0.995) -> tuple[int, int]:
    """``(bands, rows)``: the most rows per band whose candidate probability at
    ``threshold`` is still at least ``recall``.

    Example:
        >>> choose_bands(0.8, 128)
        (21, 6)
    """
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= recall:
            best = (bands, rows)
        else:
            break
    return best


class MinHasher:
    """``num_perm`` seeded multiply-shift hash functions; :meth:`signatures` of shingle arrays."""

    def __init__(self, num_perm: int = 128, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self.a = (rng.integers(0, 2**63, num_perm, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
        self.b = rng.integers(0, 2**63, num_perm, dtype=np.uint64)

    def signatures(self, batch: list[U64]) -> npt.NDArray[np.uint32]:
        """One ``num_perm``-long signature row per shingle array (all-ones for an empty one)."""
        out = np.full((len(batch), self.num_perm), 0xFFFFFFFF, dtype=np.uint32)
        keep = [i for i, s in enumerate(batch) if s.size]
        if not keep:
            return out
        flat = np.concatenate([batch[i] for i in keep])
        starts = np.cumsum([0] + [batch[i].size for i in keep[:-1]])
        with np.errstate(over="ignore"):
            hv = np.multiply(self.a[:, None], flat[None, :])
            hv += self.b[:, None]
        hv >>= np.uint64(32)
        out[keep] = np.minimum.reduceat(hv, starts, axis=1).T.astype(np.uint32)
        return out


class NearDupIndex:
    """Kept texts, searchable for one at or above ``threshold`` Jaccard.

    :meth:`add_if_new` returns ``None`` and keeps the text when nothing kept is
    that similar, else ``(index of the kept match, its Jaccard)``.
    """

    def __init__(self, threshold: float, ngram: int = 5, num_perm: int = 128,
                 bands: int | None = None, seed: int = 1) -> None:
        self.threshold = threshold
        self.shingler = Shingler(ngram)
        self.hasher = MinHasher(num_perm, seed)
        if bands is None:
            self.bands, self.rows = choose_bands(threshold, num_perm)
        else:
            self.bands, self.rows = bands, max(1, num_perm // bands)
        # Band key -> the kept index, or a list of them once a second one shares the key.
        self._buckets: list[dict[bytes, int | list[int]]] = [{} for _ in range(self.bands)]
        self._kept: list[U64] = []
        #: Exact Jaccard computations done (candidates verified): the work that LSH saves.
        self.comparisons = 0

    def _keys(self, sig: npt.NDArray[np.uint32]) -> list[bytes]:
        raw = sig.tobytes()
        w = self.rows * 4  # bytes per band (uint32 rows)
        return [raw[i * w : (i + 1) * w] for i in range(self.bands)]

    def match(self, sh: U64, sig: npt.NDArray[np.uint32]) -> tuple[int, float] | None:
        """The first kept text (lowest index) at or above the threshold, or ``None``."""
        if sh.size == 0:
            return None
        cands: set[int] = set()
        for bucket, key in zip(self._buckets, self._keys(sig)):
            hit = bucket.get(key)
            if hit is None:
                continue
            if isinstance(hit, int):
                cands.add(hit)
            else:
                cands.update(hit)
        for j in sorted(cands):
            self.comparisons += 1
            sim = jaccard(sh, self._kept[j])
            if sim >= self.threshold:
                return j, sim
        return None

    def add(self, sh: U64, sig: npt.NDArray[np.uint32]) -> int:
        """Keep a text (its shingles and signature); returns its index."""
        idx = len(self._kept)
        self._kept.append(sh)
        if sh.size:
            for bucket, key in zip(self._buckets, self._keys(sig)):
                hit = bucket.get(key)
                if hit is None:
                    bucket[key] = idx
                elif isinstance(hit, int):
                    bucket[key] = [hit, idx]
                else:
                    hit.append(idx)
        return idx

    def add_if_new(self, text: str) -> tuple[int, float] | None:
        """Keep ``text`` unless a kept text is a near duplicate; returns that match."""
        sh = self.shingler.shingles(text)
        sig = self.hasher.signatures([sh])[0]
        found = self.match(sh, sig)
        if found is None:
            self.add(sh, sig)
        return found
