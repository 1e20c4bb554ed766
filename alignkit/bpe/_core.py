"""Compiled BPE core: byte-pair merges over pre-tokenized pieces.

BOOTSTRAP VERSION: correct but regex-based; the fast scanners replace the
``regex.findall`` call. Interface (keep it stable, other modules build on it):

    core = BPECore(ranks, pattern)       # ranks: token bytes -> id (rank == merge priority)
    core.encode_ordinary(text) -> list[int]
    core.encode_piece(piece: bytes) -> list[int]
    core.decode_bytes(ids) -> bytes
"""

from __future__ import annotations

from typing import Final, final

import regex

_MAX_CACHE: Final = 1 << 18


@final
class BPECore:
    def __init__(self, ranks: dict[bytes, int], pattern: str) -> None:
        self.ranks: dict[bytes, int] = ranks
        self.pattern: str = pattern
        self.regex: regex.Pattern[str] = regex.compile(pattern)
        self.decoder: dict[int, bytes] = {v: k for k, v in ranks.items()}
        self.cache: dict[bytes, list[int]] = {}

    def encode_piece(self, piece: bytes) -> list[int]:
        ranks = self.ranks
        whole = ranks.get(piece)
        if whole is not None:
            return [whole]
        parts: list[bytes] = [piece[i : i + 1] for i in range(len(piece))]
        while len(parts) > 1:
            best = -1
            best_rank = -1
            for i in range(len(parts) - 1):
                r = ranks.get(parts[i] + parts[i + 1])
                if r is not None and (best_rank < 0 or r < best_rank):
                    best_rank = r
                    best = i
            if best < 0:
                break
            parts[best : best + 2] = [parts[best] + parts[best + 1]]
        return [ranks[p] for p in parts]

    def encode_ordinary(self, text: str) -> list[int]:
        out: list[int] = []
        cache = self.cache
        for word in self.regex.findall(text):
            piece = word.encode("utf-8", "surrogatepass")
            ids = cache.get(piece)
            if ids is None:
                ids = self.encode_piece(piece)
                if len(cache) < _MAX_CACHE:
                    cache[piece] = ids
            out.extend(ids)
        return out

    def decode_bytes(self, ids: list[int]) -> bytes:
        decoder = self.decoder
        return b"".join([decoder[i] for i in ids])
