"""``alignkit tokenize FILE…``: records → training-ready token tensors in an output folder.

With no FILE it tokenizes the repository's ``sample_data/`` (``sft.jsonl`` into
``alignkit_out/sft``, ``preference.jsonl`` into ``alignkit_out/preference``) with
the bundled GPT-2 tokenizer and the default template. A progress bar goes to
stderr; the summary (records in, written, rejected, dropped, truncated, blank lines
skipped with ``--skip-blank``, tokens per role, trained-token fraction, packing
efficiency) to stdout, as text or, with
``--report json``, as one JSON object. Exit 0 on success, 1 when a record is bad
under ``--on-error fail`` (nothing is written), 2 on a usage or I/O error.

Example::

    $ alignkit tokenize data.jsonl -o out --max-seq-len 2048 --pack --format npy
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from alignkit.cli._args import non_negative_int, positive_int

DEFAULT_OUT = "alignkit_out"
_MAX_SHOWN = 20
#: numpy's OpenBLAS reads this when numpy is imported (see :func:`one_blas_thread`).
BLAS_THREADS_ENV = "OPENBLAS_NUM_THREADS"


def add_parser(sub: Any) -> None:
    from alignkit.worker import DEFAULT_ENCODER, FORMATS, LAYOUTS, MASKS, TokenizeConfig

    d = TokenizeConfig()
    p: argparse.ArgumentParser = sub.add_parser(
        "tokenize",
        help="turn SFT or preference JSONL into token tensors (Arrow, npy, Parquet, JSONL)",
        description="Validate, render, encode, truncate, optionally pack, and write records"
        " atomically into an output folder with a manifest.json. With no FILE: sample_data/.",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="JSONL or .jsonl.gz record files (one kind)")
    p.add_argument("-o", "--out", default=None, metavar="OUT",
                   help=f"output folder (default {DEFAULT_OUT}/, one subfolder per kind with no FILE)")
    p.add_argument("--tokenizer", default=d.tokenizer, metavar="NAME|PATH|DIR",
                   help=f"tokenizer name, file or model folder (default {d.tokenizer}); a loaded tokenizer is"
                   " cached in ~/.cache/alignkit (ALIGNKIT_CACHE_DIR=DIR moves it, set empty turns it off)")
    p.add_argument("--template", default=None, metavar="NAME",
                   help="chat template (default: the tokenizer folder's, else a plain one)")
    p.add_argument("--max-seq-len", type=non_negative_int, default=d.max_seq_len, metavar="N",
                   help=f"longest sequence (packed row length with --pack); 0: no limit (default {d.max_seq_len})")
    p.add_argument("--truncation", choices=("drop", "truncate", "error"), default=d.truncation,
                   help=f"what to do with longer sequences (default {d.truncation}: keep the start)")
    p.add_argument("--pack", action="store_true", help="pack SFT examples into rows of --max-seq-len")
    p.add_argument("--format", choices=FORMATS, default=d.format, help=f"output format (default {d.format})")
    p.add_argument("--num-proc", type=positive_int, default=1, metavar="N",
                   help="processes encoding records, at least 1 (output is identical for any N;"
                   " default 1)")
    p.add_argument("--on-error", choices=("fail", "skip"), default=d.on_error,
                   help="on a bad record: fail (write nothing) or skip it into rejects.jsonl")
    p.add_argument("--special-in-content", choices=("count", "error"), default=d.special_in_content,
                   help="content holding a special-token string is always plain text; count such"
                   " rows (default) or treat them as errors")
    p.add_argument("--mask", choices=MASKS, default=d.mask,
                   help="train on every assistant turn (default), the last one, or all tokens")
    p.add_argument("--layout", choices=LAYOUTS, default=d.layout,
                   help="preference columns: dpo (default: prompt_input_ids, chosen_/rejected_input_ids"
                   " after the prompt, labels, role ids) or reward (chosen_ids, rejected_ids: whole"
                   " sequences, as TRL's RewardTrainer takes them)")
    p.add_argument("--kind", choices=("sft", "preference", "auto"), default=d.kind,
                   help="record kind (default auto: from the first record)")
    p.add_argument("--skip-blank", action="store_true", help="skip blank lines instead of rejecting them")
    p.add_argument("--report", choices=("text", "json"), default="text", help="summary format on stdout")
    p.add_argument("--encoder", default=DEFAULT_ENCODER, help=argparse.SUPPRESS)
    p.set_defaults(run=run)


def _jobs(args: argparse.Namespace) -> list[tuple[list[str], str]]:
    if args.files:
        return [(list(args.files), args.out or DEFAULT_OUT)]
    from alignkit.errors import UsageError

    sample = Path(__file__).resolve().parents[2] / "sample_data"
    if not (sample / "sft.jsonl").is_file():
        sample = Path("sample_data")
    if not (sample / "sft.jsonl").is_file():
        raise UsageError("no FILE given and no sample_data/sft.jsonl here; pass the files to tokenize")
    base = Path(args.out or DEFAULT_OUT)
    jobs = [([str(sample / "sft.jsonl")], str(base / "sft"))]
    if (sample / "preference.jsonl").is_file():
        jobs.append(([str(sample / "preference.jsonl")], str(base / "preference")))
    return jobs


def summary_text(report: Any) -> str:
    """The human summary of one :class:`~alignkit.pipeline.TokenizeReport`."""
    m = report.manifest
    c, t = m["counts"], m["tokens"]
    lines = [
        (f"{report.out}: {report.kind}, {c['records_in']} records in, {c['written']} written,"
         f" {c['rejected_total']} rejected, {c['dropped_total']} dropped, {c['truncated']} truncated,"
         f" {c['zero_trained']} with no trained token, {c['special_in_content']} with special-token"
         " text in content"),
    ]
    if c.get("skipped_blank"):  # --skip-blank passed over blank lines: say how many, as validate does
        lines[0] += f", {c['skipped_blank']} blank lines skipped"
    for what in ("rejected", "dropped"):
        if c[what]:
            lines.append(f"  {what}: " + ", ".join(f"{k} {v}" for k, v in c[what].items()))
    roles = ", ".join(f"{k} {v['tokens']} ({v['trained']} trained)" for k, v in t["by_role"].items())
    lines.append(f"  tokens: {t['total']} ({roles})")
    lines.append(f"  trained-token fraction: {t['trained_fraction']:.4f}")
    if m["packing"]:
        pk = m["packing"]
        lines.append(f"  packing: {pk['examples']} examples into {pk['rows']} rows of"
                     f" {pk['row_length']}, efficiency {pk['efficiency']:.4f}")
    return "\n".join(lines)


def reject_line(reject: dict[str, object]) -> str:
    """One line of ``rejects.jsonl`` as stderr shows it: ``validate``'s ``path:line: field:
    message [type]``, with the status (``rejected``, ``dropped``) after the line.

        >>> reject_line({"path": "a.jsonl", "line": 2, "loc": "turns.0.content", "status": "rejected",
        ...              "message": "Input should be a valid string", "reason": "string_type"})
        'a.jsonl:2: rejected: turns.0.content: Input should be a valid string [string_type]'
    """
    field = f" {reject['loc']}:" if reject.get("loc") else ""
    return (f"{reject['path']}:{reject['line']}: {reject['status']}:{field} {reject['message']}"
            f" [{reject['reason']}]")


def one_blas_thread() -> None:
    """Ask numpy's OpenBLAS for one thread, unless the user chose a number (``OPENBLAS_NUM_THREADS``).

    Tokenizing does no linear algebra, but importing numpy starts one OpenBLAS thread per
    core, and they spin for a while: about 0.07 s of CPU on 2 cores (0.86 -> 0.79 s for a
    whole run on the tokenize benchmark), more with more cores. Only this process and the
    workers it starts see the setting; it must run before numpy is imported to matter.

        >>> one_blas_thread(); os.environ[BLAS_THREADS_ENV] != ""
        True
    """
    os.environ.setdefault(BLAS_THREADS_ENV, "1")


def run(args: argparse.Namespace) -> int:
    one_blas_thread()  # before the pipeline imports numpy
    from alignkit.cli._paths import refuse_overwrites
    from alignkit.pipeline import tokenize_files
    from alignkit.worker import TokenizeConfig

    config = TokenizeConfig(
        tokenizer=args.tokenizer, template=args.template, max_seq_len=args.max_seq_len,
        truncation=args.truncation, pack=args.pack, format=args.format, mask=args.mask,
        on_error=args.on_error, special_in_content=args.special_in_content, kind=args.kind,
        skip_blank=args.skip_blank, layout=args.layout, encoder=args.encoder,
    )
    jobs = _jobs(args)
    for files, out in jobs:  # every job checked before any is run
        refuse_overwrites([("input", name) for name in files], [], output_folders=[("-o", out)])
    reports = []
    for files, out in jobs:
        job = config
        if not args.files and config.pack and Path(files[0]).name == "preference.jsonl":
            print("alignkit: note: --pack applies to SFT; the sample preference pairs are written"
                  " one pair per row", file=sys.stderr)
            job = config.replace(pack=False)
        if not args.files and config.layout != "dpo" and Path(files[0]).name == "sft.jsonl":
            print(f"alignkit: note: --layout {config.layout} applies to preference pairs; the sample"
                  " SFT records are written as SFT", file=sys.stderr)
            job = config.replace(layout="dpo")
        report = tokenize_files(files, out, job, num_proc=args.num_proc, progress=True)
        reports.append(report)
        if report.kind == "preference" and config.mask != "assistant":
            print(f"alignkit: note: --mask {config.mask} applies to SFT; a preference pair trains its"
                  " two responses and never its prompt", file=sys.stderr)
        if report.stats.records_in == 0:  # as validate warns; the output is still a valid folder
            print(f"alignkit: warning: {', '.join(files)}: no records (empty, or only blank lines);"
                  f" {out} holds 0 rows", file=sys.stderr)
        for reject in report.rejects[:_MAX_SHOWN]:
            print(reject_line(reject), file=sys.stderr)
        if report.rejects_total > _MAX_SHOWN:
            print(f"... and {report.rejects_total - _MAX_SHOWN} more in {out}/rejects.jsonl",
                  file=sys.stderr)
        if args.report == "text":
            print(summary_text(report))
    if args.report == "json":
        summary = [{"out": str(r.out), "kind": r.kind, "counts": r.manifest["counts"],
                "tokens": r.manifest["tokens"], "packing": r.manifest["packing"]} for r in reports]
        print(json.dumps(summary[0] if len(summary) == 1 else summary, indent=2, sort_keys=True))
    return 0
