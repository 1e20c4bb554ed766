"""Encoding a whole UTF-8 text file into one flat id array, in windows and in parallel.

The file is read in windows of :data:`WINDOW` bytes and decoded strictly (an
incremental decoder, so a character split between two windows is fine). Each window's
text, after the tail carried over from the previous one, is cut into pieces of about
:data:`PIECE` characters at the safe cut points of :mod:`alignkit.bpe._stream`
(:func:`~alignkit.bpe._stream.last_cut`: a newline run between a printable ASCII
character and an ASCII letter or digit, where no known split pattern joins pieces and
no special token can span). The text after the window's last cut is carried into the
next window. The pieces go to :meth:`Tokenizer.encode_batch_arrays` (forked workers
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

from alignkit.bpe._stream import can_cut, last_cut
from alignkit.bpe.patterns import GPT2, GPT2_ORIGINAL
from alignkit.errors import InputError

if TYPE_CHECKING:
    from alignkit.bpe.tokenizer import SpecialSet, Tokenizer

#: Bytes of the file read and decoded at a time.
WINDOW: Final = 1 << 26
#: Characters searched for a cut at a time (pieces are about this long where cuts abound).
PIECE: Final = 1 << 20
#: A search block starts this many characters before the end of the previous one, so a
#: cut whose newline run straddles two blocks is still seen (longer runs may be missed:
#: fewer cuts, never a wrong one).
_OVERLAP: Final = 256
#: Patterns whose cut goes before the last newline of the run (see ``_stream``).
_BEFORE_LAST_NEWLINE: Final = frozenset({GPT2, GPT2_ORIGINAL})


def windows(path: str, size: int) -> Iterator[tuple[str, bool]]:
    """The text of the UTF-8 file at ``path``, ``size`` bytes at a time, and whether it is the last.

    The last window is the one that found the end of the file (its text may be "").

    Nothing is translated: CRLF stays CRLF and a byte-order mark stays U+FEFF, as with
    ``open(path, encoding="utf-8", newline="")``.

    Raises:
        InputError: invalid UTF-8, naming the file and the byte offset (from 0).

    Example:
        >>> list(windows("notes.txt", 1 << 20))  # doctest: +SKIP
        [('hello\\r\\n', False), ('', True)]
    """
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0  # bytes read before this window
    with open(path, "rb") as f:
        while True:
            data = f.read(size)
            final = not data
            held = len(decoder.getstate()[0])  # bytes of a split character kept from the last window
            try:
                text = decoder.decode(data, final)
            except UnicodeDecodeError as err:
                at = offset - held + err.start
                bad = err.object[err.start : err.end].hex(" ")
                raise InputError(
                    path, at, "", f"invalid UTF-8 ({bad}: {err.reason}); encode_file reads UTF-8"
                    " text: re-encode the file (e.g. `iconv -f latin1 -t utf-8`)",
                    "invalid_utf8", unit="byte offset",
                ) from None
            offset += len(data)
            del data  # not held while the caller encodes the window
            yield text, final
            if final:
                return


def cut_pieces(text: str, start: int, piece: int, before_last: bool) -> tuple[list[str], int, int]:
    """Cut ``text`` at safe points into pieces of about ``piece`` characters.

    ``text[:start]`` is known to hold no cut. Returns the pieces (everything before the
    last cut found, in order), the position of the rest (carried to the next window) and
    how far into the rest the search has already looked without finding a cut.

    Example:
        >>> cut_pieces("One.\\nTwo.\\nThree", 0, 6, False)
        (['One.\\nTwo.\\n'], 10, 0)
    """
    pieces: list[str] = []
    pos = 0  # start of the current piece
    n = len(text)
    lo, hi = start, min(n, start + max(piece, _OVERLAP))  # the search block
    while True:
        cut = last_cut(text[lo:hi], before_last_newline=before_last)
        if cut > 0:  # the last cut of the block: none in (pos, hi) after it
            pieces.append(text[pos : lo + cut])
            pos = lo + cut
            lo, hi = max(pos, hi - _OVERLAP), max(pos + piece, hi + 1)
        elif hi >= n:
            return pieces, pos, lo - pos
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
    np: Any = importlib.import_module("numpy")
    name = os.fspath(path)
    cuttable = can_cut(tok)
    before_last = tok.pattern in _BEFORE_LAST_NEWLINE
    parts: list[Any] = []
    rest = ""
    searched = 0  # characters at the start of ``rest`` known to hold no cut
    for window, last in windows(name, WINDOW):
        text = rest + window if rest else window
        del window
        if last:
            pieces, pos = ([text] if text else []), len(text)
        elif cuttable:
            pieces, pos, searched = cut_pieces(text, searched, PIECE, before_last)
        else:
            pieces, pos = [], 0
        rest = text[pos:]
        del text
        if pieces:
            ids, _ = tok.encode_batch_arrays(pieces, num_proc=num_proc, allowed_special=allowed_special,
                                             dtype=dtype)
            parts.append(ids)
        del pieces
    if not parts:
        return np.zeros(0, dtype=dtype)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
