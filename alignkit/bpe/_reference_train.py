"""Reference BPE trainer: short, slow, obviously correct. For tests only.

It reads the whole text, splits it at the special tokens, pre-tokenizes each
part with the split pattern, and then, for every merge, recounts every pair
of every word from scratch and merges the best one.
"""

from __future__ import annotations

from collections import Counter

import regex

from alignkit.bpe.patterns import GPT2


def gpt2_byte_order() -> list[int]:
    """The 256 byte values in the order of GPT-2's byte-to-unicode table.

    Printable bytes first (``!``..``~``, ``¡``..``¬``, ``®``..``ÿ``), then the
    others in increasing order; CS336's reference vocabulary uses this order.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    return printable + [b for b in range(256) if b not in printable]


def count_words(text: str, special_tokens: list[str], pattern: str = GPT2) -> Counter[bytes]:
    """Pre-token counts of ``text``; special tokens split it and are dropped."""
    parts = [text]
    if special_tokens:
        alternation = "|".join(regex.escape(s) for s in sorted(special_tokens, key=len, reverse=True))
        parts = regex.split(alternation, text)
    counts: Counter[bytes] = Counter()
    for part in parts:
        counts.update(piece.encode("utf-8") for piece in regex.findall(pattern, part))
    return counts


def merge_counts(words: dict[bytes, int], num_merges: int) -> list[tuple[bytes, bytes]]:
    """Learn up to ``num_merges`` merges over counted words (stops when no pair is left)."""
    split = {tuple(bytes([b]) for b in word): n for word, n in words.items()}
    merges: list[tuple[bytes, bytes]] = []
    while len(merges) < num_merges:
        pairs: Counter[tuple[bytes, bytes]] = Counter()
        for parts, n in split.items():
            for pair in zip(parts, parts[1:]):
                pairs[pair] += n
        if not pairs:
            break
        best = max(pairs, key=lambda pair: (pairs[pair], pair))
        merges.append(best)
        merged: dict[tuple[bytes, ...], int] = {}
        for parts, n in split.items():
            out: list[bytes] = []
            i = 0
            while i < len(parts):
                if i + 1 < len(parts) and (parts[i], parts[i + 1]) == best:
                    out.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + n
        split = merged
    return merges


def reference_train_bpe(
    text: str, vocab_size: int, special_tokens: list[str], pattern: str = GPT2
) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    """Train on ``text``: specials get ids 0..k-1, then the 256 bytes, then merges."""
    merges = merge_counts(count_words(text, special_tokens, pattern), vocab_size - 256 - len(special_tokens))
    tokens = [s.encode("utf-8") for s in special_tokens]
    tokens += [bytes([b]) for b in gpt2_byte_order()]
    tokens += [left + right for left, right in merges]
    return dict(enumerate(tokens)), merges
