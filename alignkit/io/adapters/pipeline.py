"""Rows in, records or located errors out: the conversion loop behind ``alignkit convert``.

Every input row yields at least one :class:`ConvertResult`: a validated record, or
an error that says where (``path:line:``, ``path: item N:`` or ``path: row N:``),
which field, why, and its type. Nothing is dropped silently.

Example::

    >>> rows = [{"question": "2+2?", "answer": "4"}, {"question": "3+3?"}]
    >>> [r.ok for r in convert_rows(rows, "pairs")]
    [True, False]
    >>> print(list(convert_rows(rows, "pairs"))[1].error)
    <rows>: row 1: expected one of the key pairs prompt/response, prompt/completion, question/answer [missing]
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from pydantic import ValidationError

from alignkit.errors import InputError, UsageError
from alignkit.io.adapters._common import ConvertError, ConvertOptions, Draft, RowProblem
from alignkit.io.adapters.detect import DETECT_ROWS, detect_format
from alignkit.io.adapters.registry import FORMATS, format_table
from alignkit.io.adapters.sources import NumberedRow, RowSource, open_source
from alignkit.records import ChatExample, PreferenceExample, error_loc

ConvertedRecord = ChatExample | PreferenceExample


@dataclass(frozen=True)
class ConvertResult:
    """The outcome of one input row (or one part of it).

    Attributes:
        path, unit, number: where the row is (``number`` counts ``unit``).
        record: the validated record, or ``None`` when the row was rejected.
        error: why the row was rejected, or ``None``.
        part: the index of this record within its row (self-instruct instances).
        notes: counted fixes and remarks (e.g. ``merged_consecutive``).
        row: the input row of a rejected result (for a rejects file), else ``None``.
    """

    path: str
    unit: str
    number: int
    record: ConvertedRecord | None = None
    error: InputError | None = None
    part: int | None = None
    notes: tuple[str, ...] = ()
    row: object = None

    @property
    def ok(self) -> bool:
        """True when the row became a record."""
        return self.record is not None


@dataclass
class ConvertSummary:
    """Counts over a conversion: rows read, records made, rejections by type, notes.

    For every format but ``self_instruct`` (one record per instance) a row gives one
    result, so ``converted + rejected == rows``.
    """

    rows: int = 0
    converted: int = 0
    rejected: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)

    def add(self, result: ConvertResult) -> None:
        """Count one result (a row is counted once, on its first part)."""
        if result.part is None or result.part == 0:
            self.rows += 1
        if result.ok:
            self.converted += 1
        else:
            self.rejected += 1
            self.by_reason[result.error.error_type if result.error else "unknown"] += 1
        self.notes.update(result.notes)

    def to_dict(self) -> dict[str, object]:
        """A JSON-able dict with sorted counters."""
        return {
            "rows": self.rows,
            "converted": self.converted,
            "rejected": self.rejected,
            "rejected_by_reason": dict(sorted(self.by_reason.items())),
            "notes": dict(sorted(self.notes.items())),
        }


def _validate(draft: Draft, options: ConvertOptions) -> ConvertedRecord:
    context = {"allow_empty": options.allow_empty}
    if draft.kind == "sft":
        return ChatExample.model_validate(draft.data, context=context)
    return PreferenceExample.model_validate(draft.data, context=context)


def _validation_error(err: ValidationError, src: RowSource, number: int) -> ConvertError:
    errors = err.errors(include_url=False)
    first = errors[0]
    ctx = first.get("ctx")
    loc = error_loc(tuple(first["loc"]), ctx if isinstance(ctx, dict) else None)
    message = first["msg"]
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more errors)"
    return ConvertError(src.path, number, loc, message, first["type"], src.unit)


def _problem_error(problem: RowProblem, src: RowSource, number: int) -> ConvertError:
    return ConvertError(
        src.path, number, problem.loc, problem.message, problem.error_type, src.unit
    )


def _convert_row(
    src: RowSource, number: int, row: Mapping[str, object], fmt: str, options: ConvertOptions
) -> Iterator[ConvertResult]:
    where = (src.path, src.unit, number)
    try:
        drafts = FORMATS[fmt].convert(row, options, number)
    except RowProblem as problem:
        error = _problem_error(problem, src, number)
        yield ConvertResult(*where, error=error, row=row)
        return
    for draft in drafts:
        if draft.problem is not None:
            error = _problem_error(draft.problem, src, number)
            yield ConvertResult(*where, error=error, part=draft.part, row=row)
            continue
        try:
            record = _validate(draft, options)
        except ValidationError as err:
            error = _validation_error(err, src, number)
            yield ConvertResult(
                *where, error=error, part=draft.part, notes=tuple(draft.notes), row=row
            )
            continue
        yield ConvertResult(*where, record=record, part=draft.part, notes=tuple(draft.notes))


def _readable(rows: Iterable[NumberedRow]) -> Iterator[tuple[int, Mapping[str, object]]]:
    for number, row in rows:
        if not isinstance(row, InputError):
            yield number, row


def resolve_format(src: RowSource, fmt: str) -> str | None:
    """``fmt`` checked against the registry, or the detected format when ``fmt`` is ``auto``
    (case and ``-`` for ``_`` are forgiven: ``HH-RLHF`` is ``hh_rlhf``).

    Returns ``None`` for an ``auto`` input without any readable row.
    """
    fmt = fmt.strip().lower().replace("-", "_")
    if fmt == "auto":
        rows = src.rows()
        try:
            return detect_format(_readable(rows), src.path, src.unit)
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}. Known formats and their keys:\n{format_table()}")
    return fmt


def convert_source(
    src: RowSource, fmt: str = "auto", options: ConvertOptions | None = None
) -> Iterator[ConvertResult]:
    """Convert every row of ``src`` with format ``fmt`` (``auto``: detected from the
    first :data:`~alignkit.io.adapters.detect.DETECT_ROWS` rows)."""
    opts = options or ConvertOptions()
    name = resolve_format(src, fmt)
    for number, row in src.rows():
        if isinstance(row, InputError):
            yield ConvertResult(src.path, src.unit, number, error=row)
        elif name is not None:
            yield from _convert_row(src, number, row, name, opts)


def convert_rows(
    rows: Iterable[Mapping[str, object]],
    fmt: str = "auto",
    options: ConvertOptions | None = None,
    *,
    path: str = "<rows>",
    unit: str = "row",
    start: int = 0,
) -> Iterator[ConvertResult]:
    """Convert in-memory rows (dicts, or a ``datasets.Dataset``), numbered from ``start``.

    ``rows`` is read once for conversion, plus once more (its first
    :data:`~alignkit.io.adapters.detect.DETECT_ROWS` rows) for ``fmt="auto"`` when it
    is re-iterable; a one-shot iterator is buffered for detection.
    """
    from alignkit.io.hf_input import dataset_rows

    items: Iterable[Mapping[str, object]] = rows
    if fmt == "auto" and iter(rows) is rows:
        buffered = list(rows)
        items = buffered

    def numbered() -> Iterator[NumberedRow]:
        for number, row in dataset_rows(items):
            yield number + start, row

    return convert_source(RowSource(path, unit, numbered), fmt, options)


def convert_file(
    path: str | os.PathLike[str],
    fmt: str = "auto",
    options: ConvertOptions | None = None,
    *,
    split: str | None = None,
) -> Iterator[ConvertResult]:
    """Convert a JSONL / JSON-array / Parquet file or a ``save_to_disk`` folder.

    Example::

        >>> import pathlib, tempfile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "g.jsonl"
        >>> _ = p.write_text('{"question": "2+2?", "answer": "4"}\\n')
        >>> [type(r.record).__name__ for r in convert_file(p)]
        ['ChatExample']
    """
    return convert_source(open_source(path, split), fmt, options)


__all__ = [
    "DETECT_ROWS",
    "ConvertError",
    "ConvertResult",
    "ConvertSummary",
    "convert_file",
    "convert_rows",
    "convert_source",
    "resolve_format",
]
