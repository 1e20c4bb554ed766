"""``alignkit validate FILE…``: check record files, report bad lines, exit 0/1/2.

Errors go to stderr, one per line, as ``path:line: field.path: message [type]``;
the summary (records read, valid, invalid, errors by type) goes to stdout, as
text or, with ``--report json``, as one JSON object. Exit code 0: every record
valid; 1: some record invalid; 2: a file cannot be read or an option is wrong.

Example::

    $ alignkit validate sample_data/sft.jsonl sample_data/preference.jsonl
    sample_data/sft.jsonl: sft, 34 records, 34 valid, 0 invalid
    sample_data/preference.jsonl: preference, 32 records, 32 valid, 0 invalid
    total: 2 files, 66 records, 66 valid, 0 invalid
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from alignkit.cli._args import non_negative_int, positive_int

DEFAULT_MAX_ERRORS = 20


def add_parser(sub: Any) -> None:
    from alignkit.io.jsonl import DEFAULT_MAX_LINE_BYTES

    p: argparse.ArgumentParser = sub.add_parser(
        "validate",
        help="check JSONL record files (SFT or preference) line by line",
        description="Check JSONL (or .jsonl.gz) record files. Errors go to stderr as"
        " 'path:line: field: message [type]', a summary to stdout. Exit 0 when every record is"
        " valid, 1 when some is not, 2 when a file cannot be read.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="JSONL or gzipped JSONL files")
    p.add_argument("--kind", choices=("sft", "preference", "auto"), default="auto",
                   help="record kind; auto (default) decides per file from its first record")
    p.add_argument("--max-errors", type=non_negative_int, default=DEFAULT_MAX_ERRORS, metavar="N",
                   help=f"print at most N errors (all are counted); 0 prints all"
                   f" (default {DEFAULT_MAX_ERRORS})")
    p.add_argument("--report", choices=("text", "json"), default="text",
                   help="summary format on stdout (default text)")
    p.add_argument("--allow-empty", action="store_true",
                   help="accept empty turn content and empty responses")
    p.add_argument("--skip-blank", action="store_true",
                   help="skip blank lines instead of reporting them as errors")
    p.add_argument("--max-line-bytes", type=positive_int, default=DEFAULT_MAX_LINE_BYTES,
                   metavar="N", help=f"longest line accepted (default {DEFAULT_MAX_LINE_BYTES},"
                   " 64 MiB); longer lines are errors")
    p.set_defaults(run=run)


class _Printer:
    """Prints errors to stderr up to a limit, counting the rest."""

    def __init__(self, limit: int, keep: bool) -> None:
        self.limit = limit
        self.keep = keep  # keep the printed errors for the JSON report
        self.count = 0
        self.shown: list[dict[str, object]] = []
        self.hidden = 0

    def __call__(self, err: Any) -> None:
        if self.limit and self.count >= self.limit:
            self.hidden += 1
            return
        self.count += 1
        if self.keep:
            self.shown.append(err.to_dict())
        print(err.format(), file=sys.stderr)


def _line(report: Any, label: str | None = None) -> str:
    head = label if label is not None else f"{report.path}: {report.kind or 'unknown kind'}"
    text = f"{head}, {report.records} records, {report.valid} valid, {report.invalid} invalid"
    if report.skipped_blank:
        text += f", {report.skipped_blank} blank lines skipped"
    if report.errors_by_type:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(report.errors_by_type.items()))
        text += f" (errors: {kinds})"
    return text


def run(args: argparse.Namespace) -> int:
    from alignkit.io.jsonl import open_binary
    from alignkit.io.validate import totals, validate_file

    for name in args.files:  # fail fast (exit 2) before reporting anything
        open_binary(name).close()
    printer = _Printer(args.max_errors, keep=args.report == "json")
    reports = []
    for name in args.files:
        report = validate_file(
            name, args.kind, allow_empty=args.allow_empty, skip_blank=args.skip_blank,
            max_line_bytes=args.max_line_bytes, on_error=printer,
        )
        if report.records == 0:
            print(f"alignkit: warning: {name}: no records (empty file)", file=sys.stderr)
        reports.append(report)
    total = totals(reports)
    if printer.hidden:
        print(f"alignkit: {printer.hidden} more errors not shown (raise --max-errors,"
              " or 0 to show all)", file=sys.stderr)
    if args.report == "json":
        doc = {
            "ok": total.invalid == 0,
            "files": [r.to_dict() for r in reports],
            "total": {k: v for k, v in total.to_dict().items() if k not in ("path", "kind")},
            "errors": printer.shown,
            "errors_not_shown": printer.hidden,
        }
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        for r in reports:
            print(_line(r))
        if len(reports) > 1:
            print(_line(total, f"total: {len(reports)} files"))
    return 1 if total.invalid else 0
