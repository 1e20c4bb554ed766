"""The fast per-chunk path of preference files with a built-in (declarative) chat template.

For each line: ``pydantic_core.from_json`` and the compiled structural check
:func:`alignkit.record_check.pair_parts`; a line it does not accept for certain takes the
pydantic path of :mod:`alignkit.worker` (which accepts it or gives its exact error).
Every valid pair is rendered once as its prompt and once per response (as
:meth:`alignkit.templates.chat.ChatTemplate.encode_pair` renders it) and written by
:class:`alignkit.pref_buffer.PairBuffer` into native column buffers; the chunk's
columns become numpy arrays once, at the end.

The result equals :func:`alignkit.worker.process_chunk`'s general path for the same
chunk (same rows, rejects, counts and dtypes; a differential test compares them).

    >>> plan = pref_plan(encoder, "preference")  # doctest: +SKIP
    >>> result = process_pref_chunk(chunk, config, encoder, plan)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alignkit.errors import AlignkitError, InputError, OutputError
from alignkit.sft_chunk import sft_plan
from alignkit.truncate import DROPPED, PROMPT_TOO_LONG, TOO_LONG, TRUNCATED

if TYPE_CHECKING:
    from alignkit.encode import Encoder as SegmentEncoder
    from alignkit.encoder import Encoder
    from alignkit.pref_buffer import PairBuffer, PartBuffer
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
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        return _process(chunk, config, encoder, plan)
    finally:
        if enabled:
            gc.enable()


def _process(chunk: Chunk, config: TokenizeConfig, encoder: Encoder,
             plan: tuple[ChatSpec, SegmentEncoder]) -> ChunkResult:
    from pydantic_core import from_json

    from alignkit.manifest import RunStats
    from alignkit.pref_buffer import CHOSEN_DIFFERS, POLICY_TRUNCATE, ZERO_TRAINED, PairBuffer
    from alignkit.record_check import pair_parts
    from alignkit.sft_buffer import POLICY_CODES
    from alignkit.worker import (
        _TOO_LONG,
        ChunkResult,
        LineRecords,
        _count_reject,
        _dropped,
        _encode_error,
        _reader_errors,
        _spoof_error,
    )

    spec, segment_encoder = plan
    template: Any = getattr(encoder, "template")
    policy_name = template.policy  # the policy ChatTemplate.encode_pair renders with
    slow = LineRecords(chunk, config.skip_blank)
    stats = RunStats()
    rejects: list[dict[str, object]] = []
    _reader_errors(chunk, stats, rejects)
    buf = PairBuffer(segment_encoder)
    max_len = config.max_seq_len
    policy = POLICY_CODES.get(config.truncation, POLICY_TRUNCATE)
    spoof_error = config.special_in_content == "error"
    for number, raw in chunk.lines:
        try:
            parts = pair_parts(from_json(raw, cache_strings="keys"))
        except ValueError:
            parts = None
        if parts is None:  # the pydantic path: a valid record, or its exact error
            got = slow.record(number, raw)
            if got is None:  # a blank line passed over
                continue
            if isinstance(got, InputError):
                stats.records_in += 1
                _count_reject(stats, rejects, chunk.path, got)
                continue
            from alignkit.templates.chat import turn_tuples

            parts = (turn_tuples(got.history), got.chosen_response, got.rejected_response)
        stats.records_in += 1
        history, chosen, rejected = parts
        try:
            n_prompt = buf.add_turns(spec, history, chosen, rejected, policy_name)
            if n_prompt < 0:  # the template's own check raises its exact TemplateError
                response = chosen if n_prompt == CHOSEN_DIFFERS else rejected
                template._completion(history, template.render(history, True), response)
                raise AssertionError(f"line {number}: the template renders this pair's prompt alike")
        except (AlignkitError, ValueError) as err:  # a template that cannot render this record
            _count_reject(stats, rejects, chunk.path, _encode_error(chunk.path, number, err))
            continue
        flag = buf.flagged
        if flag:
            stats.special_in_content += 1
            if spoof_error:
                buf.discard()
                _count_reject(stats, rejects, chunk.path, _spoof_error(chunk.path, number, flag))
                continue
        longest = n_prompt + max(int(buf.chosen.row_len), int(buf.rejected.row_len))
        status = buf.finish(max_len, policy)
        if status == TOO_LONG:
            skip = InputError(chunk.path, number, "", f"{longest} tokens, " + _TOO_LONG.format(n=max_len),
                              "too_long")
            _count_reject(stats, rejects, chunk.path, skip)
        elif status == PROMPT_TOO_LONG:
            stats.drop("prompt_too_long")
            rejects.append(_dropped(chunk.path, number, "prompt_too_long",
                                    f"the prompt alone has {n_prompt} tokens, no room for a response in"
                                    f" --max-seq-len {max_len}"))
        elif status == DROPPED:
            stats.drop("too_long")
            rejects.append(_dropped(chunk.path, number, "too_long", f"{longest} tokens > --max-seq-len {max_len}"))
        elif status == ZERO_TRAINED:
            stats.zero_trained += 1
            stats.drop("zero_trained")
            rejects.append(_dropped(chunk.path, number, "zero_trained", "a response has no trained token"))
        else:
            if status == TRUNCATED:
                stats.truncated += 1
            stats.written += 1
    buf.discard()
    stats.add_counts(buf.tokens_by_role, buf.trained_by_role)
    return ChunkResult(pair_columns(buf, encoder.n_vocab), rejects, stats)


def _ids(part: PartBuffer, n_vocab: int) -> Any:
    """The part's kept ids (``int32``), checked against the vocabulary as
    :func:`alignkit.worker.flatten` checks them."""
    from alignkit.sft_chunk import _view

    ids = _view(part.ids, "int32")
    if len(ids) and int(ids.max()) >= n_vocab:
        raise OutputError(f"token id {int(ids.max())} is outside the vocabulary ({n_vocab} ids);"
                          " this is a bug in the tokenizer or template, please report it")
    return ids


def _roles_labels(part: PartBuffer, ids: Any) -> tuple[Any, Any]:
    """``role_ids`` (``uint8``) and ``labels`` (``int32``: the id where trained, else -100)
    of the part's kept rows, expanded from its runs."""
    import numpy as np

    from alignkit.encode import IGNORE_INDEX
    from alignkit.sft_chunk import _view

    lengths = _view(part.run_lengths, "int64")
    roles = np.repeat(_view(part.run_roles, "uint8"), lengths)
    trained = np.repeat(_view(part.run_trained, "uint8").astype(bool), lengths)
    labels = np.full(len(ids), IGNORE_INDEX, dtype=np.int32)
    np.copyto(labels, ids, where=trained)
    return roles, labels


def pair_columns(buf: PairBuffer, n_vocab: int) -> list[tuple[Any, Any]]:
    """The buffer's columns in the order of :data:`alignkit.worker.PAIR_COLUMNS`, as
    (values, int64 lengths) in the dtypes :func:`alignkit.worker.flatten` gives them.

    Raises:
        OutputError: an id outside the vocabulary.
    """
    from alignkit.io.writers import checked_cast
    from alignkit.sft_chunk import _view
    from alignkit.worker import column_dtype

    id_dtype = column_dtype("input_ids", n_vocab)
    parts = (buf.prompt, buf.chosen, buf.rejected)
    ids = [_ids(part, n_vocab) for part in parts]  # checked in column order, as flatten does
    out: list[tuple[Any, Any]] = []
    for k, part in enumerate(parts):
        lengths = _view(part.lengths, "int64")
        roles, labels = _roles_labels(part, ids[k])
        out.append((checked_cast("input_ids", ids[k], id_dtype), lengths))
        if k > 0:
            out.append((labels, lengths))
        out.append((roles, lengths))
    return out
