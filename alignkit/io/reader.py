"""JSONL lines → validated records, each bad line an error with its line and field.

:func:`iter_records` is the one entry point everything that reads alignkit
records uses: it yields a :class:`RecordResult` per line, holding either the
record or the errors of that line (never both), so nothing is lost silently.

Error types are pydantic's (``missing``, ``extra_forbidden``, ``string_type``,
``literal_error``, ``too_short``…), the record rules' (``no_assistant_turn``,
``system_not_first``, ``empty_content``…, see :mod:`alignkit.records`), and
these, for lines that are not a JSON object at all:

``json_invalid``        not JSON (message says what and at which column)
``invalid_utf8``        bytes that are not UTF-8 (message gives the byte offset)
``lone_surrogate``      a ``\\ud800``-``\\udfff`` escape without its pair: not encodable as UTF-8
``nul_byte``            a raw NUL byte (an escaped ``\\u0000`` inside a string is accepted)
``control_character``   another raw control character inside a string (escape it)
``nesting_too_deep``    JSON nested deeper than the parser's limit
``not_an_object``       JSON, but an array, string, number or null
``misplaced_bom``       a UTF-8 byte-order mark at the start of a line other than line 1
``blank_line``          an empty or whitespace-only line (unless ``skip_blank``)
``line_too_long``       longer than ``max_line_bytes``
``unknown_record_kind`` (auto kind) an object with neither ``turns`` nor ``history``/``response_a``
``mixed_kinds``         (auto kind) a record of the other kind than the file's first record
``wrong_kind``          (fixed kind) a record plainly of the other kind than ``kind``

Example::

    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "sft.jsonl"
    >>> _ = p.write_text('{"turns": [{"role": "user", "content": "Hi"},'
    ...                  ' {"role": "assistant", "content": "Hello!"}]}\\n'
    ...                  '{"turns": [{"role": "bot", "content": "Hi"}]}\\n')
    >>> for result in iter_records(p):
    ...     print(result.line, type(result.record).__name__, [str(e) for e in result.errors])
    1 ChatExample []
    2 NoneType [".../sft.jsonl:2: turns.0.role: Input should be 'system', 'user', 'assistant' or 'tool' (got string 'bot') [literal_error]"]
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from alignkit.errors import InputError, UsageError
from alignkit.io.diagnostics import explain, json_error, json_type
from alignkit.io.jsonl import DEFAULT_MAX_LINE_BYTES, Line, read_lines
from alignkit.records import ChatExample, PreferenceExample, Record, record_kind, error_loc

#: ``--kind`` values: a fixed kind, or ``auto`` (decided per file by its first record).
Kind = Literal["sft", "preference", "auto"]
KINDS: Final[tuple[str, ...]] = ("sft", "preference", "auto")

_SFT: Final = TypeAdapter(ChatExample)
_PREFERENCE: Final = TypeAdapter(PreferenceExample)
_RECORD: Final[TypeAdapter[ChatExample | PreferenceExample]] = TypeAdapter(Record)
_TAGS: Final = ("sft", "preference")
_KIND_NAMES: Final = {"sft": "an SFT (ChatExample)", "preference": "a preference (PreferenceExample)"}

@dataclass(frozen=True, slots=True)
class RecordResult:
    """What one line became: a record, or the errors that stop it being one.

    Attributes:
        line: 1-based line number.
        record: the validated record, or ``None`` when ``errors`` is not empty.
        errors: the line's errors (one per bad field), empty when ``record`` is set.
        skipped: a blank line passed over because blank lines are allowed.
    """

    line: int
    record: ChatExample | PreferenceExample | None
    errors: tuple[InputError, ...] = ()
    skipped: bool = False

    @property
    def ok(self) -> bool:
        """True when the line is a valid record."""
        return self.record is not None


class RecordParser:
    """Validates the lines of one file, remembering its kind in ``auto`` mode.

    Args:
        path: the file name to put in error messages.
        kind: ``sft``, ``preference`` or ``auto`` (the first line whose keys tell
            the kind decides it for the whole file; later records of the other
            kind are ``mixed_kinds`` errors).
        allow_empty: accept empty ``content`` and responses.
        skip_blank: pass over blank lines instead of reporting ``blank_line``.
    """

    def __init__(
        self, path: str, kind: Kind = "auto", *, allow_empty: bool = False, skip_blank: bool = False
    ) -> None:
        if kind not in KINDS:
            raise UsageError(f"unknown record kind {kind!r}; use one of {', '.join(KINDS)}")
        self.path = path
        self.kind: Kind = kind
        self.skip_blank = skip_blank
        self.context: dict[str, object] | None = {"allow_empty": True} if allow_empty else None
        #: The kind of the file once known, and the line that decided it.
        self.file_kind: str | None = None if kind == "auto" else kind
        self.kind_line = 0

    def parse(self, line: Line) -> RecordResult:
        """Validate one line."""
        if line.is_blank:
            if self.skip_blank:
                return RecordResult(line.number, None, (), skipped=True)
            err = self._error(line.number, "", "blank line; delete it, or allow blank lines"
                              " with --skip-blank", "blank_line")
            return RecordResult(line.number, None, (err,))
        if self.kind == "sft":
            return self._validate(_SFT, line, tagged=False)
        if self.kind == "preference":
            return self._validate(_PREFERENCE, line, tagged=False)
        return self._validate(_RECORD, line, tagged=True)

    def _validate(
        self, adapter: TypeAdapter[ChatExample] | TypeAdapter[PreferenceExample]
        | TypeAdapter[ChatExample | PreferenceExample], line: Line, *, tagged: bool
    ) -> RecordResult:
        try:
            record = adapter.validate_json(line.raw, context=self.context)
        except ValidationError as exc:
            details = exc.errors(include_url=False)
            if tagged:
                tag = _tag_of(details)
                if tag is not None:
                    mixed = self._check_kind(tag, line.number)
                    if mixed is not None:
                        return RecordResult(line.number, None, (mixed,))
            else:
                wrong = self._wrong_kind(details, line.number)
                if wrong is not None:
                    return RecordResult(line.number, None, (wrong,))
            errors = tuple(self._convert(d, line, tagged) for d in details)
            return RecordResult(line.number, None, errors)
        if tagged:
            mixed = self._check_kind("sft" if isinstance(record, ChatExample) else "preference",
                                     line.number)
            if mixed is not None:
                return RecordResult(line.number, None, (mixed,))
        return RecordResult(line.number, record)

    def _check_kind(self, tag: str, number: int) -> InputError | None:
        if self.file_kind is None:
            self.file_kind = tag
            self.kind_line = number
            return None
        if tag == self.file_kind:
            return None
        return self._error(
            number, "",
            f"this is {_KIND_NAMES[tag]} record, but the file's first record (line"
            f" {self.kind_line}) is {_KIND_NAMES[self.file_kind]} one; keep one kind per file"
            " (split the file)",
            "mixed_kinds",
        )

    def _wrong_kind(self, details: list[ErrorDetails], number: int) -> InputError | None:
        """With a fixed kind: a record that is plainly of the other kind, as one error."""
        key, other = ("turns", "preference") if self.kind == "sft" else ("history", "sft")
        for d in details:
            if d["type"] == "missing" and tuple(d["loc"]) == (key,):
                found = record_kind(d.get("input"))
                if found == other:
                    return self._error(
                        number, "", f"this is {_KIND_NAMES[other]} record, but --kind is"
                        f" {self.kind}; pass --kind {other} (or --kind auto)", "wrong_kind")
        return None

    def _error(self, number: int, loc: str, message: str, error_type: str) -> InputError:
        return InputError(self.path, number, loc, message, error_type)

    def _convert(self, detail: ErrorDetails, line: Line, tagged: bool) -> InputError:
        error_type = detail["type"]
        loc = tuple(detail["loc"])
        if tagged and loc and loc[0] in _TAGS:
            loc = loc[1:]
        if error_type == "json_invalid":
            return json_error(self.path, line, str(detail.get("ctx", {}).get("error", detail["msg"])))
        value = detail.get("input")
        if not loc and error_type in ("model_type", "unknown_record_kind") and not isinstance(value, dict):
            return self._error(
                line.number, "",
                f"the line is a JSON {json_type(value)}, not an object; each line must be"
                " one JSON object (one record)", "not_an_object")
        ctx = detail.get("ctx")
        where = error_loc(loc, dict(ctx) if ctx else None)
        return self._error(line.number, where, explain(error_type, detail["msg"], loc, value),
                           error_type)


def _tag_of(details: list[ErrorDetails]) -> str | None:
    for d in details:
        loc = d["loc"]
        if loc and loc[0] in _TAGS:
            return str(loc[0])
    return None


def iter_records(
    path: str | os.PathLike[str],
    kind: Kind = "auto",
    *,
    allow_empty: bool = False,
    skip_blank: bool = False,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[RecordResult]:
    """Read and validate a JSONL (or ``.jsonl.gz``) file of records, one result per line.

    Args:
        path: the file.
        kind: ``sft``, ``preference`` or ``auto`` (see :class:`RecordParser`).
        allow_empty: accept empty content and responses.
        skip_blank: pass over blank lines silently instead of reporting them.
        max_line_bytes: longest line accepted.

    Raises:
        UsageError: the file cannot be read (see :func:`~alignkit.io.jsonl.read_lines`).
    """
    parser = RecordParser(os.fspath(path), kind, allow_empty=allow_empty, skip_blank=skip_blank)
    for item in read_lines(path, max_line_bytes=max_line_bytes):
        if isinstance(item, InputError):
            yield RecordResult(item.line, None, (item,))
            continue
        result = parser.parse(item)
        if not result.skipped:
            yield result
