"""The fast per-chunk path of preference files with a built-in (declarative) chat template.

For each line: ``pydantic_core.from_json`` and the compiled structural check
:func:`alignkit.record_check.pair_parts`; a line it does not accept for certain takes the
pydantic path of :mod:`alignkit.worker` (which accepts it or gives its exact error).
Every valid pair is rendered once as its prompt and once per response (as
:meth:`alignkit.templates.chat.ChatTemplate.encode_pair` renders it) and written by
:class:`alignkit.pref_buffer.PairBuffer` into native column buffers; the chunk's
columns are made once, at the end, without numpy (:func:`pair_columns`).

The result equals :func:`alignkit.worker.process_chunk`'s general path for the same
chunk (same rows, rejects, counts and dtypes; a differential test compares them).

    >>> plan = pref_plan(encoder, "preference")  # doctest: +SKIP
    >>> result = process_pref_chunk(chunk, config, encoder, plan)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alignkit.errors import AlignkitError
from alignkit.sft_chunk import count_outcome, drive_lines, paused_gc, sft_plan

if TYPE_CHECKING:
    from alignkit.encode import Encoder as SegmentEncoder
    from alignkit.encoder import Encoder
    from alignkit.manifest import RunStats
    from alignkit.pref_buffer import PairBuffer
    from alignkit.record_check import TurnTuple
    from alignkit.templates.specs import ChatSpec
    from alignkit.worker import Chunk, ChunkResult, TokenizeConfig


def pref_plan(encoder: Encoder, kind: str | None) -> tuple[ChatSpec, SegmentEncoder] | None:
    """The spec and segment encoder of the fast path, or ``None`` when it does not apply.

    It applies to preference chunks encoded by alignkit's own
    :class:`~alignkit.encoder.TemplateEncoder` with a declarative template (not a folder's
    Jinja template, not a custom encoder): the conditions of
    :func:`alignkit.sft_chunk.sft_plan`.
    """
    if kind != "preference":
        return None
    return sft_plan(encoder, "sft")


def process_pref_chunk(chunk: Chunk, config: TokenizeConfig, encoder: Encoder,
                       plan: tuple[ChatSpec, SegmentEncoder]) -> ChunkResult:
    """Validate, render, encode and truncate one preference chunk into flat columns.

    The cyclic garbage collector is paused for the chunk (and restored), as
    :func:`alignkit.sft_chunk.process_sft_chunk` does.
    """
    with paused_gc():
        return _process(chunk, config, encoder, plan)


def _process(chunk: Chunk, config: TokenizeConfig, encoder: Encoder,
             plan: tuple[ChatSpec, SegmentEncoder]) -> ChunkResult:
    from alignkit.io.jsonl import json_parser
    from alignkit.manifest import RunStats
    from alignkit.pref_buffer import POLICY_TRUNCATE, PairBuffer
    from alignkit.pref_rows import Event, add_pair, add_pairs
    from alignkit.sft_buffer import POLICY_CODES
    from alignkit.templates.chat import turn_tuples
    from alignkit.worker import ChunkResult

    from_json = json_parser()  # pydantic_core's, without its package __init__ (15-20 ms)

    spec, segment_encoder = plan
    template: Any = getattr(encoder, "template")  # noqa: B009 (a TemplateEncoder: see pref_plan)
    policy_name = template.policy  # the policy ChatTemplate.encode_pair renders with
    stats = RunStats()
    rejects: list[dict[str, object]] = []
    buf = PairBuffer(segment_encoder)
    max_len = config.max_seq_len
    policy = POLICY_CODES.get(config.truncation, POLICY_TRUNCATE)
    spoof_error = config.special_in_content == "error"
    lines = chunk.lines

    def fast(k: int, events: list[Any]) -> int:
        return add_pairs(buf, spec, lines, k, from_json, policy_name, max_len, policy, spoof_error, events)

    def count(number: int, event: Any) -> None:
        _count_event(chunk, number, event, None, template, max_len, stats, rejects)

    def slow(number: int, record: Any) -> None:
        parts = (turn_tuples(record.history), record.chosen_response, record.rejected_response)
        events: list[Event] = []
        add_pair(buf, spec, parts[0], parts[1], parts[2], policy_name, max_len, policy, spoof_error, events, 0)
        stats.written += 1 - len(events)
        for event in events:
            _count_event(chunk, number, event, parts, template, max_len, stats, rejects, record)

    drive_lines(chunk, config, stats, rejects, fast, count, slow)
    buf.discard()
    stats.add_counts(buf.tokens_by_role(), buf.trained_by_role())
    return ChunkResult(pair_columns(buf, encoder.n_vocab), rejects, stats)


def _count_event(chunk: Chunk, number: int, event: tuple[int, int, int, int, str, object],
                 parts: tuple[list[TurnTuple], str, str] | None, template: Any, max_len: int,
                 stats: RunStats, rejects: list[dict[str, object]], record: object = None) -> None:
    """Count one pair's outcome other than a plain keep (an :data:`alignkit.pref_rows.Event`),
    as :func:`alignkit.worker.pair_row` and the general loop count it.

    ``parts`` and ``record`` are the pair's parts and record when it came through pydantic
    (else they are read again from its line, for the rare event that needs them).
    """
    from alignkit.pref_rows import CHOSEN_CHANGES_PROMPT, REJECTED_CHANGES_PROMPT
    from alignkit.sft_rows import FAILED

    index, status, n_prompt, longest, flag, error = event
    if status == CHOSEN_CHANGES_PROMPT or status == REJECTED_CHANGES_PROMPT:
        error = _prompt_error(chunk.lines[index][1] if parts is None else parts, template,
                              status == CHOSEN_CHANGES_PROMPT)
        status = FAILED
    count_outcome(chunk.path, number, status, longest, flag, error, max_len, stats, rejects,
                  "a response has no trained token", n_prompt,
                  source=chunk.lines[index][1] if record is None else record)


def _prompt_error(source: bytes | tuple[list[TurnTuple], str, str], template: Any,
                  chosen: bool) -> AlignkitError:
    """The error the template's own :meth:`~alignkit.templates.chat.ChatTemplate.encode_pair`
    gives a pair whose response changes how its prompt renders."""
    if isinstance(source, bytes):
        from alignkit.io.jsonl import json_parser
        from alignkit.record_check import pair_parts

        from_json = json_parser()  # pydantic_core's, without its package __init__ (15-20 ms)

        found = pair_parts(from_json(source, cache_strings="keys"))
        assert found is not None  # the line took the fast path, so it is accepted again
        source = found
    history, chosen_text, rejected_text = source
    try:
        template._completion(history, template.render(history, True), chosen_text if chosen else rejected_text)
    except AlignkitError as err:
        return err
    raise AssertionError("the template renders this pair's prompt alike on a second look")


def pair_columns(buf: PairBuffer, n_vocab: int) -> list[tuple[Any, Any]]:
    """The buffer's columns in the order of :data:`alignkit.worker.PAIR_COLUMNS`, as
    (values, int64 lengths) in the dtypes :func:`alignkit.worker.flatten` gives them: each
    part's columns as :func:`alignkit.sft_chunk.buffer_columns` makes an SFT buffer's (the
    prompt's labels are not written).

    Raises:
        OutputError: an id outside the vocabulary (checked part by part, in column order,
            as ``flatten`` checks it).
    """
    from alignkit.sft_chunk import buffer_columns

    p = buffer_columns(buf.prompt, n_vocab)
    c = buffer_columns(buf.chosen, n_vocab)
    r = buffer_columns(buf.rejected, n_vocab)
    return [p[0], p[2], c[0], c[1], c[2], r[0], r[1], r[2]]
