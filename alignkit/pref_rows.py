"""The per-line loop of the preference fast path, compiled (see :mod:`alignkit.pref_chunk`).

:func:`add_pairs` parses each raw line (``pydantic_core.from_json``, handed in as
``parse``: this module never imports pydantic), checks it with
:func:`alignkit.record_check.pair_parts`, renders and encodes it straight into the
chunk's :class:`~alignkit.pref_buffer.PairBuffer` and applies the truncation policy,
line after line, until a line needs the pydantic path (a line the structural check
does not accept for certain). Every outcome besides a plain keep (a rejection, a drop,
a truncation, special-token text in content) is reported as one *event*, in line
order, so the caller counts and reports exactly as the general path does.

    >>> from alignkit.encode import Encoder
    >>> from alignkit.pref_buffer import PairBuffer, POLICY_TRUNCATE
    >>> from alignkit.templates.specs import PLAIN
    >>> from pydantic_core import from_json
    >>> class Bytes:  # a toy tokenizer: one id per byte
    ...     def encode_ordinary(self, text): return list(text.encode())
    >>> buf = PairBuffer(Encoder(Bytes(), {"<s>": 300, "</s>": 301}))
    >>> ok = b'{"history": [{"role": "user", "content": "a"}], "response_a": "b", "response_b": "c", "chosen": "a"}'
    >>> events = []
    >>> add_pairs(buf, PLAIN.resolve("<s>", "</s>"), [(1, ok), (2, b'{"history": []}'), (3, ok)], 0,
    ...           from_json, "all_assistant", 0, POLICY_TRUNCATE, False, events)
    1
    >>> events, list(buf.prompt.ids), list(buf.chosen.ids), list(buf.rejected.ids)
    ([], [300, 97, 10], [98, 301, 10], [99, 301, 10])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from alignkit.errors import AlignkitError
from alignkit.pref_buffer import CHOSEN_DIFFERS, PairBuffer
from alignkit.record_check import TurnTuple, pair_parts
from alignkit.sft_rows import FAILED, SPOOFED
from alignkit.templates.specs import ChatSpec
from alignkit.truncate import KEPT

#: Event status: the template renders the prompt differently once the chosen response is
#: added (nothing added; the caller reports the template's own error). Besides these two,
#: an event's status is the SFT loop's :data:`~alignkit.sft_rows.FAILED` /
#: :data:`~alignkit.sft_rows.SPOOFED` (one outcome counter serves both) or what
#: :meth:`PairBuffer.finish` returned.
CHOSEN_CHANGES_PROMPT: Final = -3
#: As :data:`CHOSEN_CHANGES_PROMPT`, for the rejected response.
REJECTED_CHANGES_PROMPT: Final = -4

#: ``(index in lines, status, prompt length, longest full length, special string found in
#: content or "", error)``.
Event = tuple[int, int, int, int, str, object]


def add_pair(buf: PairBuffer, spec: ChatSpec, history: list[TurnTuple], chosen: str, rejected: str,
             policy_name: str, max_len: int, policy: int, spoof_error: bool, events: list[Event],
             index: int) -> None:
    """Render, encode and keep (or refuse) one valid pair; an :data:`Event` unless a plain keep.

    Args:
        buf: the chunk's buffer.
        spec, policy_name: the template and its masking policy.
        history, chosen, rejected: the pair (see :func:`~alignkit.record_check.pair_parts`).
        max_len, policy: the truncation budget and policy code (:meth:`PairBuffer.finish`).
        spoof_error: special-token text in content rejects the pair.
        events: where the event goes.
        index: the line's index, recorded in the event.
    """
    try:
        p = buf.add_turns(spec, history, chosen, rejected, policy_name)
    except (AlignkitError, ValueError) as err:
        events.append((index, FAILED, 0, 0, "", err))
        return
    if p < 0:
        status = CHOSEN_CHANGES_PROMPT if p == CHOSEN_DIFFERS else REJECTED_CHANGES_PROMPT
        events.append((index, status, 0, 0, "", None))
        return
    c = int(buf.chosen.row_len)
    r = int(buf.rejected.row_len)
    longest = p + (c if c > r else r)
    flag = buf.flagged
    if flag and spoof_error:
        buf.discard()
        events.append((index, SPOOFED, p, longest, flag, None))
        return
    status = buf.finish(max_len, policy)
    if status != KEPT or flag:
        events.append((index, status, p, longest, flag, None))


def add_pairs(buf: PairBuffer, spec: ChatSpec, lines: list[tuple[int, bytes]], start: int,
              parse: Callable[..., object], policy_name: str, max_len: int, policy: int,
              spoof_error: bool, events: list[Event]) -> int:
    """Add ``lines[start:]`` to ``buf`` until a line needs pydantic; that line's index.

    Each line that ``parse(raw, cache_strings="keys")`` reads and
    :func:`~alignkit.record_check.pair_parts` accepts is one pair, handled by
    :func:`add_pair`.

    Returns:
        The index of the first line not handled (``len(lines)`` when all were): the
        caller validates it with pydantic (valid or not, blank or not) and calls again
        from the next line.
    """
    k = start
    n_lines = len(lines)
    while k < n_lines:
        raw = lines[k][1]
        try:
            value = parse(raw, cache_strings="keys")
        except ValueError:
            return k
        parts = pair_parts(value)
        if parts is None:
            return k
        add_pair(buf, spec, parts[0], parts[1], parts[2], policy_name, max_len, policy, spoof_error,
                 events, k)
        k += 1
    return n_lines
