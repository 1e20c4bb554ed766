"""Per-chunk native column buffers for SFT rows (compiled).

:class:`SftBuffer` turns rendered segments straight into a flat native array of ids
(``librt.vecs.vec[i32]``) plus one *run* per segment (token count, role id, trained
flag; a segment with the role and flag of the one before it extends that run) and
per-row lengths, counting tokens and trained tokens per role in the same pass. It
does what :meth:`alignkit.encode.Encoder.encode`, :func:`alignkit.truncate.truncate_example`
and the row flattening of the pipeline do together, without a Python list or an :class:`~alignkit.encode.EncodedExample`
per record; ``labels`` and ``role_ids`` are expanded from the runs once per chunk
(:func:`alignkit.sft_chunk.buffer_columns`), not token by token.

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
    >>> list(buf.ids), list(buf.run_lengths), list(buf.run_roles), list(buf.run_trained)
    ([104, 105, 111, 107, 300], [2, 3], [1, 2], [0, 1])
    >>> list(buf.lengths), buf.tokens_by_role, buf.trained_by_role
    ([5], [0, 2, 3, 0, 0, 0], [0, 0, 3, 0, 0, 0])
"""

from __future__ import annotations

import unicodedata
from typing import Final, final

from librt.vecs import append, extend, pop, vec
from mypy_extensions import i32, i64, u8

from alignkit.bpe._nfc import NATIVE as NFC_NATIVE
from alignkit.bpe._nfc import nfc_inert
from alignkit.encode import NUM_ROLES, Encoder, NormalForm
from alignkit.errors import SpecialTokenError
from alignkit.templates.render import TurnTuple, render_into
from alignkit.templates.segments import KIND_SPECIAL, ROLE_TEMPLATE, Segment, SegmentSink
from alignkit.templates.specs import ChatSpec
from alignkit.truncate import DROPPED, KEPT, TOO_LONG, TRUNCATED

#: Truncation policies as codes (the names of :data:`alignkit.truncate.POLICIES`).
POLICY_DROP: Final = 0
POLICY_TRUNCATE: Final = 1
POLICY_ERROR: Final = 2
POLICY_CODES: Final[dict[str, int]] = {"drop": POLICY_DROP, "truncate": POLICY_TRUNCATE,
                                       "error": POLICY_ERROR}

#: :meth:`SftBuffer.finish`: the row has no trained token (after truncation); dropped.
ZERO_TRAINED: Final = 5

_GLUE_MAX: Final = 4096
#: Piece runs cached per buffer (scanned in order; past this, runs are encoded each time).
_PIECES_MAX: Final = 64

@final
class _PieceIds:
    """The ids a run of template pieces always gives (see :meth:`SftBuffer.emit_pieces`)."""

    def __init__(self, pieces: list[tuple[int, str]], start: int, stop: int, ids: vec[i32]) -> None:
        self.pieces: list[tuple[int, str]] = pieces
        self.start: int = start
        self.stop: int = stop
        self.ids: vec[i32] = ids


def _ready(text: str, forms: tuple[NormalForm, ...] | None) -> bytes:
    """The UTF-8 of non-empty ``text`` when the tokenizer's preparation leaves it as it is
    (no lone surrogate, already in each normalization form of ``forms``), else ``b""``."""
    if forms is None:
        return b""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        return b""
    if NFC_NATIVE and len(forms) == 1 and forms[0] == "NFC" and nfc_inert(data):
        return data  # certainly NFC: no per-character unicodedata lookups
    for k in range(len(forms)):
        if not unicodedata.is_normalized(forms[k], text):
            return b""
    return data


@final
class SftBuffer(SegmentSink):
    """Flat ``input_ids`` of a chunk's rows, their segment runs, and per-role counts.

    Labels and role ids are not stored per token: each segment adds one *run* (its
    token count, role id and trained flag), and :func:`alignkit._columns.buffer_expansions`
    expands the runs into ``labels`` and ``role_ids`` once per chunk (compiled loops, no numpy).

    Attributes:
        ids: the kept rows' ids, concatenated (a native vector).
        run_lengths, run_roles, run_trained: one entry per run of the kept rows.
        lengths: the length of each kept row.
        tokens_by_role, trained_by_role: counts of the kept rows, per role id.
        row_len: the length of the row being added (after :meth:`add`).
        flagged: the first special-token string found in the row's content, or ``""``.
    """

    def __init__(self, encoder: Encoder) -> None:
        self.encoder: Encoder = encoder
        #: the encoder's special-token ids (the same dict), read without a method call.
        self.specials: dict[str, int] = encoder.specials
        #: ids of each template-glue text seen (a template has a handful).
        self.glue: dict[str, vec[i32]] = {}
        #: ids of each header/footer piece run seen (:meth:`emit_pieces`), found by the
        #: list's identity in a short scan (a template has a handful of such runs).
        self.piece_ids: list[_PieceIds] = []
        self.ids: vec[i32] = vec[i32]()
        self.run_lengths: vec[i64] = vec[i64]()
        self.run_roles: vec[u8] = vec[u8]()
        self.run_trained: vec[u8] = vec[u8]()
        self.lengths: vec[i64] = vec[i64]()
        self.role_tokens: vec[i64] = vec[i64]([0] * NUM_ROLES)
        self.role_trained: vec[i64] = vec[i64]([0] * NUM_ROLES)
        self.row_tokens: vec[i64] = vec[i64]([0] * NUM_ROLES)
        self.row_trained: vec[i64] = vec[i64]([0] * NUM_ROLES)
        self.start: i64 = 0
        self.run_start: i64 = 0
        self.row_len: int = 0
        self.flagged: str = ""

    @property
    def tokens_by_role(self) -> list[int]:
        """Tokens of the kept rows, per role id."""
        return [int(self.role_tokens[r]) for r in range(NUM_ROLES)]

    @property
    def trained_by_role(self) -> list[int]:
        """Trained tokens of the kept rows, per role id."""
        return [int(self.role_trained[r]) for r in range(NUM_ROLES)]

    def _run(self, n: i64, role: int, trained: bool) -> None:
        """Count ``n`` tokens of ``role``: a new run, or the row's last run grown when it
        has the same role and flag (the expanded labels and role ids are the same)."""
        if n <= 0:
            return
        flag = u8(1) if trained else u8(0)
        r = i64(role)
        k: i64 = len(self.run_lengths)
        if k > self.run_start and self.run_roles[k - 1] == u8(role) and self.run_trained[k - 1] == flag:
            self.run_lengths[k - 1] = self.run_lengths[k - 1] + n
        else:
            self.run_lengths = append(self.run_lengths, n)
            self.run_roles = append(self.run_roles, u8(role))
            self.run_trained = append(self.run_trained, flag)
        self.row_tokens[r] = self.row_tokens[r] + n
        if trained:
            self.row_trained[r] = self.row_trained[r] + n

    def add(self, segments: list[Segment]) -> int:
        """Append one row's tokens (not yet kept: call :meth:`finish` or :meth:`discard`).

        Returns:
            The row's length.

        Raises:
            SpecialTokenError: a SPECIAL segment names a token the tokenizer lacks, or
                content holds a special-token string and the encoder's mode is ``error``.
            ValueError: a role id outside the enum.
        """
        self.begin()
        for s in range(len(segments)):
            seg = segments[s]
            self.emit(seg.role, seg.kind, seg.text, seg.trained)
        return self.end()

    def add_turns(self, spec: ChatSpec, turns: list[TurnTuple], policy: str) -> int:
        """:meth:`add` of ``render(spec, turns, policy)``, each segment encoded as it is rendered.

        Raises:
            TemplateError, SpecialTokenError, ValueError: as :func:`render` and :meth:`add`.
        """
        self.begin()
        render_into(spec, turns, self, policy)
        return self.end()

    def begin(self) -> None:
        """Start a row: take back a row not kept, zero the row's counts."""
        self.discard()
        for r in range(NUM_ROLES):
            self.row_tokens[r] = 0
            self.row_trained[r] = 0
        self.flagged = ""

    def end(self) -> int:
        """End the row :meth:`begin` started; its length."""
        self.row_len = int(i64(len(self.ids)) - self.start)
        return self.row_len

    def emit_pieces(self, pieces: list[tuple[int, str]], start: int, stop: int, role: int,
                    trained: bool) -> None:
        """:meth:`emit` of template pieces with one role and flag, from a cache of their ids.

        Pieces that are special tokens or template glue always give the same ids (no
        content is searched), so a header or footer run is encoded once per buffer and
        then appended whole; its tokens form one run, as the pieces' runs would merge.
        """
        cache = self.piece_ids
        for c in range(len(cache)):
            hit = cache[c]
            if hit.pieces is pieces and hit.start == start and hit.stop == stop:
                n: i64 = len(hit.ids)
                if n > 0:
                    if role < 0 or role >= NUM_ROLES:
                        raise ValueError(f"role id {role} is outside 0..{NUM_ROLES - 1}")
                    self.ids = extend(self.ids, hit.ids)
                    self._run(n, role, trained)
                return
        first: i64 = len(self.ids)
        fixed = True
        for k in range(start, min(stop, len(pieces))):
            kind, text = pieces[k]
            if text:
                if kind != KIND_SPECIAL and role != ROLE_TEMPLATE:
                    fixed = False  # content-role text: searched for special strings each time
                self.emit(role, kind, text, trained)
        if fixed and len(cache) < _PIECES_MAX:
            cache.append(_PieceIds(pieces, start, stop, self.ids[first:]))

    def emit(self, role: int, kind: int, text: str, trained: bool) -> None:
        """Encode one segment of the row (see :class:`~alignkit.templates.segments.Segment`)."""
        if role < 0 or role >= NUM_ROLES:
            raise ValueError(f"role id {role} is outside 0..{NUM_ROLES - 1}")
        enc = self.encoder
        if kind == KIND_SPECIAL:
            sid = self.specials.get(text)
            self.ids = append(self.ids, i32(enc.special_id(text) if sid is None else sid))
            self._run(1, role, trained)
            return
        if role == ROLE_TEMPLATE:
            glue = self.glue.get(text)
            if glue is None:
                glue = vec[i32]()
                toks = enc.text_ids(text, role)
                for k in range(len(toks)):
                    glue = append(glue, i32(toks[k]))
                if len(self.glue) < _GLUE_MAX:
                    self.glue[text] = glue
            self.ids = extend(self.ids, glue)
            self._run(len(glue), role, trained)
            return
        if role != ROLE_TEMPLATE and not self.flagged:
            flagged = enc.find_special(text)
            if flagged:
                self.flagged = flagged
                if enc.raise_on_special:
                    raise SpecialTokenError(
                        f"content contains the special token {flagged!r}; it would be"
                        " encoded as plain text, but this run treats it as an error"
                        " (special_in_content='error'); clean the data or use 'count'"
                    )
        first: i64 = len(self.ids)
        core = enc.ascii_core
        if role != ROLE_TEMPLATE and core is not None and text.isascii():
            # straight into the ids vector: no list, no boxed ints
            self.ids = core.encode_bytes_into(text.encode("utf-8"), self.ids)
        elif role != ROLE_TEMPLATE and core is not None and enc.prepare is not None:
            data = _ready(text, enc.forms)
            if len(data) == 0:  # the facade's own steps, then the core as its encode_ordinary calls it
                ready = enc.prepare(text)
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
        self._run(i64(len(self.ids)) - first, role, trained)

    def discard(self) -> None:
        """Take back the row added last and not kept (a no-op when there is none)."""
        ids = self.ids
        while i64(len(ids)) > self.start:
            ids, _ = pop(ids)
        self.ids = ids
        self._pop_runs(self.run_start)
        self.row_len = 0

    def _pop_runs(self, keep: i64) -> None:
        lengths = self.run_lengths
        roles = self.run_roles
        trained = self.run_trained
        while i64(len(lengths)) > keep:
            lengths, _ = pop(lengths)
            roles, _ = pop(roles)
            trained, _ = pop(trained)
        self.run_lengths = lengths
        self.run_roles = roles
        self.run_trained = trained

    def _cut(self, length: i64) -> None:
        """Keep the row's first ``length`` tokens (runs clipped) and recount its roles."""
        ids = self.ids
        while i64(len(ids)) > self.start + length:
            ids, _ = pop(ids)
        self.ids = ids
        totals = self.row_tokens
        trained = self.row_trained
        for r in range(NUM_ROLES):
            totals[r] = 0
            trained[r] = 0
        left = length
        k = self.run_start
        end: i64 = len(self.run_lengths)
        while k < end and left > 0:
            n = self.run_lengths[k]
            if n > left:
                n = left
                self.run_lengths[k] = n
            left -= n
            role = i64(self.run_roles[k])
            totals[role] = totals[role] + n
            if self.run_trained[k]:
                trained[role] = trained[role] + n
            k += 1
        self._pop_runs(k)

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
            self._cut(i64(max_seq_len))
            n = max_seq_len
            status = TRUNCATED
        trained = self.row_trained
        any_trained = False
        for r in range(NUM_ROLES):
            if trained[r] != 0:
                any_trained = True
        if not any_trained:
            self.discard()
            return ZERO_TRAINED
        totals = self.row_tokens
        for r in range(NUM_ROLES):
            self.role_tokens[r] = self.role_tokens[r] + totals[r]
            self.role_trained[r] = self.role_trained[r] + trained[r]
        self.lengths = append(self.lengths, i64(n))
        self.start = len(self.ids)
        self.run_start = len(self.run_lengths)
        self.row_len = 0
        return status
