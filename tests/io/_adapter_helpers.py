"""Helpers for the adapter tests: convert one row, get its single result."""

from __future__ import annotations

from collections.abc import Mapping

from alignkit.io.adapters import ConvertOptions, ConvertResult, convert_rows


def convert_one(row: Mapping[str, object], fmt: str, **options: object) -> ConvertResult:
    """The single result of converting ``row`` with format ``fmt``."""
    results = list(convert_rows([row], fmt, ConvertOptions(**options)))  # type: ignore[arg-type]
    assert len(results) == 1, results
    return results[0]


def error_of(row: Mapping[str, object], fmt: str, **options: object) -> tuple[str, str]:
    """``(error_type, loc)`` of a row that must be rejected."""
    result = convert_one(row, fmt, **options)
    assert result.error is not None, f"expected a rejection, got {result.record!r}"
    assert result.record is None
    return result.error.error_type, result.error.loc
