"""Encoding a whole UTF-8 text file into one flat id array, in windows and in parallel.

The file is read in windows of :data:`WINDOW` bytes. Each window, after the bytes
carried over from the previous one, is cut into pieces of about :data:`PIECE` bytes at
the safe cut points of :mod:`alignkit.bpe._stream` (:func:`~alignkit.bpe._stream.last_cut`:
a newline run between a printable ASCII character and an ASCII letter or digit, where no
known split pattern joins pieces and no special token can span). Those points are found
in the bytes (they are ASCII, so never inside a UTF-8 character) and each piece is
decoded on its own, strictly. The bytes after the window's last cut are carried into
the next window. The pieces go to :meth:`Tokenizer.encode_batch_arrays` (forked workers
when ``num_proc > 1``), and the windows' id arrays are concatenated at the end.

Where :func:`~alignkit.bpe._stream.can_cut` is false (an unknown split pattern,
``add_prefix_space``, a special token containing a newline) nothing is cut: the whole
text is encoded as one piece, in this process, exactly.

Example:
    >>> ids = encode_file(tok, "corpus.txt", num_proc=2, allowed_special="all",
    ...                   dtype="uint16")  # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import importlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from alignkit.bpe._fork_batch import RANGES_PER_PROC
from alignkit.bpe._stream import can_cut, cuts_before_last_newline, last_cut
from alignkit.errors import InputError

if TYPE_CHECKING:
    from alignkit.bpe.tokenizer import SpecialSet, Tokenizer

#: Bytes of the file read and decoded at a time.
WINDOW: Final = 1 << 26
#: Bytes searched for a cut at a time (pieces are about this long where cuts abound).
PIECE: Final = 1 << 20
#: Smaller windows (small files) are cut into pieces of at least this many bytes, enough
#: for every batch range of every process (:data:`RANGES_PER_PROC`).
MIN_PIECE: Final = 1 << 16
#: A search block starts this many bytes before the end of the previous one, so a
#: cut whose newline run straddles two blocks is still seen (longer runs may be missed:
#: fewer cuts, never a wrong one).
_OVERLAP: Final = 256
#: Bytes at the end of a search block searched before the whole block.
_TAIL: Final = 1 << 12


def windows(path: str, size: int) -> Iterator[tuple[bytes, bool]]:
    """The bytes of the file at ``path``, ``size`` at a time, and whether the end was reached.

    The last window is the one that found the end of the file (it may be empty).

    Example:
        >>> list(windows("notes.txt", 1 << 20))  # doctest: +SKIP
        [(b'hello\\r\\n', False), (b'', True)]
    """
    with open(path, "rb") as f:
        while True:
            data = f.read(size)
            yield data, not data
            if not data:
                return


def decode(path: str, data: bytes, start: int, stop: int, offset: int) -> str:
    """``data[start:stop]`` decoded as UTF-8, strictly, without a copy of the bytes.

    Nothing is translated: CRLF stays CRLF and a byte-order mark stays U+FEFF, as with
    ``open(path, encoding="utf-8", newline="")``.

    Raises:
        InputError: invalid UTF-8, naming the file and the byte offset (from 0; ``data``
            starts at byte ``offset`` of the file).

    Example:
        >>> decode("a.txt", b"caf\\xc3\\xa9!", 0, 5, 0)
        'café'
    """
    try:
        return codecs.utf_8_decode(memoryview(data)[start:stop], "strict", True)[0]
    except UnicodeDecodeError as err:
        bad = bytes(err.object[err.start : err.end]).hex(" ")
        raise InputError(
            path, offset + start + err.start, "", f"invalid UTF-8 ({bad}: {err.reason}); encode_file"
            " reads UTF-8 text: re-encode the file (e.g. `iconv -f latin1 -t utf-8`)",
            "invalid_utf8", unit="byte offset",
        ) from None


def _last_cut(data: bytes, lo: int, hi: int, before_last: bool) -> int:
    """The last safe cut in ``data[lo:hi]`` (a position in ``data``), or -1.

    Every byte a cut depends on is ASCII, and no byte of a multi-byte UTF-8 character is,
    so :func:`~alignkit.bpe._stream.last_cut` of the bytes read as Latin-1 (one character
    per byte) finds the cut of the text at its byte position. The block's last
    :data:`_TAIL` bytes are searched first (prose has cuts every few hundred bytes).
    """
    tail = max(lo, hi - _TAIL)
    while True:
        cut = last_cut(data[tail:hi].decode("latin-1"), before_last_newline=before_last)
        if cut > 0:
            return tail + cut
        if tail == lo:
            return -1
        tail = lo


def cut_pieces(data: bytes, start: int, piece: int, before_last: bool) -> tuple[list[int], int]:
    """Safe cut positions in ``data``, about ``piece`` bytes apart.

    ``data[:start]`` is known to hold no cut. Returns the cuts in increasing order (the
    pieces are the bytes between them, from 0) and how far after the last cut (or 0) the
    search has already looked without finding one.

    Example:
        >>> cut_pieces(b"One.\\nTwo.\\nThree", 0, 6, False)
        ([10], 0)
    """
    cuts: list[int] = []
    pos = 0  # start of the current piece
    n = len(data)
    lo, hi = start, min(n, start + max(piece, _OVERLAP))  # the search block
    while True:
        cut = _last_cut(data, lo, hi, before_last)
        if cut > 0:  # the last cut of the block: none in (cut, hi)
            cuts.append(cut)
            pos = cut
            lo, hi = max(pos, hi - _OVERLAP), max(pos + piece, hi + 1)
        elif hi >= n:
            return cuts, lo - pos
        else:
            lo, hi = max(pos, hi - _OVERLAP), hi + max(piece, _OVERLAP)
        hi = min(n, hi)


def encode_file(
    tok: Tokenizer, path: str | os.PathLike[str], *, num_proc: int, allowed_special: SpecialSet, dtype: str
) -> Any:  # a numpy array (numpy is not imported here: see _parallel)
    """The ids of the whole text of ``path``, as one flat numpy array in ``dtype``.

    Example:
        >>> encode_file(tok, "hi.txt", num_proc=1, allowed_special="all",
        ...             dtype="uint16").tolist()  # doctest: +SKIP
        [5303, 198]
    """
    if num_proc < 1:
        raise ValueError(f"num_proc must be >= 1, got {num_proc}")
    np: Any = importlib.import_module("numpy")
    name = os.fspath(path)
    cuttable = can_cut(tok)
    before_last = cuts_before_last_newline(tok)
    parts: list[Any] = []
    rest = b""  # the bytes after the last cut, carried into the next window
    at = 0  # the file offset of ``rest``
    searched = 0  # bytes at the start of ``rest`` known to hold no cut
    for window, last in windows(name, WINDOW if cuttable else -1):  # -1: the whole file
        data = rest + window if rest else window
        del window
        if last:
            cuts: list[int] = [len(data)] if data else []
        else:
            piece = min(PIECE, max(MIN_PIECE, len(data) // (RANGES_PER_PROC * num_proc)))
            cuts, searched = cut_pieces(data, searched, piece, before_last) if cuttable else ([], 0)
        pieces: list[str] = []
        prev = 0
        for cut in cuts:
            pieces.append(decode(name, data, prev, cut, at))
            prev = cut
        rest = data[prev:]
        at += prev
        del data
        if pieces:
            ids, _ = tok.encode_batch_arrays(pieces, num_proc=num_proc, allowed_special=allowed_special,
                                             dtype=dtype)
            parts.append(ids)
        del pieces
    if not parts:
        return np.zeros(0, dtype=dtype)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
