"""The fast per-chunk path of SFT files with a built-in (declarative) chat template.

The lines run through the compiled loop :func:`alignkit.sft_rows.add_rows`: for each
line ``pydantic_core.from_json`` (the parser pydantic's ``validate_json`` uses) and the
compiled structural check :func:`alignkit.record_check.sft_turns`; the record is
rendered and encoded segment by segment straight into the native column buffers of
:class:`alignkit.sft_buffer.SftBuffer` (no segment objects). A line the check does not
accept for certain takes the pydantic path of :mod:`alignkit.worker` (which accepts it
or gives its exact error), and the loop resumes after it. The chunk's columns are made
once, at the end, without numpy (:func:`buffer_columns`).

The result equals :func:`alignkit.worker.process_chunk`'s general path for the same
chunk (same rows, rejects, counts and dtypes; a differential test compares them).

    >>> plan = sft_plan(encoder, "sft")  # doctest: +SKIP
    >>> result = process_sft_chunk(chunk, config, encoder, plan)  # doctest: +SKIP
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from alignkit.errors import AlignkitError, InputError, OutputError
from alignkit.truncate import DROPPED, KEPT, PROMPT_TOO_LONG, TOO_LONG, TRUNCATED

if TYPE_CHECKING:
    from alignkit.encode import Encoder as SegmentEncoder
    from alignkit.encoder import Encoder
    from alignkit.manifest import RunStats
    from alignkit.record_check import TurnTuple
    from alignkit.sft_buffer import SftBuffer
    from alignkit.templates.specs import ChatSpec
    from alignkit.worker import Chunk, ChunkResult, TokenizeConfig


def sft_plan(encoder: Encoder, kind: str | None) -> tuple[ChatSpec, SegmentEncoder] | None:
    """The spec and segment encoder of the fast path, or ``None`` when it does not apply.

    It applies to SFT chunks encoded by alignkit's own :class:`~alignkit.encoder.TemplateEncoder`
    with a declarative template (not a folder's Jinja template, not a custom encoder).
    """
    from alignkit.encoder import TemplateEncoder

    if kind != "sft" or type(encoder) is not TemplateEncoder:
        return None
    spec = encoder.template.spec
    if spec is None or encoder.template.jinja is not None:
        return None
    return spec, encoder.template.encoder


def process_sft_chunk(chunk: Chunk, config: TokenizeConfig, encoder: Encoder,
                      plan: tuple[ChatSpec, SegmentEncoder]) -> ChunkResult:
    """Validate, render, encode and truncate one SFT chunk into flat columns.

    The cyclic garbage collector is paused for the chunk (and restored): a record's
    objects are freed by reference counting, and a chunk allocates enough small objects
    to start hundreds of collections, some of them full ones over the loaded tokenizer.
    Collection resumes between chunks, so garbage stays bounded by one chunk.
    """
    with paused_gc():
        return _process(chunk, config, encoder, plan)


def _process(chunk: Chunk, config: TokenizeConfig, encoder: Encoder,
             plan: tuple[ChatSpec, SegmentEncoder]) -> ChunkResult:
    from alignkit.io.jsonl import json_parser
    from alignkit.manifest import RunStats
    from alignkit.sft_buffer import POLICY_CODES, SftBuffer
    from alignkit.sft_rows import add_rows
    from alignkit.templates.chat import turn_tuples
    from alignkit.worker import ChunkResult

    from_json = json_parser()  # pydantic_core's, without its package __init__ (15-20 ms)

    spec, segment_encoder = plan
    stats = RunStats()
    rejects: list[dict[str, object]] = []
    buf = SftBuffer(segment_encoder)
    mask, max_len = config.mask, config.max_seq_len
    policy = POLICY_CODES[config.truncation]
    spoof_error = config.special_in_content == "error"
    lines = chunk.lines

    def fast(k: int, events: list[Any]) -> int:
        return add_rows(buf, spec, lines, k, from_json, mask, max_len, policy, spoof_error, events)

    def count(number: int, event: Any) -> None:
        _count_event(chunk, number, event, max_len, stats, rejects)

    def slow(number: int, record: Any) -> None:
        _add_one(chunk, number, buf, spec, turn_tuples(record.turns), config, stats, rejects, record)

    drive_lines(chunk, config, stats, rejects, fast, count, slow)
    buf.discard()
    stats.add_counts(buf.tokens_by_role, buf.trained_by_role)
    return ChunkResult(buffer_columns(buf, encoder.n_vocab), rejects, stats)


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector paused inside the block (and restored after it)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def drive_lines(chunk: Chunk, config: TokenizeConfig, stats: RunStats, rejects: list[dict[str, object]],
                fast: Callable[[int, list[Any]], int], count: Callable[[int, Any], None],
                slow: Callable[[int, Any], None]) -> None:
    """The line loop of the fast chunk paths (SFT here, preference in :mod:`alignkit.pref_chunk`).

    ``fast(k, events)`` is the compiled loop: it takes the lines from index ``k`` on until
    one its structural check does not accept for certain, and returns that line's index
    (``len(chunk.lines)`` at the end); each outcome other than a plain keep goes to
    ``events`` (its line index first), and ``count(number, event)`` counts it. The line
    where it stopped takes the pydantic path (:class:`alignkit.worker.LineRecords`): a
    blank line is passed over (counted in ``stats.skipped_blank``), an error is counted as a reject, and a valid record goes
    to ``slow(number, record)``; then the compiled loop resumes after it.
    """
    from alignkit.worker import LineRecords, _count_reject, _reader_errors

    records = LineRecords(chunk, config.skip_blank, config.kind != "auto")
    _reader_errors(chunk, stats, rejects)
    lines = chunk.lines
    events: list[Any] = []
    k = 0
    while k < len(lines):
        stop = fast(k, events)
        stats.records_in += stop - k
        stats.written += stop - k - len(events)
        for event in events:
            count(lines[event[0]][0], event)
        events.clear()
        if stop == len(lines):
            break
        number, raw = lines[stop]
        k = stop + 1
        got = records.record(number, raw)  # the pydantic path: a valid record, or its exact error
        if got is None:  # a blank line passed over (skip_blank): counted, not a record
            stats.skipped_blank += 1
            continue
        stats.records_in += 1
        if isinstance(got, InputError):
            _count_reject(stats, rejects, chunk.path, got)
            continue
        slow(number, got)


def _add_one(chunk: Chunk, number: int, buf: SftBuffer, spec: ChatSpec, turns: list[TurnTuple],
             config: TokenizeConfig, stats: RunStats, rejects: list[dict[str, object]], record: object) -> None:
    """One record (validated by pydantic; ``turns`` are its turns) into ``buf``, counted as
    :func:`add_rows` counts it."""
    from alignkit.sft_buffer import POLICY_CODES
    from alignkit.sft_rows import FAILED, SPOOFED

    try:
        n = buf.add_turns(spec, turns, config.mask)
    except (AlignkitError, ValueError) as err:  # a template that cannot render this record
        event: tuple[int, int, int, str, object] = (0, FAILED, 0, "", err)
    else:
        flag = buf.flagged
        if flag and config.special_in_content == "error":
            buf.discard()
            event = (0, SPOOFED, n, flag, None)
        else:
            event = (0, buf.finish(config.max_seq_len, POLICY_CODES[config.truncation]), n, flag, None)
    _count_event(chunk, number, event, config.max_seq_len, stats, rejects, record)


def _count_event(chunk: Chunk, number: int, event: tuple[int, int, int, str, object], max_len: int,
                 stats: RunStats, rejects: list[dict[str, object]], record: object = None) -> None:
    """Count one record's outcome other than a plain keep (an :data:`alignkit.sft_rows.Event`).

    ``record``: the record when it came through pydantic (else its line is read again, for the
    rare event that needs it).
    """
    index, status, n, flag, error = event
    count_outcome(chunk.path, number, status, n, flag, error, max_len, stats, rejects,
                  "no trained token left (after truncation, or by the mask)",
                  source=chunk.lines[index][1] if record is None else record)


def count_outcome(path: str, number: int, status: int, tokens: int, flag: str, error: object,
                  max_len: int, stats: RunStats, rejects: list[dict[str, object]],
                  zero_trained: str, prompt_tokens: int = 0, source: object = None) -> None:
    """Count a record's outcome as the general path (:mod:`alignkit.worker`) counts it.

    ``status``: a truncation status of :mod:`alignkit.truncate`, ``ZERO_TRAINED``
    (:mod:`alignkit.sft_buffer`; dropped with the message ``zero_trained``), or the chunk
    loops' ``FAILED`` (``error`` says why) / ``SPOOFED`` (special-token text ``flag`` in
    content under ``--special-in-content error``). ``tokens``: the record's length (the
    longer response of a pair); ``prompt_tokens``: a pair's prompt; ``source``: the record or
    its raw line, read only to name the field of a ``SPOOFED`` reject
    (:func:`alignkit.worker.special_field`). A kept or truncated record is counted as written.
    """
    from alignkit.sft_buffer import ZERO_TRAINED
    from alignkit.sft_rows import FAILED, SPOOFED
    from alignkit.worker import (
        _TOO_LONG,
        _count_reject,
        _dropped,
        _encode_error,
        _spoof_error,
        special_field,
    )

    if status == FAILED:
        assert isinstance(error, (AlignkitError, ValueError))
        _count_reject(stats, rejects, path, _encode_error(path, number, error))
        return
    if flag:
        stats.special_in_content += 1
    if status == SPOOFED:
        loc = special_field(source, flag) if source is not None else ""
        _count_reject(stats, rejects, path, _spoof_error(path, number, flag, loc))
    elif status == TOO_LONG:
        skip = InputError(path, number, "", f"{tokens} tokens, " + _TOO_LONG.format(n=max_len), "too_long")
        _count_reject(stats, rejects, path, skip)
    elif status == PROMPT_TOO_LONG:
        stats.drop("prompt_too_long")
        rejects.append(_dropped(path, number, "prompt_too_long",
                                f"the prompt alone has {prompt_tokens} tokens, no room for a response in"
                                f" --max-seq-len {max_len}"))
    elif status == DROPPED:
        stats.drop("too_long")
        rejects.append(_dropped(path, number, "too_long", f"{tokens} tokens > --max-seq-len {max_len}"))
    elif status == ZERO_TRAINED:
        stats.zero_trained += 1
        stats.drop("zero_trained")
        rejects.append(_dropped(path, number, "zero_trained", zero_trained))
    elif status == KEPT or status == TRUNCATED:
        stats.written += 1
        if status == TRUNCATED:
            stats.truncated += 1
    else:
        raise AssertionError(f"unknown record status {status}")


def buffer_columns(buf: SftBuffer, n_vocab: int) -> list[tuple[Any, Any]]:
    """The buffer's ``input_ids``, ``labels``, ``role_ids`` as (values, int64 lengths), as
    :func:`alignkit.worker.flatten` makes them (dtypes, and the same vocabulary check).

    The values and lengths are :class:`~alignkit.io.flat.Flat` buffers, made without numpy:
    ``labels`` (the id where trained, else -100) and ``role_ids`` are expanded from the
    buffer's runs by the compiled loops of :mod:`alignkit._columns`; ``input_ids`` are the
    buffer's own ``int32`` ids read as ``uint32`` (every id is in ``0..n_vocab-1``: the same
    bits), or narrowed to ``uint16`` for a vocabulary of at most 65,536 ids.

    Raises:
        OutputError: an id outside the vocabulary.
    """
    from alignkit._columns import buffer_expansions, buffer_ids_u16
    from alignkit.io.flat import Flat
    from alignkit.worker import column_dtype

    lengths = Flat(buf.lengths, "int64")
    labels, roles, low, high = buffer_expansions(buf)
    if high >= n_vocab:
        raise OutputError(f"token id {high} is outside the vocabulary ({n_vocab} ids);"
                          " this is a bug in the tokenizer or template, please report it")
    dtype = column_dtype("input_ids", n_vocab)
    if low < 0:  # what checked_cast says of a value that does not fit
        top = (1 << (8 * (2 if dtype == "uint16" else 4))) - 1
        raise OutputError(f"column 'input_ids': value {low} does not fit {dtype} (0..{top});"
                          " this is a bug in the dtype choice, please report it")
    ids = Flat(buffer_ids_u16(buf), dtype) if dtype == "uint16" else Flat(buf.ids, dtype)
    return [(ids, lengths), (Flat(labels, "int32"), lengths), (Flat(roles, "uint8"), lengths)]
