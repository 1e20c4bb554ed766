"""The tokenize pipeline: read → validate → render → encode → truncate → pack → write.

:func:`tokenize_files` turns JSONL record files into one output folder (see
:mod:`alignkit.io.writers` for the formats and :mod:`alignkit.manifest` for the
manifest). Every input line ends up written, or in ``rejects.jsonl`` with its
path, line number, status (``rejected`` or ``dropped``) and reason: nothing is
lost silently.

Work is cut into chunks of lines; with ``num_proc > 1`` worker processes encode
them and the results are merged **in input order**, so the output is byte-identical
for any ``num_proc`` (:mod:`alignkit.chunk_results` says how the work is shared).

Output columns, SFT (one row per example; ``attention_mask`` is all ones)::

    input_ids · labels · role_ids · attention_mask

SFT with ``pack=True`` (rows of exactly ``max_seq_len``; see :mod:`alignkit.pack`)::

    input_ids · labels · role_ids · position_ids · attention_mask · seq_lens · cu_seqlens · example_index

Preference (the TRL DPO layout: responses without the prompt; the full chosen
sequence is ``prompt_input_ids + chosen_input_ids``)::

    prompt_input_ids · prompt_role_ids · chosen_input_ids · chosen_labels · chosen_role_ids
    · rejected_input_ids · rejected_labels · rejected_role_ids

Example::

    >>> report = tokenize_files(["sample_data/sft.jsonl"], "out")  # doctest: +SKIP
    >>> report.stats.written  # doctest: +SKIP
    20
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignkit.chunk_results import file_results, input_label
from alignkit.encode import EncodedExample
from alignkit.encoder import Encoder
from alignkit.errors import InputError, UsageError
from alignkit.io.atomic import AtomicOutputDir, sha256_file
from alignkit.io.chunked import ChunkedColumn
from alignkit.io.writers import Column, position_dtype, token_dtype
from alignkit.manifest import RunStats, build_manifest, dumps
from alignkit.worker import (
    PAIR_COLUMNS,
    SFT_COLUMNS,
    TokenizeConfig,
    column_dtype,
    init_worker,
)

__all__ = ["TokenizeConfig", "TokenizeReport", "tokenize_files"]

REJECTS_NAME = "rejects.jsonl"


@dataclass
class TokenizeReport:
    """What a run did: its counts, its manifest, and where the output is."""

    out: Path
    kind: str
    stats: RunStats
    manifest: dict[str, object]
    packing_efficiency: float | None = None
    rejects: list[dict[str, object]] = field(default_factory=list)


def _file_kind(path: str, label: str, config: TokenizeConfig) -> tuple[str | None, int]:
    """The kind of a file (decided by its first record that tells it) and that line."""
    if config.kind != "auto":
        return config.kind, 0
    from alignkit.io.jsonl import Line, read_lines

    parser = None
    for item in read_lines(path):
        if isinstance(item, Line):
            if _certainly_sft(item.raw):  # what the parser would decide, without pydantic
                return "sft", item.number
            if parser is None:
                from alignkit.io.reader import RecordParser

                parser = RecordParser(label, "auto", skip_blank=True)
            parser.parse(item)
            if parser.file_kind is not None:
                return parser.file_kind, parser.kind_line
    return None, 0


def _certainly_sft(raw: bytes) -> bool:
    """True when the line is certainly a valid SFT record (:mod:`alignkit.record_check`)."""
    from pydantic_core import from_json

    from alignkit.record_check import sft_turns

    try:
        return sft_turns(from_json(raw, cache_strings="keys")) is not None
    except ValueError:
        return False


def tokenize_files(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    config: TokenizeConfig | None = None,
    *,
    num_proc: int = 1,
    progress: bool = False,
) -> TokenizeReport:
    """Tokenize record files into the output folder ``out`` (written atomically).

    Raises:
        InputError: a bad record under ``on_error="fail"`` (nothing is written).
        UsageError: a bad option, or files of different kinds.
    """
    config = config or TokenizeConfig()
    config.check()
    if not paths:
        raise UsageError("no input files")
    names = [os.fspath(p) for p in paths]
    kinds = [_file_kind(p, input_label(p), config) for p in names]
    known = sorted({k for k, _ in kinds if k is not None})
    if len(known) > 1:
        raise UsageError(
            "the inputs mix SFT and preference files; tokenize each kind into its own output"
        )
    kind = known[0] if known else (config.kind if config.kind != "auto" else "sft")
    if config.pack and kind == "preference":
        raise UsageError("--pack is for SFT data; preference pairs are written one pair per row")
    kinds = [(kind, line) for _, line in kinds]
    # Built once here; forked workers inherit it (init_worker is then a no-op).
    encoder = init_worker(config)
    stats = RunStats()
    parts: list[list[tuple[Any, Any]]] = []
    rejects: list[dict[str, object]] = []
    hashes: dict[str, tuple[str, int]] = {}
    bar = _progress(progress)
    results = file_results(config, names, kinds, hashes, num_proc)
    try:
        for result in results:
            if config.on_error == "fail":
                for reject in result.rejects:
                    if reject["status"] == "rejected":
                        raise InputError(
                            str(reject["path"]), int(str(reject["line"])), str(reject["loc"]),
                            str(reject["message"]), str(reject["reason"]),
                        )
            stats.merge(result.stats)
            parts.append(result.columns)
            rejects.extend(result.rejects)
            if bar is not None:
                bar.update(result.stats.records_in)
    finally:
        results.close()  # workers stopped and result files closed now, even on an error
        if bar is not None:
            bar.close()
    columns, packing = columns_for(kind, parts, config, encoder.n_vocab, encoder.pad_id)
    return _write(config, kind, names, out, stats, rejects, columns, packing, encoder, hashes)


def _progress(enabled: bool) -> Any:
    import sys

    if not enabled or sys.stderr is None or not sys.stderr.isatty():
        return None  # tqdm(disable=None) draws nothing off a terminal: skip importing it (~0.08 s)
    from tqdm import tqdm

    return tqdm(unit=" records", desc="tokenize", disable=None, leave=False)


def _write(
    config: TokenizeConfig,
    kind: str,
    names: list[str],
    out: str | os.PathLike[str],
    stats: RunStats,
    rejects: list[dict[str, object]],
    cols: list[Column | ChunkedColumn],
    packing: dict[str, object] | None,
    encoder: Encoder,
    hashes: dict[str, tuple[str, int]] | None = None,
) -> TokenizeReport:
    import json

    from alignkit.io.writers import write_columns

    known = hashes or {}
    inputs: list[dict[str, object]] = []
    for n in names:
        digest, size = known[n] if n in known else (sha256_file(Path(n)), Path(n).stat().st_size)
        inputs.append({"path": input_label(n), "sha256": digest, "bytes": size})
    with AtomicOutputDir(out) as folder:
        write_columns(folder, cols, config.format)
        text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rejects)
        folder.write_bytes(REJECTS_NAME, text.encode("utf-8"))
        manifest = build_manifest(
            kind=kind,
            stats=stats,
            config=config.manifest_config(),
            inputs=inputs,
            tokenizer=encoder.describe_tokenizer(),
            template=encoder.describe_template(),
            columns={c.name: c.dtype for c in cols},
            files=folder.files,
            packing=packing,
        )
        folder.commit(dumps(manifest))
    eff = packing.get("efficiency") if packing else None
    return TokenizeReport(
        Path(out), kind, stats, manifest, float(eff) if isinstance(eff, float) else None, rejects
    )


def _join(parts: list[list[tuple[Any, Any]]], names: tuple[str, ...], n_vocab: int) -> list[Column]:
    """Concatenate the chunks' flat columns, in chunk order."""
    return [c.joined() for c in _chunked(parts, names, n_vocab)]


def _chunked(parts: list[list[tuple[Any, Any]]], names: tuple[str, ...], n_vocab: int) -> list[ChunkedColumn]:
    """The chunks' flat columns as they are, in chunk order (joined, if ever, by the writer)."""
    return [ChunkedColumn(name, column_dtype(name, n_vocab), [p[k] for p in parts]) for k, name in enumerate(names)]


def columns_for(
    kind: str, parts: list[list[tuple[Any, Any]]], config: TokenizeConfig, n_vocab: int, pad_id: int
) -> tuple[list[Column | ChunkedColumn], dict[str, object] | None]:
    """The output columns of the encoded chunks, packed when ``config.pack``; and the packing report.

    Unpacked columns stay in their chunks (:class:`~alignkit.io.chunked.ChunkedColumn`): the
    Arrow writer builds its batches from them without joining whole columns first.
    """
    import numpy as np

    if kind == "preference":
        return list(_chunked(parts, PAIR_COLUMNS, n_vocab)), None
    if not config.pack:
        cols: list[Column | ChunkedColumn] = list(_chunked(parts, SFT_COLUMNS, n_vocab))
        ids = cols[0]
        assert isinstance(ids, ChunkedColumn)
        ones = np.ones(max((len(v) for v in ids.values), default=0), dtype=np.uint8)  # one buffer, viewed
        cols.append(ChunkedColumn("attention_mask", "uint8",
                                  [(ones[: len(v)], n) for v, n in zip(ids.values, ids.lengths)]))
        return cols, None
    from alignkit.pack import pack_examples

    ids, labels, roles = _join(parts, SFT_COLUMNS, n_vocab)
    examples = [EncodedExample(ids.row(i), labels.row(i), roles.row(i)) for i in range(len(ids))]
    packed = pack_examples(examples, config.max_seq_len, pad_id)
    cu = [[0, *_cumsum(lens)] for lens in packed.seq_lens]
    n = config.max_seq_len
    cols = [
        Column("input_ids", token_dtype(n_vocab), packed.input_ids),
        Column("labels", "int32", packed.labels),
        Column("role_ids", "uint8", packed.role_ids),
        Column("position_ids", position_dtype(n), packed.position_ids),
        Column("attention_mask", "uint8", packed.attention_mask),
        Column("seq_lens", "int32", packed.seq_lens),
        Column("cu_seqlens", "int32", cu),
        Column("example_index", "int64", packed.example_index),
    ]
    report: dict[str, object] = {
        "row_length": n,
        "rows": len(packed.input_ids),
        "examples": len(examples),
        "tokens": packed.num_tokens,
        "slots": packed.num_slots,
        "efficiency": round(packed.efficiency(), 6),
        "pad_id": pad_id,
        "algorithm": "best-fit-decreasing (longest first, ties by input order; fullest fitting row)",
        "split_examples": False,
    }
    return cols, report


def _cumsum(values: list[int]) -> list[int]:
    out: list[int] = []
    total = 0
    for v in values:
        total += v
        out.append(total)
    return out
