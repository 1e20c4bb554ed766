"""Compiled id -> bytes decoding (one table per vocabulary, built once).

:class:`TokenDecoder` holds, per id, the token's first 8 bytes as one ``i64`` word
and its length: a token of at most 8 bytes is written as one native 64-bit store
and the writer truncated back to its length; longer tokens are copied from their
bytes. Unknown ids (negative, past the table, or a hole) raise ``KeyError`` naming
the id. The core decodes its own tokens through one; the tokenizer facade builds
one over every id (specials and added tokens included), which needs no rank table.
"""

from __future__ import annotations

from typing import final

from librt.strings import BytesWriter, write_i64_le
from librt.vecs import append, vec
from mypy_extensions import i32, i64

from alignkit.bpe._pieces import PAD, word


@final
class TokenDecoder:
    """Bytes of token ids, from a list indexed by id (``b""`` where no token has the id).

    Example:
        >>> dec = TokenDecoder([b"a", b"", b"bc"])
        >>> dec.decode_bytes([2, 0, 2])
        b'bcabc'
        >>> dec.decode_bytes([1])
        Traceback (most recent call last):
        ...
        KeyError: 'token id 1 is not in this vocabulary (ids are 0..2)'
    """

    def __init__(self, tokens: list[bytes]) -> None:
        self.tokens: list[bytes] = tokens
        blob = b"".join(tokens) + PAD
        words = vec[i64](capacity=len(tokens))
        lens = vec[i32](capacity=len(tokens))
        at: i64 = 0
        for token in tokens:
            n: i64 = len(token)
            words = append(words, word(blob, at, n) if 0 < n <= 8 else 0)
            lens = append(lens, i32(n))
            at += n
        self.words: vec[i64] = words
        self.lens: vec[i32] = lens

    def unknown(self, i: int) -> KeyError:
        """The error for an id with no token."""
        return KeyError(f"token id {i} is not in this vocabulary (ids are 0..{len(self.tokens) - 1})")

    def _put(self, w: BytesWriter, i: i64) -> None:
        """Append the bytes of id ``i`` to ``w``."""
        if i < 0 or i >= len(self.lens):
            raise self.unknown(i)
        n = self.lens[i]
        if n <= 8:
            if n == 0:
                raise self.unknown(i)
            write_i64_le(w, self.words[i])
            if n < 8:
                w.truncate(len(w) - 8 + i64(n))
        else:
            w.write(self.tokens[i])

    def decode_bytes(self, ids: list[int]) -> bytes:
        """Concatenate the bytes of ``ids`` (raises ``KeyError`` naming the first unknown id)."""
        try:
            w = BytesWriter()
            n: i64 = len(ids)
            k: i64 = 0
            while k < n:
                self._put(w, ids[k])
                k += 1
            return w.getvalue()
        except (OverflowError, ValueError):  # compiled: an id beyond 64 bits does not fit an i64
            for i in ids:
                if not 0 <= i < len(self.tokens) or len(self.tokens[i]) == 0:
                    raise self.unknown(i) from None
            raise

    def decode_vec(self, ids: vec[i32]) -> bytes:
        """:meth:`decode_bytes` of a native vector of ids."""
        w = BytesWriter()
        n: i64 = len(ids)
        k: i64 = 0
        while k < n:
            self._put(w, i64(ids[k]))
            k += 1
        return w.getvalue()
