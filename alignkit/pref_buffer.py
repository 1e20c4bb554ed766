"""Per-chunk native column buffers for preference pairs (compiled).

A preference row is three parts: the shared prompt (its ids and role ids; never trained),
the chosen completion and the rejected completion (ids, labels and role ids of the tokens
after the prompt). :class:`PairBuffer` writes each part into its own
:class:`~alignkit.sft_buffer.SftBuffer` (flat native ids, one run per segment, per-row
lengths, per-role counts: the SFT fast path's encoder, reused as is) and decides for the
three together what :func:`alignkit.truncate.truncate_pair` and
:func:`alignkit.worker.pair_row` decide: responses are cut to the budget left by the
prompt, the prompt never; a pair whose prompt fills the budget, or with a response left
without a trained token, is dropped. ``labels`` and ``role_ids`` are expanded from the
runs once per chunk (:func:`alignkit.pref_chunk.pair_columns`).

A pair is added in two steps, so the pipeline can still reject it after seeing it:
:meth:`PairBuffer.add` (or :meth:`PairBuffer.add_turns`) encodes the three parts and
tells any special-token string found in the content; then :meth:`PairBuffer.finish`
keeps the pair or takes it back, or :meth:`PairBuffer.discard` takes it back.

    >>> from alignkit.encode import Encoder
    >>> from alignkit.templates.segments import Segment, KIND_SPECIAL, KIND_TEXT
    >>> class Bytes:  # a toy tokenizer: one id per byte
    ...     def encode_ordinary(self, text): return list(text.encode())
    >>> buf = PairBuffer(Encoder(Bytes(), {"<eos>": 300}))
    >>> prompt = [Segment(1, KIND_TEXT, "hi", False)]
    >>> chosen = prompt + [Segment(2, KIND_TEXT, "ok", True), Segment(2, KIND_SPECIAL, "<eos>", True)]
    >>> rejected = prompt + [Segment(2, KIND_TEXT, "no", True), Segment(2, KIND_SPECIAL, "<eos>", True)]
    >>> buf.add(prompt, chosen, rejected)
    (2, 5, 5)
    >>> buf.finish(4, POLICY_TRUNCATE) == TRUNCATED
    True
    >>> list(buf.prompt.ids), list(buf.chosen.ids), list(buf.rejected.ids)
    ([104, 105], [111, 107], [110, 111])
    >>> buf.tokens_by_role(), buf.trained_by_role()
    ([0, 2, 4, 0, 0, 0], [0, 0, 4, 0, 0, 0])
"""

from __future__ import annotations

from typing import Final, final

from mypy_extensions import i64

from alignkit.encode import NUM_ROLES, Encoder
from alignkit.sft_buffer import POLICY_DROP, POLICY_ERROR, POLICY_TRUNCATE, ZERO_TRAINED, SftBuffer
from alignkit.templates.render import TurnTuple, render, render_into
from alignkit.templates.segments import Segment, SegmentSink
from alignkit.templates.specs import ChatSpec
from alignkit.truncate import DROPPED, KEPT, PROMPT_TOO_LONG, TOO_LONG, TRUNCATED

__all__ = ["CHOSEN_DIFFERS", "POLICY_DROP", "POLICY_ERROR", "POLICY_TRUNCATE", "REJECTED_DIFFERS",
           "ZERO_TRAINED", "PairBuffer", "shares_prefix", "trained_within"]

#: :meth:`PairBuffer.add_turns`: the template renders the prompt differently once the chosen
#: (or the rejected) response is added; nothing was added.
CHOSEN_DIFFERS: Final = -1
REJECTED_DIFFERS: Final = -2


def shares_prefix(full: list[Segment], prompt: list[Segment]) -> bool:
    """True when ``full`` starts with ``prompt``'s segments (same role, kind and text).

        >>> from alignkit.templates.segments import Segment, KIND_TEXT
        >>> shares_prefix([Segment(1, KIND_TEXT, "a", True)], [Segment(1, KIND_TEXT, "a", False)])
        True
    """
    n = len(prompt)
    if len(full) < n:
        return False
    for k in range(n):
        a = full[k]
        b = prompt[k]
        if a.role != b.role or a.kind != b.kind or a.text != b.text:
            return False
    return True


def trained_within(part: SftBuffer, length: int) -> bool:
    """Whether the first ``length`` tokens of ``part``'s pending row (all of it when
    ``length <= 0``) hold a trained token, read from its runs."""
    left = i64(length) if length > 0 else i64(part.row_len)
    k = part.run_start
    end: i64 = len(part.run_lengths)
    while k < end and left > 0:
        if part.run_trained[k]:
            return True
        left -= part.run_lengths[k]
        k += 1
    return False


def _encode(part: SftBuffer, segments: list[Segment], first: int, untrained: bool) -> int:
    """``segments[first:]`` as ``part``'s pending row; ``untrained``: every segment marked
    trained instead (a prompt: it is kept whatever its flags, and its labels are not written)."""
    part.begin()
    for s in range(first, len(segments)):
        seg = segments[s]
        part.emit(seg.role, seg.kind, seg.text, True if untrained else seg.trained)
    return part.end()


@final
class _Tail(SegmentSink):
    """A sink for a full render that must start with ``prefix``'s segments (same role, kind
    and text, as :func:`shares_prefix` compares them): it compares those as they arrive and
    keeps only the segments after them (no segment object for the shared history)."""

    def __init__(self, prefix: list[Segment]) -> None:
        self.prefix: list[Segment] = prefix
        self.seen: int = 0
        self.same: bool = True
        self.segments: list[Segment] = []

    def emit(self, role: int, kind: int, text: str, trained: bool) -> None:
        k = self.seen
        if k < len(self.prefix):
            p = self.prefix[k]
            if p.role != role or p.kind != kind or p.text != text:
                self.same = False
            self.seen = k + 1
        else:
            self.segments.append(Segment(role, kind, text, trained))

    def shares(self) -> bool:
        """Whether the render started with every segment of ``prefix``."""
        return self.same and self.seen == len(self.prefix)


@final
class PairBuffer:
    """The prompt, chosen and rejected parts of a chunk's pairs.

    Attributes:
        prompt, chosen, rejected: one :class:`~alignkit.sft_buffer.SftBuffer` per part.
            The prompt's runs are all marked trained (see :meth:`add`); only its ids and
            role ids are written.
        flagged: the first special-token string in the pair's content (prompt, chosen,
            rejected, in that order), or ``""``.
    """

    def __init__(self, encoder: Encoder) -> None:
        self.prompt: SftBuffer = SftBuffer(encoder)
        self.chosen: SftBuffer = SftBuffer(encoder)
        self.rejected: SftBuffer = SftBuffer(encoder)
        self.flagged: str = ""

    def tokens_by_role(self) -> list[int]:
        """Tokens of the kept pairs per role id, the prompt counted once (as
        :func:`alignkit.worker.pair_row` counts them)."""
        p = self.prompt.tokens_by_role
        c = self.chosen.tokens_by_role
        r = self.rejected.tokens_by_role
        return [p[k] + c[k] + r[k] for k in range(NUM_ROLES)]

    def trained_by_role(self) -> list[int]:
        """Trained tokens of the kept pairs per role id (responses only: a prompt is never trained)."""
        c = self.chosen.trained_by_role
        r = self.rejected.trained_by_role
        return [c[k] + r[k] for k in range(NUM_ROLES)]

    def add(self, prompt: list[Segment], chosen: list[Segment],
            rejected: list[Segment]) -> tuple[int, int, int]:
        """Encode a pair (not yet kept: call :meth:`finish` or :meth:`discard`).

        Args:
            prompt: the inference prompt's segments.
            chosen, rejected: the full segments of the history plus each response, which
                start with ``prompt``'s (see :func:`shares_prefix`).

        Returns:
            The lengths of the prompt and of the two full sequences (prompt included).

        Raises:
            SpecialTokenError, ValueError: as :meth:`SftBuffer.emit
                <alignkit.sft_buffer.SftBuffer.emit>` (nothing is kept).
        """
        n = len(prompt)
        return self._add(prompt, chosen, n, rejected, n)

    def _add(self, prompt: list[Segment], chosen: list[Segment], c_first: int,
             rejected: list[Segment], r_first: int) -> tuple[int, int, int]:
        """:meth:`add` of ``chosen[c_first:]`` and ``rejected[r_first:]`` after ``prompt``."""
        try:
            p = _encode(self.prompt, prompt, 0, True)
            c = _encode(self.chosen, chosen, c_first, False)
            r = _encode(self.rejected, rejected, r_first, False)
        except Exception:  # nothing of a failed pair stays pending
            self.discard()
            raise
        if p == 0:  # never for a valid record: its history has non-blank content
            self.discard()
            raise ValueError("the template renders this history as an empty prompt")
        flag = self.prompt.flagged
        if not flag:
            flag = self.chosen.flagged
        if not flag:
            flag = self.rejected.flagged
        self.flagged = flag
        return p, p + c, p + r

    def add_turns(self, spec: ChatSpec, history: list[TurnTuple], chosen: str, rejected: str,
                  policy: str) -> int:
        """Render a pair as :meth:`alignkit.templates.chat.ChatTemplate.encode_pair` renders it
        (the prompt with the generation prompt, then the history plus each response) and
        :meth:`add` it.

        Returns:
            The prompt's length, or :data:`CHOSEN_DIFFERS` / :data:`REJECTED_DIFFERS` when a
            response changes how the prompt renders (nothing added; the template's own
            ``encode_pair`` gives the error to report).

        Raises:
            TemplateError: the template cannot render the record (as ``render``).
            SpecialTokenError, ValueError: as :meth:`add` (nothing is kept).
        """
        prompt = render(spec, history, policy, True)
        turns = list(history)
        turns.append(("assistant", chosen, None, None))
        tail_c = _Tail(prompt)  # the full render, checked against the prompt as it goes
        render_into(spec, turns, tail_c, policy)
        if not tail_c.shares():
            return CHOSEN_DIFFERS
        turns[len(turns) - 1] = ("assistant", rejected, None, None)
        tail_r = _Tail(prompt)
        render_into(spec, turns, tail_r, policy)
        if not tail_r.shares():
            return REJECTED_DIFFERS
        p, _, _ = self._add(prompt, tail_c.segments, 0, tail_r.segments, 0)
        return p

    def discard(self) -> None:
        """Take back the pair added last and not kept (a no-op when there is none)."""
        self.prompt.discard()
        self.chosen.discard()
        self.rejected.discard()

    def finish(self, max_seq_len: int, policy: int) -> int:
        """Apply the truncation policy to the pair added last; keep it or take it back.

        Args:
            max_seq_len: the budget of each full sequence (``<= 0``: no limit).
            policy: ``POLICY_DROP``, ``POLICY_TRUNCATE`` or ``POLICY_ERROR`` (of
                :mod:`alignkit.sft_buffer`).

        Returns:
            The status of :func:`alignkit.truncate.truncate_pair` (``KEPT``, ``TRUNCATED``,
            ``DROPPED``, ``TOO_LONG``, ``PROMPT_TOO_LONG``), or ``ZERO_TRAINED`` when a
            response has no trained token left. A pair not kept is taken back.
        """
        p = self.prompt.row_len
        c = self.chosen.row_len
        r = self.rejected.row_len
        status = KEPT
        room = 0  # the responses' budget; 0: no cut
        if max_seq_len > 0 and (p + c > max_seq_len or p + r > max_seq_len):
            if policy == POLICY_ERROR:
                self.discard()
                return TOO_LONG
            if p >= max_seq_len:
                self.discard()
                return PROMPT_TOO_LONG
            if policy == POLICY_DROP:
                self.discard()
                return DROPPED
            room = max_seq_len - p
            status = TRUNCATED
        if not trained_within(self.chosen, room) or not trained_within(self.rejected, room):
            self.discard()
            return ZERO_TRAINED
        # each keeps: the prompt has tokens, all marked trained; each response a trained one
        kept = (self.prompt.finish(0, POLICY_TRUNCATE), self.chosen.finish(room, POLICY_TRUNCATE),
                self.rejected.finish(room, POLICY_TRUNCATE))
        if ZERO_TRAINED in kept:  # the three parts' rows would no longer line up
            raise RuntimeError(f"a pair's part was not kept {kept}; this is a bug, please report it")
        return status
