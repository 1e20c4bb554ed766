"""Per-chunk native column buffers for preference pairs (compiled).

A preference row is three parts: the shared prompt (its ids and role ids; never trained),
the chosen completion and the rejected completion (ids, labels and role ids of the tokens
after the prompt). :class:`PairBuffer` keeps one :class:`PartBuffer` per part: the part's
ids in a flat native vector (``librt.vecs.vec[i32]``), one *run* per encoded segment
(token count, role id, trained flag) and per-row lengths, as
:class:`~alignkit.sft_buffer.SftBuffer` does for SFT rows. It does what
:meth:`alignkit.encode.Encoder.encode`, :func:`alignkit.truncate.truncate_pair` and
:func:`alignkit.worker.pair_row` do together, without a Python list or an
:class:`~alignkit.encode.EncodedExample` per record; ``labels`` and ``role_ids`` are
expanded from the runs once per chunk (:func:`alignkit.pref_chunk.pair_columns`).

A pair is added in two steps, so the pipeline can still reject it after seeing it:
:meth:`PairBuffer.add` encodes the three parts (and tells any special-token string found
in the content); then :meth:`PairBuffer.finish` applies the truncation policy (responses
are cut, the prompt never) and the zero-trained rule and keeps the pair, or
:meth:`PairBuffer.discard` takes it back.

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
    >>> buf.tokens_by_role, buf.trained_by_role
    ([0, 2, 4, 0, 0, 0], [0, 0, 4, 0, 0, 0])
"""

from __future__ import annotations

from typing import Final, final

from librt.vecs import append, pop, vec
from mypy_extensions import i32, i64, u8

from alignkit.encode import NUM_ROLES, Encoder
from alignkit.errors import SpecialTokenError
from alignkit.sft_buffer import POLICY_DROP, POLICY_ERROR, POLICY_TRUNCATE, ZERO_TRAINED
from alignkit.templates.render import TurnTuple, render
from alignkit.templates.segments import KIND_SPECIAL, ROLE_TEMPLATE, Segment
from alignkit.templates.specs import ChatSpec
from alignkit.truncate import DROPPED, KEPT, PROMPT_TOO_LONG, TOO_LONG, TRUNCATED

__all__ = ["CHOSEN_DIFFERS", "POLICY_DROP", "POLICY_ERROR", "POLICY_TRUNCATE", "REJECTED_DIFFERS",
           "ZERO_TRAINED", "PairBuffer", "PartBuffer", "shares_prefix"]

#: :meth:`PairBuffer.add_turns`: the template renders the prompt differently once the chosen
#: (or the rejected) response is added; nothing was added.
CHOSEN_DIFFERS: Final = -1
REJECTED_DIFFERS: Final = -2

_SPOOF: Final = ("content contains the special token {!r}; it would be encoded as plain text, but this"
                 " run treats it as an error (special_in_content='error'); clean the data or use 'count'")


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


@final
class PartBuffer:
    """One part of a chunk's pairs: flat ids, one run per segment, per-row lengths.

    Attributes:
        ids: the kept rows' ids, concatenated (a native vector).
        run_lengths, run_roles, run_trained: one entry per run of the kept rows.
        lengths: the length of each kept row.
        row_len: the length of the row being added (after :meth:`add`).
        flagged: the first special-token string found in the row's content, or ``""``.
    """

    def __init__(self) -> None:
        self.ids: vec[i32] = vec[i32]()
        self.run_lengths: vec[i64] = vec[i64]()
        self.run_roles: vec[u8] = vec[u8]()
        self.run_trained: vec[u8] = vec[u8]()
        self.lengths: vec[i64] = vec[i64]()
        self.start: i64 = 0
        self.run_start: i64 = 0
        self.row_len: i64 = 0
        self.flagged: str = ""

    def _run(self, n: i64, role: int, trained: bool) -> None:
        if n > 0:
            self.run_lengths = append(self.run_lengths, n)
            self.run_roles = append(self.run_roles, u8(role))
            self.run_trained = append(self.run_trained, u8(1) if trained else u8(0))

    def add(self, enc: Encoder, segments: list[Segment], first: int) -> i64:
        """Append ``segments[first:]`` as the pending row (encoded as ``enc.encode`` does).

        Raises:
            SpecialTokenError: a SPECIAL segment names a token the tokenizer lacks, or
                content holds a special-token string and the encoder's mode is ``error``.
            ValueError: a role id outside the enum.
        """
        self.discard()
        core = enc.ascii_core
        prepare = enc.prepare
        flagged = ""
        for s in range(first, len(segments)):
            seg = segments[s]
            role = seg.role
            if role < 0 or role >= NUM_ROLES:
                raise ValueError(f"role id {role} is outside 0..{NUM_ROLES - 1}")
            if seg.kind == KIND_SPECIAL:
                self.ids = append(self.ids, i32(enc.special_id(seg.text)))
                self._run(1, role, seg.trained)
                continue
            text = seg.text
            if role != ROLE_TEMPLATE and not flagged:
                flagged = enc.find_special(text)
                if flagged and enc.raise_on_special:
                    raise SpecialTokenError(_SPOOF.format(flagged))
            before: i64 = len(self.ids)
            if role != ROLE_TEMPLATE and core is not None and text.isascii():
                self.ids = core.encode_bytes_into(text.encode("utf-8"), self.ids)
            elif role != ROLE_TEMPLATE and core is not None and prepare is not None:
                ready = prepare(text)
                try:
                    data = ready.encode("utf-8")
                except UnicodeEncodeError:
                    data = ready.encode("utf-8", "surrogatepass")
                self.ids = core.encode_bytes_into(data, self.ids)
            else:
                toks = enc.text_ids(text, role)
                ids = self.ids
                for k in range(len(toks)):
                    ids = append(ids, i32(toks[k]))
                self.ids = ids
            self._run(i64(len(self.ids)) - before, role, seg.trained)
        self.flagged = flagged
        self.row_len = i64(len(self.ids)) - self.start
        return self.row_len

    def discard(self) -> None:
        """Take back the pending row (a no-op when there is none)."""
        self.cut(0)
        self.row_len = 0

    def cut(self, length: i64) -> None:
        """Keep the pending row's first ``length`` tokens (its runs clipped)."""
        ids = self.ids
        while i64(len(ids)) > self.start + length:
            ids, _ = pop(ids)
        self.ids = ids
        left = length
        k = self.run_start
        end: i64 = len(self.run_lengths)
        while k < end and left > 0:
            n = self.run_lengths[k]
            if n > left:
                n = left
                self.run_lengths[k] = n
            left -= n
            k += 1
        lengths = self.run_lengths
        roles = self.run_roles
        trained = self.run_trained
        while i64(len(lengths)) > k:
            lengths, _ = pop(lengths)
            roles, _ = pop(roles)
            trained, _ = pop(trained)
        self.run_lengths = lengths
        self.run_roles = roles
        self.run_trained = trained
        self.row_len = length

    def trained(self) -> bool:
        """Whether the pending row has a trained token."""
        for k in range(self.run_start, len(self.run_lengths)):
            if self.run_trained[k]:
                return True
        return False

    def keep(self, totals: list[int], trained: list[int], labelled: bool) -> None:
        """Keep the pending row; add its tokens per role to ``totals`` (and its trained
        tokens to ``trained`` when ``labelled``: a prompt's tokens are never trained)."""
        for k in range(self.run_start, len(self.run_lengths)):
            role = int(self.run_roles[k])
            n = int(self.run_lengths[k])
            totals[role] += n
            if labelled and self.run_trained[k]:
                trained[role] += n
        self.lengths = append(self.lengths, self.row_len)
        self.start = len(self.ids)
        self.run_start = len(self.run_lengths)
        self.row_len = 0


@final
class PairBuffer:
    """The prompt, chosen and rejected parts of a chunk's pairs, and per-role counts.

    Attributes:
        prompt, chosen, rejected: the three :class:`PartBuffer`.
        tokens_by_role, trained_by_role: counts of the kept pairs, per role id (the
            prompt counted once, as :func:`alignkit.worker.pair_row` counts it).
        flagged: the first special-token string in the pair's content (prompt, chosen,
            rejected, in that order), or ``""``.
    """

    def __init__(self, encoder: Encoder) -> None:
        self.encoder: Encoder = encoder
        self.prompt: PartBuffer = PartBuffer()
        self.chosen: PartBuffer = PartBuffer()
        self.rejected: PartBuffer = PartBuffer()
        self.tokens_by_role: list[int] = [0] * NUM_ROLES
        self.trained_by_role: list[int] = [0] * NUM_ROLES
        self.flagged: str = ""

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
            SpecialTokenError, ValueError: as :meth:`PartBuffer.add` (nothing is kept).
        """
        n = len(prompt)
        enc = self.encoder
        try:
            p = self.prompt.add(enc, prompt, 0)
            c = self.chosen.add(enc, chosen, n)
            r = self.rejected.add(enc, rejected, n)
        except Exception:  # nothing of a failed pair stays pending
            self.discard()
            raise
        flag = self.prompt.flagged
        if not flag:
            flag = self.chosen.flagged
        if not flag:
            flag = self.rejected.flagged
        self.flagged = flag
        return int(p), int(p + c), int(p + r)

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
            SpecialTokenError, ValueError: as :meth:`PartBuffer.add` (nothing is kept).
        """
        prompt = render(spec, history, policy, True)
        turns = list(history)
        turns.append(("assistant", chosen, None, None))
        full_c = render(spec, turns, policy)
        if not shares_prefix(full_c, prompt):
            return CHOSEN_DIFFERS
        turns[len(turns) - 1] = ("assistant", rejected, None, None)
        full_r = render(spec, turns, policy)
        if not shares_prefix(full_r, prompt):
            return REJECTED_DIFFERS
        p, _, _ = self.add(prompt, full_c, full_r)
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
        budget = i64(max_seq_len)
        if budget > 0 and (p + c > budget or p + r > budget):
            if policy == POLICY_ERROR:
                self.discard()
                return TOO_LONG
            if p >= budget:
                self.discard()
                return PROMPT_TOO_LONG
            if policy == POLICY_DROP:
                self.discard()
                return DROPPED
            if p + c > budget:
                self.chosen.cut(budget - p)
            if p + r > budget:
                self.rejected.cut(budget - p)
            status = TRUNCATED
        if not self.chosen.trained() or not self.rejected.trained():
            self.discard()
            return ZERO_TRAINED
        self.prompt.keep(self.tokens_by_role, self.trained_by_role, False)
        self.chosen.keep(self.tokens_by_role, self.trained_by_role, True)
        self.rejected.keep(self.tokens_by_role, self.trained_by_role, True)
        return status
