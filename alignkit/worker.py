"""The per-chunk work of the tokenize pipeline (runs in worker processes).

A :class:`Chunk` holds plain data only (a file label, its kind and raw lines), so
it pickles cheaply; each process builds its own encoder once from the
:class:`TokenizeConfig` (:func:`init_worker`). A :class:`ChunkResult` holds plain
lists too: compiled objects never cross a process boundary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from alignkit._records import Frozen, Record
from alignkit.encode import IGNORE_INDEX, EncodedExample
from alignkit.encoder import Encoder
from alignkit.errors import AlignkitError, InputError, OutputError, UsageError
from alignkit.manifest import RunStats
from alignkit.truncate import (
    DROPPED,
    POLICIES,
    PROMPT_TOO_LONG,
    TOO_LONG,
    TRUNCATED,
    truncate_example,
    truncate_pair,
)

FORMATS = ("arrow", "npy", "parquet", "jsonl")
MASKS = ("assistant", "last", "all")
ON_ERROR = ("fail", "skip")
SPECIAL_IN_CONTENT = ("count", "error")
#: Preference output layouts: ``dpo`` (prompt and completions apart, :data:`PAIR_COLUMNS`) or
#: ``reward`` (whole sequences, :data:`REWARD_COLUMNS`).
LAYOUTS = ("dpo", "reward")
DEFAULT_ENCODER = "alignkit.encoder:default_encoder"


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UsageError(f"--{name.replace('_', '-')} {value!r}: use one of {', '.join(choices)}")


class TokenizeConfig(Frozen):
    """Everything that decides the output (plain data: it pickles and hashes).

    ``num_proc`` is not here: it never changes the output.

    Immutable; equal and hashed by its fields (:attr:`FIELDS`, also the order of positional
    arguments); it pickles as its class and field values, so its pickle is deterministic
    (``datasets`` fingerprints hash it). A :class:`alignkit._records.Frozen` rather than a
    frozen dataclass (``dataclasses`` costs every run about 10 ms of imports).

        >>> TokenizeConfig(max_seq_len=512, pack=True).manifest_config()["max_seq_len"]
        512
        >>> TokenizeConfig(pack=True).replace(pack=False) == TokenizeConfig()
        True
    """

    __slots__ = (
        "tokenizer", "template", "max_seq_len", "truncation", "pack", "format", "mask", "on_error",
        "special_in_content", "kind", "skip_blank", "layout", "encoder",
    )
    #: The field names, in the order of the positional arguments.
    FIELDS: ClassVar[tuple[str, ...]] = __slots__
    tokenizer: str
    template: str | None
    max_seq_len: int
    truncation: str
    pack: bool
    format: str
    mask: str
    on_error: str
    special_in_content: str
    kind: str
    skip_blank: bool
    #: Preference pairs only: ``dpo`` or ``reward`` (see :data:`LAYOUTS`).
    layout: str
    #: ``module:function`` building the encoder from this config (a test hook).
    encoder: str

    def __init__(
        self,
        tokenizer: str = "gpt2",
        template: str | None = None,
        max_seq_len: int = 2048,
        truncation: str = "truncate",
        pack: bool = False,
        format: str = "arrow",
        mask: str = "assistant",
        on_error: str = "fail",
        special_in_content: str = "count",
        kind: str = "auto",
        skip_blank: bool = False,
        layout: str = "dpo",
        encoder: str = DEFAULT_ENCODER,
    ) -> None:
        super().__init__(tokenizer, template, max_seq_len, truncation, pack, format, mask, on_error,
                         special_in_content, kind, skip_blank, layout, encoder)

    def replace(self, **changes: Any) -> TokenizeConfig:
        """A copy with ``changes`` (field name -> value), like ``dataclasses.replace``.

        Raises:
            TypeError: a name that is not a field.

            >>> TokenizeConfig().replace(max_seq_len=8).max_seq_len
            8
            >>> TokenizeConfig().replace(num_proc=2)
            Traceback (most recent call last):
            ...
            TypeError: TokenizeConfig has no field 'num_proc'
        """
        for name in changes:
            if name not in self.FIELDS:
                raise TypeError(f"TokenizeConfig has no field {name!r}")
        fields = dict(zip(self.FIELDS, self._values()))
        fields.update(changes)
        return self.__class__(**fields)

    def check(self) -> None:
        """Raise :class:`~alignkit.errors.UsageError` for a bad value."""
        _choice("truncation", self.truncation, POLICIES)
        _choice("format", self.format, FORMATS)
        _choice("mask", self.mask, MASKS)
        _choice("on_error", self.on_error, ON_ERROR)
        _choice("special_in_content", self.special_in_content, SPECIAL_IN_CONTENT)
        _choice("kind", self.kind, ("sft", "preference", "auto"))
        _choice("layout", self.layout, LAYOUTS)
        if self.layout != "dpo" and self.kind == "sft":
            raise UsageError(f"--layout {self.layout} is for preference pairs, not --kind sft")
        if self.max_seq_len < 0:
            raise UsageError(f"--max-seq-len must be >= 0 (0: no limit), got {self.max_seq_len}")
        if self.pack and self.max_seq_len <= 0:
            raise UsageError("--pack needs --max-seq-len N (the packed row length)")

    def manifest_config(self) -> dict[str, object]:
        """The config as the manifest records it (no absolute paths)."""
        tok = self.tokenizer
        if Path(tok).is_absolute():
            tok = Path(tok).name
        out: dict[str, object] = {
            "tokenizer": tok,
            "template": self.template,
            "max_seq_len": self.max_seq_len,
            "truncation": self.truncation,
            "pack": self.pack,
            "format": self.format,
            "mask": self.mask,
            "on_error": self.on_error,
            "special_in_content": self.special_in_content,
            "kind": self.kind,
            "skip_blank": self.skip_blank,
        }
        # Recorded when not the default, so outputs of the default layout stay as before.
        if self.layout != "dpo":
            out["layout"] = self.layout
        if self.encoder != DEFAULT_ENCODER:
            out["encoder"] = self.encoder
        return out


class Chunk(Record):
    """Up to a few hundred raw lines of one file.

    A :class:`alignkit._records.Record`: equal field by field, unhashable.
    """

    __slots__ = ("path", "kind", "kind_line", "lines", "errors")

    def __init__(self, path: str, kind: str | None, kind_line: int, lines: list[tuple[int, bytes]],
                 errors: list[dict[str, object]] | None = None) -> None:
        self.path = path
        self.kind = kind
        self.kind_line = kind_line
        self.lines = lines
        #: Errors of reading (e.g. ``line_too_long``), as ``InputError.to_dict()`` (exceptions with
        #: several arguments do not survive pickling). A new list for each chunk by default.
        self.errors: list[dict[str, object]] = [] if errors is None else errors


class ChunkResult(Record):
    """Encoded columns (flat values in their dtype + per-row lengths), rejects and counts.

    The values are flat buffers, never int lists: :class:`~alignkit.io.flat.Flat` pieces on
    the fast paths (no numpy needed), numpy arrays on the general path; both pickle fast and
    take a fraction of the memory of int lists. A :class:`alignkit._records.Record`: equal
    field by field, unhashable.
    """

    __slots__ = ("columns", "rejects", "stats")

    def __init__(self, columns: list[tuple[Any, Any]], rejects: list[dict[str, object]], stats: RunStats) -> None:
        self.columns = columns
        self.rejects = rejects
        self.stats = stats


#: Row layouts (the tuples :func:`sft_row` / :func:`pair_row` return), in order.
SFT_COLUMNS = ("input_ids", "labels", "role_ids")
PAIR_COLUMNS = (
    "prompt_input_ids", "prompt_role_ids", "chosen_input_ids", "chosen_labels", "chosen_role_ids",
    "rejected_input_ids", "rejected_labels", "rejected_role_ids",
)
#: The ``reward`` layout of a pair: whole sequences (prompt + response) and their role ids,
#: under the names TRL's ``RewardTrainer`` takes as tokenized input.
REWARD_COLUMNS = ("chosen_ids", "chosen_role_ids", "rejected_ids", "rejected_role_ids")


def pair_columns(layout: str) -> tuple[str, ...]:
    """The output columns of preference pairs in ``layout`` (``dpo`` or ``reward``)."""
    return REWARD_COLUMNS if layout == "reward" else PAIR_COLUMNS


def reward_row(row: tuple[list[int], ...]) -> tuple[list[int], ...]:
    """A :func:`pair_row` (the ``dpo`` layout) as the ``reward`` layout's row.

        >>> reward_row(([1], [4], [2, 9], [2, 9], [2, 2], [3], [3], [2]))
        ([1, 2, 9], [4, 2, 2], [1, 3], [4, 2])
    """
    p_ids, p_roles, c_ids, _, c_roles, r_ids, _, r_roles = row
    return (p_ids + c_ids, p_roles + c_roles, p_ids + r_ids, p_roles + r_roles)


def column_dtype(name: str, n_vocab: int) -> str:
    """The dtype of an output column: ids by vocabulary size, labels ``int32``, roles ``uint8``."""
    from alignkit.io.writers import token_dtype

    if name.endswith("role_ids"):
        return "uint8"
    if name.endswith("_ids"):
        return token_dtype(n_vocab)
    if name.endswith("labels"):
        return "int32"
    return "uint8"


def flatten(rows: list[tuple[list[int], ...]], names: tuple[str, ...], n_vocab: int) -> list[tuple[Any, Any]]:
    """Per column: (values in the column's dtype, int64 lengths); ids checked against ``n_vocab``.

    Raises:
        OutputError: an id outside the vocabulary, or a value that does not fit its dtype.
    """
    from alignkit.io.writers import flat_rows

    out: list[tuple[Any, Any]] = []
    for k, name in enumerate(names):
        values, lengths = flat_rows(name, column_dtype(name, n_vocab), [r[k] for r in rows])
        if name.endswith("input_ids") and len(values) and int(values.max()) >= n_vocab:
            raise OutputError(f"token id {int(values.max())} is outside the vocabulary ({n_vocab} ids);"
                              " this is a bug in the tokenizer or template, please report it")
        out.append((values, lengths))
    return out


_STATE: dict[str, object] = {}


def tokenizer_file_state(spec: str) -> tuple[tuple[str, int, int], ...]:
    """(name, size, mtime) of a tokenizer file or of a model folder's files; ``()`` for a name."""
    path = Path(spec)
    try:
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files if p.exists())
    except OSError:
        return ()


def init_worker(config: TokenizeConfig) -> Encoder:
    """This process's encoder for ``config``, built once (a forked worker inherits it).

    It is rebuilt when the tokenizer files change, so a long-lived process never
    serves a stale tokenizer.
    """
    from alignkit.encoder import build_encoder

    key = (config, tokenizer_file_state(config.tokenizer))
    if _STATE.get("key") != key:
        _STATE["key"] = key
        _STATE["config"] = config
        _STATE["encoder"] = build_encoder(config)
    encoder = _STATE["encoder"]
    assert isinstance(encoder, Encoder)
    return encoder


def _reject(path: str, err: InputError, status: str = "rejected") -> dict[str, object]:
    return {
        "path": path, "line": err.line, "loc": err.loc, "status": status,
        "reason": err.error_type, "message": err.message,
    }


def _dropped(path: str, line: int, reason: str, message: str) -> dict[str, object]:
    return {"path": path, "line": line, "loc": "", "status": "dropped", "reason": reason, "message": message}


def _count_reject(stats: RunStats, rejects: list[dict[str, object]], path: str, err: InputError) -> None:
    """Count one rejected record and keep its rejects-file row."""
    stats.reject(err.error_type)
    rejects.append(_reject(path, err))


def _reader_errors(chunk: Chunk, stats: RunStats, rejects: list[dict[str, object]]) -> None:
    """Count the errors the reader found before the chunk was handed out (one record each)."""
    for data in chunk.errors:
        err = InputError(chunk.path, int(str(data["line"])), str(data["loc"]), str(data["message"]),
                         str(data["type"]))
        stats.records_in += 1
        _count_reject(stats, rejects, chunk.path, err)


def _encode_error(path: str, line: int, err: AlignkitError | ValueError) -> InputError:
    """The rejection of a record a template cannot render (an ``InputError`` is kept as is)."""
    if isinstance(err, InputError):
        return err
    return InputError(path, line, "", str(err), "encode_error")


def _spoof_error(path: str, line: int, flag: str, loc: str = "") -> InputError:
    """The rejection of content with special-token text under ``--special-in-content error``;
    ``loc`` is its field (:func:`special_field`)."""
    return InputError(
        path, line, loc, f"content contains the special-token string {flag!r};"
        " it is encoded as plain text (use --special-in-content count to accept it)",
        "special_in_content",
    )


def special_field(record: object, flag: str) -> str:
    """The field of the first turn (or response) whose text contains ``flag``, or ``""``.

    ``turns.3.content``, ``turns.2.reasoning``, ``history.0.content``, ``response_b``: the
    field a ``special_in_content`` reject names. ``record`` is a validated record
    (:class:`~alignkit.records.ChatExample`, :class:`~alignkit.records.PreferenceExample`) or
    the raw line of one, parsed here: the fast paths' compiled buffers keep only the
    special-token text, so the field is found again, only for such a (rare) reject.

        >>> special_field(b'{"turns": [{"role": "user", "content": "hi"},'
        ...               b' {"role": "assistant", "content": "a", "reasoning": "<|x|>"}]}', "<|x|>")
        'turns.1.reasoning'
        >>> special_field(b'{"history": [{"role": "user", "content": "q"}], "response_a": "a",'
        ...               b' "response_b": "<|x|>", "chosen": "a"}', "<|x|>")
        'response_b'
    """
    if isinstance(record, bytes):
        from alignkit.io.jsonl import json_parser

        try:
            record = json_parser()(record)
        except ValueError:
            return ""
    key = "history" if _part(record, "history") is not None else "turns"
    turns = _part(record, key)
    if isinstance(turns, list):
        for i, turn in enumerate(turns):
            for name in ("content", "reasoning"):
                text = _part(turn, name)
                if isinstance(text, str) and flag in text:
                    return f"{key}.{i}.{name}"
    for name in ("response_a", "response_b"):
        text = _part(record, name)
        if isinstance(text, str) and flag in text:
            return name
    return ""


def _part(value: object, name: str) -> object:
    """Field ``name`` of a parsed JSON object or of a record (``None`` when it has none)."""
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)


_ADAPTERS: dict[str, Any] = {}


def _fast_adapter(kind: str | None) -> Any:
    """A pydantic ``TypeAdapter`` of the one record type of a file of ``kind`` (or ``None``).

    A line it accepts is exactly a line :class:`~alignkit.io.reader.RecordParser` accepts
    as that kind (the tagged union picks the type by the same keys, and both forbid extra
    keys), so valid lines skip the union's discriminator and the parser's bookkeeping.
    """
    if kind not in ("sft", "preference"):
        return None
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        from pydantic import TypeAdapter

        from alignkit.records import ChatExample, PreferenceExample

        adapter = TypeAdapter(ChatExample if kind == "sft" else PreferenceExample)
        _ADAPTERS[kind] = adapter
    return adapter


class LineRecords:
    """The records of one chunk's lines, validated by pydantic (built on first use).

    A line is first validated by the file kind's own ``TypeAdapter`` (a valid record is
    validated once); anything else goes to :class:`~alignkit.io.reader.RecordParser`,
    which gives the exact error or skips a blank line.
    """

    def __init__(self, chunk: Chunk, skip_blank: bool, fixed_kind: bool = False) -> None:
        self.chunk = chunk
        self.skip_blank = skip_blank
        #: the kind was given (``--kind``), not told by a record: the other kind is ``wrong_kind``
        self.fixed_kind = fixed_kind
        self.parser: Any = None
        self.adapter: Any = None

    def record(self, number: int, raw: bytes) -> Any:
        """The line's record, its first ``InputError``, or ``None`` for a skipped blank line."""
        from pydantic import ValidationError

        from alignkit.io.jsonl import Line

        if self.parser is None:
            from alignkit.io.reader import RecordParser

            kind = self.chunk.kind
            if self.fixed_kind and kind is not None:
                parser = RecordParser(self.chunk.path, "sft" if kind == "sft" else "preference",
                                      skip_blank=self.skip_blank)
            else:
                parser = RecordParser(self.chunk.path, "auto", skip_blank=self.skip_blank)
                if kind is not None:  # told by an earlier record: the other kind is mixed_kinds
                    parser.file_kind = kind
                    parser.kind_line = self.chunk.kind_line
            self.parser = parser
            self.adapter = _fast_adapter(self.chunk.kind)
        if self.adapter is not None:
            try:
                return self.adapter.validate_json(raw)
            except ValidationError:
                pass
        result = self.parser.parse(Line(number, raw))
        if result.skipped:
            return None
        if result.record is None:
            return result.errors[0]
        return result.record


def process_chunk(chunk: Chunk) -> ChunkResult:
    """Validate, encode and truncate one chunk (see :mod:`alignkit.pipeline`)."""
    from alignkit.sft_chunk import process_sft_chunk, sft_plan

    config = _STATE["config"]
    encoder = _STATE["encoder"]
    assert isinstance(config, TokenizeConfig) and isinstance(encoder, Encoder)
    plan = sft_plan(encoder, chunk.kind)
    if plan is not None:  # SFT with a built-in template: native buffers (same output)
        return process_sft_chunk(chunk, config, encoder, plan)
    from alignkit.pref_chunk import pref_plan, process_pref_chunk

    plan = pref_plan(encoder, chunk.kind)
    if plan is not None:  # preference pairs, likewise
        return process_pref_chunk(chunk, config, encoder, plan)
    from alignkit.records import ChatExample

    records = LineRecords(chunk, config.skip_blank, config.kind != "auto")
    stats = RunStats()
    rows: list[tuple[list[int], ...]] = []
    rejects: list[dict[str, object]] = []
    _reader_errors(chunk, stats, rejects)
    for number, raw in chunk.lines:
        record = records.record(number, raw)
        if record is None:  # a blank line passed over (skip_blank): counted, not a record
            stats.skipped_blank += 1
            continue
        stats.records_in += 1
        if isinstance(record, InputError):
            _count_reject(stats, rejects, chunk.path, record)
            continue
        try:
            if isinstance(record, ChatExample):
                ex = encoder.encode_sft(record, config.mask)
                flag = ex.special_in_content
            else:
                prompt_len, chosen, rejected = encoder.encode_pair(record)
                flag = chosen.special_in_content or rejected.special_in_content
        except (AlignkitError, ValueError) as err:  # a template that cannot render this record
            _count_reject(stats, rejects, chunk.path, _encode_error(chunk.path, number, err))
            continue
        if flag:
            stats.special_in_content += 1
            if config.special_in_content == "error":
                _count_reject(stats, rejects, chunk.path,
                              _spoof_error(chunk.path, number, flag, special_field(record, flag)))
                continue
        if isinstance(record, ChatExample):
            row = sft_row(ex, config, stats)
        else:
            row = pair_row(prompt_len, chosen, rejected, config, stats)
        if isinstance(row, Skip):
            if row.status == "rejected":
                _count_reject(stats, rejects, chunk.path, InputError(chunk.path, number, "", row.message, row.reason))
            else:
                stats.drop(row.reason)
                rejects.append(_dropped(chunk.path, number, row.reason, row.message))
            continue
        stats.written += 1
        rows.append(row)
    names = PAIR_COLUMNS if chunk.kind == "preference" else SFT_COLUMNS
    return ChunkResult(flatten(rows, names, encoder.n_vocab), rejects, stats)


class Skip(Frozen):
    """Why an encoded record is not written: ``rejected`` (an error) or ``dropped`` (a policy).

    Immutable, equal and hashed by its fields (:class:`alignkit._records.Frozen`).

        >>> Skip("dropped", "too_long", "9 tokens") == Skip("dropped", "too_long", "9 tokens")
        True
    """

    __slots__ = ("status", "reason", "message")
    status: str
    reason: str
    message: str

    def __init__(self, status: str, reason: str, message: str) -> None:
        super().__init__(status, reason, message)


_TOO_LONG = "longer than --max-seq-len {n}; use --truncation truncate or drop, or raise --max-seq-len"


def sft_row(
    ex: EncodedExample, config: TokenizeConfig, stats: RunStats
) -> tuple[list[int], ...] | Skip:
    status, kept = truncate_example(ex, config.max_seq_len, config.truncation)
    if status == TOO_LONG:
        return Skip("rejected", "too_long", f"{len(ex)} tokens, " + _TOO_LONG.format(n=config.max_seq_len))
    if status == DROPPED or kept is None:
        return Skip("dropped", "too_long", f"{len(ex)} tokens > --max-seq-len {config.max_seq_len}")
    if kept.num_trained() == 0:
        stats.zero_trained += 1
        return Skip("dropped", "zero_trained", "no trained token left (after truncation, or by the mask)")
    if status == TRUNCATED:
        stats.truncated += 1
    if kept.role_tokens is not None and kept.role_trained is not None:  # counted while encoding
        stats.add_counts(kept.role_tokens, kept.role_trained)
    else:
        stats.add_tokens(kept.role_ids, kept.labels)
    return (kept.input_ids, kept.labels, kept.role_ids)


def pair_row(
    prompt_len: int, chosen: EncodedExample, rejected: EncodedExample,
    config: TokenizeConfig, stats: RunStats,
) -> tuple[list[int], ...] | Skip:
    status, c, r = truncate_pair(prompt_len, chosen, rejected, config.max_seq_len, config.truncation)
    longest = max(len(chosen), len(rejected))
    if status == TOO_LONG:
        return Skip("rejected", "too_long", f"{longest} tokens, " + _TOO_LONG.format(n=config.max_seq_len))
    if status == PROMPT_TOO_LONG:
        return Skip("dropped", "prompt_too_long",
                f"the prompt alone has {prompt_len} tokens, no room for a response in"
                f" --max-seq-len {config.max_seq_len}")
    if status == DROPPED or c is None or r is None:
        return Skip("dropped", "too_long", f"{longest} tokens > --max-seq-len {config.max_seq_len}")
    c_labels, r_labels = c.labels[prompt_len:], r.labels[prompt_len:]
    if all(t == IGNORE_INDEX for t in c_labels) or all(t == IGNORE_INDEX for t in r_labels):
        stats.zero_trained += 1
        return Skip("dropped", "zero_trained", "a response has no trained token")
    if status == TRUNCATED:
        stats.truncated += 1
    stats.add_tokens(c.role_ids[:prompt_len], [])
    stats.add_tokens(c.role_ids[prompt_len:], c_labels)
    stats.add_tokens(r.role_ids[prompt_len:], r_labels)
    return (
        c.input_ids[:prompt_len], c.role_ids[:prompt_len],
        c.input_ids[prompt_len:], c_labels, c.role_ids[prompt_len:],
        r.input_ids[prompt_len:], r_labels, r.role_ids[prompt_len:],
    )
