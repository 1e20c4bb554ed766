"""Per-chunk native column buffers for SFT rows (compiled).

:class:`SftBuffer` turns rendered segments straight into three flat native arrays
(``librt.vecs.vec``: ``input_ids`` and ``labels`` as ``i32``, ``role_ids`` as
``u8``) plus per-row lengths, counting tokens and trained tokens per role in the
same pass. It does what :meth:`alignkit.encode.Encoder.encode`,
:func:`alignkit.truncate.truncate_example` and the row flattening of the pipeline
do together, without a Python list or an :class:`~alignkit.encode.EncodedExample`
per record; the arrays become numpy views once per chunk (``memoryview``).

A row is added in two steps, so the pipeline can still reject a row after seeing it:
:meth:`SftBuffer.add` appends the row's tokens (and tells its length and any
special-token string found in the content); then :meth:`SftBuffer.finish` applies the
truncation policy and the zero-trained rule and keeps the row, or :meth:`SftBuffer.discard`
takes it back. Masks are made with the ids, from the segments' structure, exactly as
:class:`~alignkit.encode.Encoder` makes them (differential tests compare the two).

    >>> from alignkit.encode import Encoder
    >>> from alignkit.templates.segments import Segment, KIND_SPECIAL, KIND_TEXT
    >>> class Bytes:  # a toy tokenizer: one id per byte
    ...     def encode_ordinary(self, text): return list(text.encode())
    >>> buf = SftBuffer(Encoder(Bytes(), {"<eos>": 300}))
    >>> buf.add([Segment(1, KIND_TEXT, "hi", False), Segment(2, KIND_TEXT, "ok", True),
    ...          Segment(2, KIND_SPECIAL, "<eos>", True)])
    5
    >>> buf.finish(0, POLICY_TRUNCATE) == KEPT
    True
    >>> list(buf.ids), list(buf.labels), list(buf.roles), list(buf.lengths)
    ([104, 105, 111, 107, 300], [-100, -100, 111, 107, 300], [1, 1, 2, 2, 2], [5])
"""

from __future__ import annotations

from typing import Final, final

from librt.vecs import append, pop, vec
from mypy_extensions import i32, i64, u8

from alignkit.encode import IGNORE_INDEX, NUM_ROLES, Encoder
from alignkit.errors import SpecialTokenError
from alignkit.templates.segments import KIND_SPECIAL, ROLE_TEMPLATE, Segment
from alignkit.truncate import DROPPED, KEPT, TOO_LONG, TRUNCATED

#: Truncation policies as codes (the names of :data:`alignkit.truncate.POLICIES`).
POLICY_DROP: Final = 0
POLICY_TRUNCATE: Final = 1
POLICY_ERROR: Final = 2
POLICY_CODES: Final[dict[str, int]] = {"drop": POLICY_DROP, "truncate": POLICY_TRUNCATE,
                                       "error": POLICY_ERROR}

#: :meth:`SftBuffer.finish`: the row has no trained token (after truncation); dropped.
ZERO_TRAINED: Final = 5

_IGNORE: Final[i32] = IGNORE_INDEX


@final
class SftBuffer:
    """Flat ``input_ids``/``labels``/``role_ids`` of a chunk's rows, and per-role counts.

    Attributes:
        ids, labels, roles: the kept rows' values, concatenated (native vectors).
        lengths: the length of each kept row.
        tokens_by_role, trained_by_role: counts of the kept rows, per role id.
        row_len: the length of the row being added (after :meth:`add`).
        flagged: the first special-token string found in the row's content, or ``""``.
    """

    def __init__(self, encoder: Encoder) -> None:
        self.encoder: Encoder = encoder
        self.ids: vec[i32] = vec[i32]()
        self.labels: vec[i32] = vec[i32]()
        self.roles: vec[u8] = vec[u8]()
        self.lengths: vec[i64] = vec[i64]()
        self.tokens_by_role: list[int] = [0] * NUM_ROLES
        self.trained_by_role: list[int] = [0] * NUM_ROLES
        self.row_tokens: list[int] = [0] * NUM_ROLES
        self.row_trained: list[int] = [0] * NUM_ROLES
        self.start: i64 = 0
        self.row_len: int = 0
        self.flagged: str = ""

    def add(self, segments: list[Segment]) -> int:
        """Append one row's tokens (not yet kept: call :meth:`finish` or :meth:`discard`).

        Returns:
            The row's length.

        Raises:
            SpecialTokenError: a SPECIAL segment names a token the tokenizer lacks, or
                content holds a special-token string and the encoder's mode is ``error``.
            ValueError: a role id outside the enum.
        """
        self.discard()
        enc = self.encoder
        ids = self.ids
        labels = self.labels
        roles = self.roles
        totals = self.row_tokens
        trained = self.row_trained
        for r in range(NUM_ROLES):
            totals[r] = 0
            trained[r] = 0
        flagged = ""
        try:
            for s in range(len(segments)):
                seg = segments[s]
                role = seg.role
                if role < 0 or role >= NUM_ROLES:
                    raise ValueError(f"role id {role} is outside 0..{NUM_ROLES - 1}")
                is_trained = seg.trained
                if seg.kind == KIND_SPECIAL:
                    sid = enc.special_id(seg.text)
                    ids = append(ids, i32(sid))
                    labels = append(labels, i32(sid) if is_trained else _IGNORE)
                    roles = append(roles, u8(role))
                    totals[role] += 1
                    if is_trained:
                        trained[role] += 1
                    continue
                text = seg.text
                if role != ROLE_TEMPLATE and not flagged:
                    flagged = enc.find_special(text)
                    if flagged and enc.raise_on_special:
                        raise SpecialTokenError(
                            f"content contains the special token {flagged!r}; it would be"
                            " encoded as plain text, but this run treats it as an error"
                            " (special_in_content='error'); clean the data or use 'count'"
                        )
                r8 = u8(role)
                core = enc.ascii_core
                if role != ROLE_TEMPLATE and core is not None and text.isascii():
                    # straight into the ids vector: no list, no boxed ints
                    first: i64 = len(ids)
                    ids = core.encode_bytes_into(text.encode("utf-8"), ids)
                    end: i64 = len(ids)
                    k = first
                    if is_trained:
                        while k < end:
                            labels = append(labels, ids[k])
                            roles = append(roles, r8)
                            k += 1
                    else:
                        while k < end:
                            labels = append(labels, _IGNORE)
                            roles = append(roles, r8)
                            k += 1
                    totals[role] += int(end - first)
                    if is_trained:
                        trained[role] += int(end - first)
                    continue
                toks = enc.text_ids(text, role)
                n = len(toks)
                if is_trained:
                    for k in range(n):
                        t = i32(toks[k])
                        ids = append(ids, t)
                        labels = append(labels, t)
                        roles = append(roles, r8)
                    trained[role] += n
                else:
                    for k in range(n):
                        ids = append(ids, i32(toks[k]))
                        labels = append(labels, _IGNORE)
                        roles = append(roles, r8)
                totals[role] += n
        finally:
            self.ids = ids
            self.labels = labels
            self.roles = roles
        self.flagged = flagged
        self.row_len = int(i64(len(ids)) - self.start)
        return self.row_len

    def discard(self) -> None:
        """Take back the row added last and not kept (a no-op when there is none)."""
        start = self.start
        ids = self.ids
        labels = self.labels
        roles = self.roles
        while i64(len(ids)) > start:
            ids, _ = pop(ids)
            labels, _ = pop(labels)
            roles, _ = pop(roles)
        self.ids = ids
        self.labels = labels
        self.roles = roles
        self.row_len = 0

    def _recount(self) -> None:
        """Recount the row's per-role tokens from its arrays (after a cut)."""
        totals = self.row_tokens
        trained = self.row_trained
        for r in range(NUM_ROLES):
            totals[r] = 0
            trained[r] = 0
        k = self.start
        end: i64 = len(self.ids)
        while k < end:
            role = int(self.roles[k])
            totals[role] += 1
            if self.labels[k] != _IGNORE:
                trained[role] += 1
            k += 1

    def finish(self, max_seq_len: int, policy: int) -> int:
        """Apply the truncation policy to the row added last; keep it or take it back.

        Args:
            max_seq_len: the budget (``<= 0``: no limit).
            policy: :data:`POLICY_DROP`, :data:`POLICY_TRUNCATE` or :data:`POLICY_ERROR`.

        Returns:
            ``KEPT`` or ``TRUNCATED`` (the row is kept), ``DROPPED`` or ``TOO_LONG``
            (the policy refused it) or :data:`ZERO_TRAINED` (no trained token left); the
            statuses of :mod:`alignkit.truncate`. A row not kept is taken back.
        """
        n = self.row_len
        status = KEPT
        if max_seq_len > 0 and n > max_seq_len:
            if policy != POLICY_TRUNCATE:
                self.discard()
                return DROPPED if policy == POLICY_DROP else TOO_LONG
            keep = self.start + i64(max_seq_len)
            ids = self.ids
            labels = self.labels
            roles = self.roles
            while i64(len(ids)) > keep:
                ids, _ = pop(ids)
                labels, _ = pop(labels)
                roles, _ = pop(roles)
            self.ids = ids
            self.labels = labels
            self.roles = roles
            self._recount()
            n = max_seq_len
            status = TRUNCATED
        trained = self.row_trained
        any_trained = False
        for r in range(NUM_ROLES):
            if trained[r]:
                any_trained = True
        if not any_trained:
            self.discard()
            return ZERO_TRAINED
        totals = self.row_tokens
        for r in range(NUM_ROLES):
            self.tokens_by_role[r] += totals[r]
            self.trained_by_role[r] += trained[r]
        self.lengths = append(self.lengths, i64(n))
        self.start = len(self.ids)
        self.row_len = 0
        return status
