"""Whole-file validation: counts, errors by type, and a report (``alignkit validate``).

Example::

    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "pref.jsonl"
    >>> _ = p.write_text('{"history": [{"role": "user", "content": "2+2?"}],'
    ...                  ' "response_a": "4", "response_b": "5", "chosen": "a"}\\n\\n')
    >>> report = validate_file(p)
    >>> report.kind, report.records, report.valid, report.invalid, report.errors_by_type
    ('preference', 2, 1, 1, {'blank_line': 1})
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from alignkit.errors import InputError
from alignkit.io.jsonl import DEFAULT_MAX_LINE_BYTES, read_lines
from alignkit.io.reader import Kind, RecordParser, RecordResult


@dataclass
class FileReport:
    """What :func:`validate_file` found in one file.

    Attributes:
        path: the file, as given.
        kind: ``sft`` or ``preference`` (``None``: auto mode found no record telling it).
        records: lines read as records (blank lines skipped with ``skip_blank`` excluded).
        valid: records that passed.
        invalid: records (lines) with at least one error.
        skipped_blank: blank lines passed over (``skip_blank``).
        errors_by_type: number of errors per error type (a line can have several).
    """

    path: str
    kind: str | None = None
    records: int = 0
    valid: int = 0
    invalid: int = 0
    skipped_blank: int = 0
    errors_by_type: dict[str, int] = field(default_factory=dict)

    def add(self, result: RecordResult) -> None:
        """Count one line's result."""
        if result.skipped:
            self.skipped_blank += 1
            return
        self.records += 1
        if result.ok:
            self.valid += 1
            return
        self.invalid += 1
        for err in result.errors:
            self.errors_by_type[err.error_type] = self.errors_by_type.get(err.error_type, 0) + 1

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (``errors_by_type`` sorted by type)."""
        return {
            "path": self.path,
            "kind": self.kind,
            "records": self.records,
            "valid": self.valid,
            "invalid": self.invalid,
            "skipped_blank": self.skipped_blank,
            "errors_by_type": dict(sorted(self.errors_by_type.items())),
        }


def validate_file(
    path: str | os.PathLike[str],
    kind: Kind = "auto",
    *,
    allow_empty: bool = False,
    skip_blank: bool = False,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    on_error: Callable[[InputError], None] | None = None,
) -> FileReport:
    """Validate every line of a record file, streaming; memory stays bounded by one line.

    Args:
        path: a JSONL or gzipped JSONL file.
        kind: ``sft``, ``preference`` or ``auto`` (decided by the file's first record).
        allow_empty: accept empty content and responses.
        skip_blank: count blank lines as skipped instead of reporting them.
        max_line_bytes: longest line accepted.
        on_error: called with each error, in line order, as it is found.

    Raises:
        UsageError: the file cannot be read.
    """
    name = os.fspath(path)
    parser = RecordParser(name, kind, allow_empty=allow_empty, skip_blank=skip_blank)
    report = FileReport(name)
    for item in read_lines(path, max_line_bytes=max_line_bytes):
        if isinstance(item, InputError):
            result = RecordResult(item.line, None, (item,))
        else:
            result = parser.parse(item)
        report.add(result)
        if on_error is not None:
            for err in result.errors:
                on_error(err)
    report.kind = parser.file_kind
    return report


def totals(reports: Iterable[FileReport]) -> FileReport:
    """The sum of several reports (``path`` is ``"total"``, ``kind`` ``None``)."""
    total = FileReport("total")
    for r in reports:
        total.records += r.records
        total.valid += r.valid
        total.invalid += r.invalid
        total.skipped_blank += r.skipped_blank
        for key, count in r.errors_by_type.items():
            total.errors_by_type[key] = total.errors_by_type.get(key, 0) + count
    return total
