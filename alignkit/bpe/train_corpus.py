"""Pre-token counting for BPE training: stream corpora, cut them safely, count in parallel.

Memory stays bounded by the number of DISTINCT pre-tokens, never by the corpus
size: files are read in blocks, each block is pre-tokenized and counted, and
only a short tail (the last, possibly unfinished pre-token) is carried over.

Cutting is exact (counts equal those of pre-tokenizing each whole file):

- declared special tokens split the text and are dropped (no pre-token
  crosses them);
- inside a block, the last two pre-tokens are carried into the next block:
  only they can change when more text follows (a contraction cut as ``'`` +
  ``l``, a backtracking newline run), as the known split patterns have no
  look-behind (tested for each with hypothesis);
- files are divided among processes at a special-token start or at a newline
  that the GPT-2 pattern always makes a pre-token boundary: ``X\\n`` followed by
  ``Y`` or by one ASCII whitespace and ``Y``, with ``X`` and ``Y`` printable
  ASCII (see :func:`find_chunk_boundaries`).
"""

from __future__ import annotations

import codecs
import gzip
import io
import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import regex

from alignkit.bpe import _train
from alignkit.bpe._scan import KIND_REGEX, pattern_kind
from alignkit.bpe.patterns import GPT2, GPT2_ORIGINAL
from alignkit.errors import UsageError

#: Bytes read per block while streaming a corpus.
BLOCK_SIZE = 1 << 20

#: Count with the compiled scanners (True), with ``regex`` (False), or decide: scanners when
#: the core is compiled and the pattern has one (None). Both give the same counts.
USE_SCANNER: bool | None = None

#: Bytes scanned per step while looking for a cut point.
SCAN_WINDOW = 1 << 16

#: Bytes-read counter shared with worker processes (``multiprocessing.Value``), or None.
_progress_counter: object | None = None

#: In-process progress: called with the bytes read since the last call, or None.
progress_hook: Callable[[int], None] | None = None


def _report(read: int) -> None:
    if progress_hook is not None:
        progress_hook(read)
    if _progress_counter is not None:
        with _progress_counter.get_lock():  # type: ignore[attr-defined]
            _progress_counter.value += read  # type: ignore[attr-defined]

#: A cut point after ``X\n`` (see the module docstring). Used for byte ranges only.
_SAFE_NEWLINE = rb"(?<=[!-~]\n)(?=[!-~]|[ \t\r\x0b\x0c\n][!-~])"


def special_pattern(special_tokens: Sequence[str]) -> str | None:
    """A regex matching any special token, longest first at each position; None if none."""
    if not special_tokens:
        return None
    return "|".join(re.escape(s) for s in sorted(special_tokens, key=len, reverse=True))


def _may_overlap(special_tokens: Sequence[str]) -> bool:
    """Whether two occurrences of special tokens can overlap (a suffix of one starts another).

    Then the start of an occurrence found mid-file need not be where splitting
    the whole text puts one, so it is no safe cut.
    """
    for s in special_tokens:
        for t in special_tokens:
            for k in range(1, min(len(s), len(t))):
                if s[-k:] == t[:k]:
                    return True
    return False


def _is_cut(window: bytes, at: int, specials: list[bytes], special_cuts: bool) -> bool:
    r"""Whether a match of the cut pattern at ``at`` is a safe cut.

    A special-token start is. A newline cut ``X\n|(c)Y`` is not when ``X`` ends a
    special token or ``Y`` (or ``c``) starts one: splitting at special tokens would
    then put the newline at the end or start of a part, where ``\s++$`` joins runs.
    """
    if special_cuts and any(window.startswith(s, at) for s in specials):
        return True
    for s in specials:
        if window.endswith(s, 0, at - 1) or window.startswith(s, at) or window.startswith(s, at + 1):
            return False
    return True


def find_chunk_boundaries(
    path: str, num_chunks: int, special_tokens: Sequence[str], pattern: str = GPT2
) -> list[int]:
    r"""Byte offsets that cut ``path`` into about ``num_chunks`` independently countable ranges.

    Each inner offset is the start of a special token or a safe newline cut,
    found by scanning forward from an evenly spaced guess; ranges that find no
    cut before the next guess merge. Special tokens that can overlap each other
    are not used as cuts; newlines only with the GPT-2 pattern (others, e.g.
    cl100k's ``\s*[\r\n]``, join newline runs) and when no special token holds one.
    Returns sorted offsets from 0 to the size.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
        ...     _ = f.write(b"one two<|e|>three four<|e|>five")
        >>> find_chunk_boundaries(f.name, 4, ["<|e|>"])
        [0, 7, 22, 31]
    """
    size = os.path.getsize(path)
    alternatives: list[bytes] = []
    special_cuts = not _may_overlap(special_tokens)
    if special_cuts:
        alternatives += [b"(?=" + re.escape(s.encode("utf-8")) + b")" for s in special_tokens]
    if pattern in (GPT2, GPT2_ORIGINAL) and not any("\n" in s for s in special_tokens):
        alternatives.append(_SAFE_NEWLINE)
    if not alternatives:
        return [0, size]
    cut = re.compile(b"|".join(alternatives))
    overlap = max([len(s.encode("utf-8")) for s in special_tokens] + [2]) + 2
    specials = [s.encode("utf-8") for s in special_tokens]
    bounds = [0]
    with open(path, "rb") as f:
        for k in range(1, max(1, num_chunks)):
            guess = max(size * k // num_chunks, bounds[-1] + 1)
            found = -1
            pos = guess
            while pos < size and found < 0:
                lo = max(pos - overlap, 0)  # look-behind room
                f.seek(lo)
                window = f.read(pos - lo + SCAN_WINDOW + overlap)
                for m in cut.finditer(window, pos - lo):
                    at = m.start()
                    if lo + at >= size or (lo + at >= pos + SCAN_WINDOW and lo + len(window) < size):
                        break  # past the file, or too close to the window's end to judge
                    if _is_cut(window, at, specials, special_cuts):
                        found = lo + at
                        break
                pos += SCAN_WINDOW
            if found < 0:
                break  # no cut between the guess and the end of the file
            bounds.append(found)
    if bounds[-1] != size:
        bounds.append(size)
    return bounds


def _open_range(path: str, start: int) -> tuple[io.BufferedIOBase, io.BufferedIOBase]:
    """(stream to read, raw file whose position measures progress)."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    if path.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw), raw
    raw.seek(start)
    return raw, raw


class _RegexPieces:
    """Counts pre-tokens found by ``regex`` (str keys, converted to bytes at the end)."""

    def __init__(self, pattern: str) -> None:
        compiled = regex.compile(pattern)
        self.findall = compiled.findall
        self.finditer = compiled.finditer
        self.counts: Counter[str] = Counter()

    def add(self, text: str) -> None:
        self.counts.update(self.findall(text))

    def add_but_last(self, text: str) -> int:
        """Count all pieces but the last two; return the length, in characters, of the
        text from the start of the second-to-last piece (which is carried).

        Two, not one: more text can join them (``'`` + ``l`` becomes ``'ll``; a
        backtracking ``\\s*[\\r\\n]+`` stops at an earlier newline at the end).
        A custom pattern can leave text between pieces unmatched: then the carry is
        measured from where that piece starts, not from the pieces' lengths. With fewer
        than two pieces everything is carried; each read is at least as long as the
        carry, so a long unmatched stretch is rescanned about twice in all, not once a block.
        """
        pieces = self.findall(text)
        if len(pieces) < 2:
            return len(text)
        if sum(map(len, pieces)) == len(text):  # the pieces cover the text (every known pattern)
            self.counts.update(pieces[:-2])
            return len(pieces[-2]) + len(pieces[-1])
        matches = list(self.finditer(text))  # gaps between pieces: where the last two start
        self.counts.update(pieces[:-2])
        start: int = matches[-2].start()
        return len(text) - start

    def result(self) -> dict[bytes, int]:
        return {word.encode("utf-8"): n for word, n in self.counts.items()}


class _ScanPieces:
    """Counts pre-tokens found by a compiled scanner (bytes keys throughout)."""

    def __init__(self, kind: int) -> None:
        self.kind = kind
        self.counts: dict[bytes, int] = {}

    def add(self, text: str) -> None:
        _train.count_pieces(self.kind, text.encode("utf-8"), self.counts, False)

    def add_but_last(self, text: str) -> int:
        data = text.encode("utf-8")
        start = _train.count_pieces(self.kind, data, self.counts, True)
        return len(data[start:].decode("utf-8"))

    def result(self) -> dict[bytes, int]:
        return self.counts


_Pieces = _RegexPieces | _ScanPieces


def _piece_counter(pattern: str) -> _Pieces:
    kind = pattern_kind(pattern)
    use = USE_SCANNER
    if use is None:
        use = Path(_train.__file__ or "").suffix in (".so", ".pyd")
    return _ScanPieces(kind) if use and kind != KIND_REGEX else _RegexPieces(pattern)


def count_range(path: str, start: int, end: int, special_tokens: Sequence[str], pieces: _Pieces) -> None:
    """Add the pre-token counts of bytes ``[start, end)`` of ``path`` to ``pieces``.

    ``start`` and ``end`` must be offsets from :func:`find_chunk_boundaries`
    (for a ``.gz`` file: 0 and the compressed size). Raises :class:`UsageError`
    naming the byte offset when the text is not valid UTF-8.
    """
    specials = special_pattern(special_tokens)
    splitter = re.compile(specials) if specials else None
    hold = max([len(s) for s in special_tokens] + [1]) - 1
    decoder = codecs.getincrementaldecoder("utf-8")()
    stream, raw = _open_range(path, start)
    gz = stream is not raw
    carry = ""
    done = start
    last_reported = start
    try:
        while True:
            want = max(BLOCK_SIZE, len(carry)) if gz else min(max(BLOCK_SIZE, len(carry)), end - done)
            block = stream.read(want)
            final = len(block) == 0 or (not gz and done + len(block) >= end)
            try:
                text = decoder.decode(block, final=final)
            except UnicodeDecodeError as err:
                offset = done + err.start if not gz else f"{err.start} of a block near {done}"
                raise UsageError(
                    f"{path}: byte {offset}: not valid UTF-8 ({err.reason}); "
                    "re-encode the corpus as UTF-8, e.g. `iconv -f latin1 -t utf-8`"
                ) from None
            done = raw.tell()
            carry = _consume(carry + text, final, splitter, hold, pieces)
            if done - last_reported > 0:
                _report(done - last_reported)
                last_reported = done
            if final:
                return
    finally:
        stream.close()
        raw.close()


def _consume(buf: str, final: bool, splitter: re.Pattern[str] | None, hold: int, pieces: _Pieces) -> str:
    """Count every pre-token of ``buf`` that cannot change with more text; return the rest."""
    pos = 0
    if splitter is not None:
        # A special match is final only when the longest special could fit after its start.
        limit = len(buf) if final else len(buf) - hold - 1
        for m in splitter.finditer(buf):
            if m.start() > limit:
                break
            pieces.add(buf[pos : m.start()])
            pos = m.end()
    if final:
        pieces.add(buf[pos:])
        return ""
    cut = len(buf) - hold  # no special starts in [pos, cut): none was found there complete
    if cut - pos < 2:
        return buf[pos:]
    last = pieces.add_but_last(buf[pos:cut])
    return buf[cut - last :]


def count_ranges(
    tasks: list[tuple[str, int, int]], special_tokens: Sequence[str], pattern: str
) -> dict[bytes, int]:
    """Pre-token counts (UTF-8 bytes -> count) over several byte ranges; a worker entry point."""
    pieces = _piece_counter(pattern)
    for path, start, end in tasks:
        count_range(path, start, end, special_tokens, pieces)
    return pieces.result()


def init_worker(counter: object, parent: int = 0) -> None:
    """Process-pool initializer: share the progress counter (bytes read); with ``parent``, the
    worker ends when that process (the pool's owner) does (:mod:`alignkit.bpe._parent`)."""
    global _progress_counter
    if parent:
        from alignkit.bpe._parent import end_with_parent

        end_with_parent(parent)
    _progress_counter = counter
