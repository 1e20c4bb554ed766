"""A chunk's per-token output columns expanded from its runs, natively (compiled; no numpy).

:class:`~alignkit.sft_buffer.SftBuffer` keeps a chunk's ids as one ``vec[i32]`` and one
*run* per segment (token count, role id, trained flag). The output wants one value per
token: ``labels`` (the id where trained, else ``IGNORE_INDEX``) and ``role_ids``. These
loops make them in one pass over the runs each (:func:`run_labels` also finds the ids'
smallest and largest value: the vocabulary check), so a run never needs numpy for it
(:func:`alignkit.sft_chunk.buffer_columns`; the numpy formulas they replace are the
reference of the tests).

Python code calls them through :func:`buffer_expansions` and :func:`buffer_ids_u16`, which take
the :class:`~alignkit.sft_buffer.SftBuffer` itself: a ``vec`` handed from Python to a compiled
function as an argument is never freed (mypy 2.4.1's wrapper unboxes it with a new reference and
does not release it), while a native object's vectors are read natively and returned vectors are
freed as usual.

    >>> from librt.vecs import vec
    >>> from mypy_extensions import i32, i64, u8
    >>> ids = vec[i32]([7, 8, 9, 10])
    >>> runs, trained = vec[i64]([1, 2, 1]), vec[u8]([0, 1, 0])
    >>> labels, low, high = run_labels(ids, runs, trained)
    >>> list(labels), (low, high), list(run_roles(runs, vec[u8]([1, 2, 4])))
    ([-100, 8, 9, -100], (7, 10), [1, 2, 2, 4])

"""

from __future__ import annotations

from typing import Final

from librt.vecs import append, extend, vec
from mypy_extensions import i16, i32, i64, u8

from alignkit.encode import IGNORE_INDEX
from alignkit.sft_buffer import SftBuffer

_IGNORE: Final = i32(IGNORE_INDEX)


def _run_total(run_lengths: vec[i64]) -> i64:
    """The tokens the runs hold together; a negative run length is refused."""
    s: i64 = 0
    for r in range(len(run_lengths)):
        n = run_lengths[r]
        if n < 0:
            raise ValueError(f"run {r} has a negative length ({n})")
        s += n
    return s


def run_labels(ids: vec[i32], run_lengths: vec[i64], run_trained: vec[u8]) -> tuple[vec[i32], int, int]:
    """Per token: its id where its run is trained (flag not 0), else ``IGNORE_INDEX`` (-100);
    and the smallest and largest id (``0, -1`` when there are none), found in the same pass.

    The labels start as a copy of the ids (one ``memcpy``); only untrained tokens are stored.

    Raises:
        ValueError: runs that do not cover the ids exactly, or fewer flags than runs.
    """
    n = i64(len(ids))
    s = _run_total(run_lengths)
    if s != n:
        raise ValueError(f"the runs hold {s} tokens, the ids {n}")
    if len(run_trained) < len(run_lengths):
        raise ValueError(f"{len(run_trained)} trained flags for {len(run_lengths)} runs")
    out = ids[0:n]
    low: i32 = 0
    high: i32 = -1
    if n:
        low = ids[0]
        high = low
    at: i64 = 0
    for r in range(len(run_lengths)):
        end = at + run_lengths[r]
        trained = run_trained[r] != 0
        while at < end:
            v = ids[at]
            if v < low:
                low = v
            elif v > high:
                high = v
            if not trained:
                out[at] = _IGNORE
            at += 1
    return out, int(low), int(high)


def _filled(n: i64, value: u8) -> vec[u8]:
    """A vector of ``n`` times ``value``, doubled by copies (no per-item append)."""
    out = vec[u8]()
    if n <= 0:
        return out
    out = append(out, value)
    while i64(len(out)) * 2 <= n:
        out = extend(out, out)
    if i64(len(out)) < n:
        out = extend(out, out[0 : n - i64(len(out))])
    return out


def run_roles(run_lengths: vec[i64], run_roles: vec[u8]) -> vec[u8]:
    """Per token: the role id of its run.

    Raises:
        ValueError: a negative run length, or fewer roles than runs.
    """
    if len(run_roles) < len(run_lengths):
        raise ValueError(f"{len(run_roles)} roles for {len(run_lengths)} runs")
    out = _filled(_run_total(run_lengths), 0)
    at: i64 = 0
    for r in range(len(run_lengths)):
        end = at + run_lengths[r]
        role = run_roles[r]
        if role == 0:
            at = end
            continue
        while at < end:
            out[at] = role
            at += 1
    return out


def narrow_u16(ids: vec[i32]) -> vec[i16]:
    """The ids as 16-bit words (``uint16`` bits in an ``i16``), for ids known to be in ``0..65535``.

    Raises:
        ValueError: an id outside ``0..65535``.
    """
    n = i64(len(ids))
    out = vec[i16](capacity=n)
    k: i64 = 0
    while k < n:
        v = ids[k]
        if v < 0 or v > 65535:
            raise ValueError(f"id {v} does not fit uint16")
        out = append(out, i16(v - 65536) if v > 32767 else i16(v))
        k += 1
    return out


def buffer_expansions(buf: SftBuffer) -> tuple[vec[i32], vec[u8], int, int]:
    """The buffer's ``labels`` and ``role_ids`` (:func:`run_labels`, :func:`run_roles`), and its
    smallest and largest id (``0, -1`` when it holds none).

    Raises:
        ValueError: runs that do not cover the ids exactly (a bug in the buffer).
    """
    labels, low, high = run_labels(buf.ids, buf.run_lengths, buf.run_trained)
    return labels, run_roles(buf.run_lengths, buf.run_roles), low, high


def buffer_ids_u16(buf: SftBuffer) -> vec[i16]:
    """The buffer's ids as 16-bit words (:func:`narrow_u16`)."""
    return narrow_u16(buf.ids)
