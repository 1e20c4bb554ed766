"""The per-line loop of the SFT fast path, compiled (see :mod:`alignkit.sft_chunk`).

:func:`add_rows` parses each raw line (``pydantic_core.from_json``, handed in as
``parse``: this module never imports pydantic), checks it with
:func:`alignkit.record_check.sft_turns`, renders and encodes it straight into the
chunk's :class:`~alignkit.sft_buffer.SftBuffer` and applies the truncation policy,
line after line, until a line needs the pydantic path (a line the structural check
does not accept for certain). Everything a line's outcome needs besides "kept" (a
rejection, a drop, a truncation, special-token text in content) is reported as one
*event*, in line order, so the caller keeps the counts and rejects exactly as the
interpreted loop did.

    >>> from alignkit.encode import Encoder
    >>> from alignkit.sft_buffer import SftBuffer, POLICY_TRUNCATE
    >>> from alignkit.templates.specs import PLAIN
    >>> from pydantic_core import from_json
    >>> class Bytes:  # a toy tokenizer: one id per byte
    ...     def encode_ordinary(self, text): return list(text.encode())
    >>> buf = SftBuffer(Encoder(Bytes(), {"<s>": 300, "</s>": 301}))
    >>> ok = b'{"turns": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}'
    >>> events = []
    >>> add_rows(buf, PLAIN.resolve("<s>", "</s>"), [(1, ok), (2, b'{"turns": []}'), (3, ok)], 0, from_json,
    ...          "all_assistant", 0, POLICY_TRUNCATE, False, events)
    1
    >>> events, list(buf.lengths) == [len(buf.ids)]
    ([], True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from alignkit.errors import AlignkitError
from alignkit.record_check import sft_turns
from alignkit.sft_buffer import SftBuffer
from alignkit.templates.specs import ChatSpec
from alignkit.truncate import KEPT

#: Event status: rendering or encoding the record failed (the event's ``error`` says why).
FAILED: Final = -2
#: Event status: content holds special-token text and the run rejects such rows.
SPOOFED: Final = -1

#: ``(index in lines, status, row length, special string found in content or "", error)``;
#: ``status`` is :data:`FAILED`, :data:`SPOOFED` or what :meth:`SftBuffer.finish` returned.
Event = tuple[int, int, int, str, object]


def add_rows(buf: SftBuffer, spec: ChatSpec, lines: list[tuple[int, bytes]], start: int,
             parse: Callable[..., object], mask: str, max_len: int, policy: int,
             spoof_error: bool, events: list[Event]) -> int:
    """Add ``lines[start:]`` to ``buf`` until a line needs pydantic; that line's index.

    Each line that ``parse(raw, cache_strings="keys")`` reads and
    :func:`~alignkit.record_check.sft_turns` accepts is one record: it is rendered with
    ``spec`` and masked by ``mask``, encoded, then kept or refused by
    :meth:`SftBuffer.finish` (``max_len``, ``policy``). A record whose outcome is not a
    plain keep appends one :data:`Event` to ``events``.

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
        turns = sft_turns(value)
        if turns is None:
            return k
        try:
            n = buf.add_turns(spec, turns, mask)
        except (AlignkitError, ValueError) as err:
            events.append((k, FAILED, 0, "", err))
            k += 1
            continue
        flag = buf.flagged
        if flag and spoof_error:
            buf.discard()
            events.append((k, SPOOFED, n, flag, None))
            k += 1
            continue
        status = buf.finish(max_len, policy)
        if status != KEPT or flag:
            events.append((k, status, n, flag, None))
        k += 1
    return n_lines
