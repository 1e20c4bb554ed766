"""``alignkit convert IN… --from FORMAT|auto -o OUT.jsonl``: other formats to alignkit records.

Inputs are JSONL (``.jsonl.gz`` too), JSON arrays (``.json``), Parquet files and
``save_to_disk`` dataset folders. Every row becomes a record in ``OUT`` or is
reported with its location and reason: on stderr (up to ``--max-errors``), in the
``--rejects`` JSONL file (error plus the original row) and in the summary counts.

``--on-error fail`` (the default) stops at the first rejected row and writes
nothing (exit 1); ``--on-error skip`` writes the records that converted and exits
0, the rejected rows being reported. ``OUT`` and the rejects file are written
atomically (temporary file, fsync, rename). Exit 2: a usage or I/O problem, or a
format that cannot be detected.

Example::

    $ alignkit convert hh/test.jsonl.gz --from hh_rlhf -o pairs.jsonl --on-error skip
    hh/test.jsonl.gz: hh_rlhf, 2354 rows, 2341 converted, 13 rejected (...)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from alignkit.cli._args import non_negative_int

DEFAULT_MAX_ERRORS = 20


def _format_name(text: str) -> str:
    """``--from`` value, forgiving case and ``-`` for ``_`` (``HH-RLHF`` is ``hh_rlhf``)."""
    return text.strip().lower().replace("-", "_")


def add_parser(sub: Any) -> None:
    from alignkit.io.adapters.registry import FORMATS

    p: argparse.ArgumentParser = sub.add_parser(
        "convert",
        help="convert OpenAI, ShareGPT, Alpaca, HH-RLHF, TRL… rows into alignkit records",
        description="Convert other data formats into alignkit JSONL records. Every row is"
        " converted or reported with its location and reason.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="IN",
        help="JSONL / .jsonl.gz / JSON array / Parquet files or save_to_disk folders",
    )
    p.add_argument(
        "--from",
        dest="fmt",
        choices=("auto", *FORMATS),
        default="auto",
        type=_format_name,
        metavar="FORMAT",
        help=f"input format: auto (default) or one of {', '.join(FORMATS)}",
    )
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output JSONL file")
    p.add_argument(
        "--on-error",
        choices=("fail", "skip"),
        default="fail",
        help="fail (default): stop at the first bad row, write nothing;"
        " skip: write the good rows and report the bad ones",
    )
    p.add_argument(
        "--rejects",
        metavar="FILE",
        help="write each rejected row (error + original row) to this JSONL file",
    )
    p.add_argument(
        "--report",
        choices=("text", "json"),
        default="text",
        help="summary format on stdout (default text)",
    )
    p.add_argument(
        "--max-errors",
        type=non_negative_int,
        default=DEFAULT_MAX_ERRORS,
        metavar="N",
        help="print at most N errors (all are counted); 0 prints all"
        f" (default {DEFAULT_MAX_ERRORS})",
    )
    p.add_argument("--split", help="split of a DatasetDict folder")
    p.add_argument(
        "--merge-consecutive",
        action="store_true",
        help="join consecutive same-role turns with a blank line (counted) instead of rejecting",
    )
    p.add_argument(
        "--drop-leading-assistant",
        action="store_true",
        help="drop assistant turns before the first user turn (counted) instead of rejecting",
    )
    p.add_argument(
        "--shuffle-seed",
        type=int,
        metavar="N",
        help="preference rows: place the chosen response at a seeded random position"
        " (default: always response_a)",
    )
    p.add_argument("--allow-empty", action="store_true", help="accept empty turn content")
    p.add_argument("--source", help="value of the records' 'source' field")
    p.set_defaults(run=run)


def _summary_line(label: str, counts: dict[str, Any]) -> str:
    text = (
        f"{label}, {counts['rows']} rows, {counts['converted']} converted,"
        f" {counts['rejected']} rejected"
    )
    reasons = counts["rejected_by_reason"]
    if reasons:
        text += " (" + ", ".join(f"{k} {v}" for k, v in reasons.items()) + ")"
    if counts["notes"]:
        text += "; notes: " + ", ".join(f"{k} {v}" for k, v in counts["notes"].items())
    return text


def _reject_line(result: Any) -> str:
    doc = dict(result.error.to_dict())
    doc.setdefault("unit", "line")
    if result.part is not None:
        doc["part"] = result.part
    doc["row"] = result.row
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"


class _Printer:
    """Prints errors to stderr up to a limit (0: no limit), counting the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.shown: list[dict[str, object]] = []
        self.hidden = 0

    def __call__(self, err: Any) -> None:
        if self.limit and len(self.shown) >= self.limit:
            self.hidden += 1
            return
        self.shown.append(err.to_dict())
        print(err.format(), file=sys.stderr)


class _OneKind:
    """Refuses an output that would mix SFT and preference records."""

    def __init__(self) -> None:
        self.first: tuple[str, str] | None = None

    def check_formats(self, pairs: list[tuple[str, str | None]]) -> None:
        from alignkit.errors import UsageError
        from alignkit.io.adapters.registry import FORMATS

        kinds = {FORMATS[fmt].kind for _, fmt in pairs if fmt is not None} - {"any"}
        if len(kinds) > 1:
            found = ", ".join(f"{path}: {fmt}" for path, fmt in pairs if fmt is not None)
            raise UsageError(
                f"the inputs hold both SFT and preference data ({found}); an output file"
                " holds one kind of record: convert them to separate files"
            )

    def check_record(self, result: Any) -> None:
        from alignkit.errors import UsageError

        kind = type(result.record).__name__
        where = f"{result.path} ({result.unit} {result.number})"
        if self.first is None:
            self.first = (kind, where)
        elif kind != self.first[0]:
            raise UsageError(
                f"{where} gives a {kind}, but {self.first[1]} gave a {self.first[0]}; an output"
                " file holds one kind of record: convert SFT and preference data to separate files"
            )


def _report(args: argparse.Namespace, per_file: list[Any], total: Any, printer: _Printer) -> None:
    if printer.hidden:
        print(
            f"alignkit: {printer.hidden} more errors not shown (raise --max-errors, or 0 to show"
            " all)",
            file=sys.stderr,
        )
    if args.report == "json":
        files = [{"path": path, "format": fmt, **s.to_dict()} for path, fmt, s in per_file]
        doc = {
            "ok": total.rejected == 0,
            "output": args.output,
            "rejects": args.rejects,
            "files": files,
            "total": total.to_dict(),
            "errors": printer.shown,
            "errors_not_shown": printer.hidden,
        }
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    for path, fmt, s in per_file:
        print(_summary_line(f"{path}: {fmt or 'no rows'}", s.to_dict()))
    if len(per_file) > 1:
        print(_summary_line(f"total: {len(per_file)} inputs", total.to_dict()))
    print(f"wrote {total.converted} records to {args.output}")


def run(args: argparse.Namespace) -> int:
    from contextlib import ExitStack

    from alignkit.cli._paths import refuse_overwrites
    from alignkit.io.adapters import ConvertOptions, ConvertSummary, convert_source, open_source
    from alignkit.io.adapters.output import AtomicTextFile, record_json
    from alignkit.io.adapters.pipeline import resolve_format

    outputs = [("-o", args.output), *([("--rejects", args.rejects)] if args.rejects else [])]
    refuse_overwrites([("input", name) for name in args.inputs], outputs)  # before reading
    options = ConvertOptions(
        merge_consecutive=args.merge_consecutive,
        drop_leading_assistant=args.drop_leading_assistant,
        shuffle_seed=args.shuffle_seed,
        allow_empty=args.allow_empty,
        source=args.source,
    )
    sources = [open_source(name, args.split) for name in args.inputs]
    formats = [resolve_format(src, args.fmt) for src in sources]  # fail fast, exit 2
    one_kind = _OneKind()
    one_kind.check_formats([(src.path, fmt) for src, fmt in zip(sources, formats, strict=True)])
    printer = _Printer(args.max_errors)
    total = ConvertSummary()
    per_file: list[tuple[str, str | None, ConvertSummary]] = []
    with ExitStack() as stack:
        out = stack.enter_context(AtomicTextFile(args.output))
        rejects = stack.enter_context(AtomicTextFile(args.rejects)) if args.rejects else None
        for src, fmt in zip(sources, formats, strict=True):
            summary = ConvertSummary()
            if fmt is None:
                print(f"alignkit: warning: {src.path}: no readable rows", file=sys.stderr)
            for result in convert_source(src, fmt or "auto", options):
                summary.add(result)
                total.add(result)
                if result.record is not None:
                    one_kind.check_record(result)
                    out.write(record_json(result.record) + "\n")
                    continue
                assert result.error is not None  # a result is a record or an error
                if args.on_error == "fail":
                    print(result.error.format(), file=sys.stderr)
                    print(
                        "alignkit: error: stopped at the first row that cannot be converted;"
                        " nothing was written (fix the row, or use --on-error skip to write"
                        " the others and report the rejected ones)",
                        file=sys.stderr,
                    )
                    return 1
                if rejects is not None:
                    rejects.write(_reject_line(result))
                printer(result.error)
            per_file.append((src.path, fmt, summary))
        out.commit()
        if rejects is not None:
            rejects.commit()
    _report(args, per_file, total, printer)
    return 0
