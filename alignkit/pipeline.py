"""The tokenize pipeline: read → validate → render → encode → truncate → pack → write.

:func:`tokenize_files` turns JSONL record files into one output folder (see
:mod:`alignkit.io.writers` for the formats and :mod:`alignkit.manifest` for the
manifest). Every input line ends up written, or in ``rejects.jsonl`` with its
path, line number, status (``rejected`` or ``dropped``) and reason, or (a blank
line under ``skip_blank``) counted in ``RunStats.skipped_blank`` and the manifest's
``counts``: nothing is lost silently.

Work is cut into chunks of lines; with ``num_proc > 1`` this process and ``num_proc - 1``
workers encode them and the results are merged **in input order**, so the output is
byte-identical for any ``num_proc`` (:mod:`alignkit.chunk_results` says how the work is
shared). The output folder is opened first (``.OUT.partial-<uuid>/``, removed on any
error): unpacked Arrow output is written batch by batch as the results arrive
(:mod:`alignkit.io.arrow_stream`); other formats and ``--pack`` are written once all are in.

Output columns, SFT (one row per example; ``attention_mask`` is all ones)::

    input_ids · labels · role_ids · attention_mask

SFT with ``pack=True`` (rows of exactly ``max_seq_len``; see :mod:`alignkit.pack`)::

    input_ids · labels · role_ids · position_ids · attention_mask · seq_lens · cu_seqlens · example_index

Preference, ``layout="dpo"`` (the default: responses without the prompt; the full chosen
sequence is ``prompt_input_ids + chosen_input_ids``)::

    prompt_input_ids · prompt_role_ids · chosen_input_ids · chosen_labels · chosen_role_ids
    · rejected_input_ids · rejected_labels · rejected_role_ids

Preference, ``layout="reward"`` (whole sequences, the prompt in each; what TRL's
``RewardTrainer`` takes as tokenized input)::

    chosen_ids · chosen_role_ids · rejected_ids · rejected_role_ids

Example::

    >>> report = tokenize_files(["sample_data/sft.jsonl"], "out")  # doctest: +SKIP
    >>> report.stats.written  # doctest: +SKIP
    20
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alignkit._records import Record
from alignkit.chunk_results import file_results, input_labels
from alignkit.encoder import Encoder
from alignkit.errors import InputError, UsageError
from alignkit.io.atomic import AtomicOutputDir, sha256_file
from alignkit.io.chunked import ChunkedColumn
from alignkit.io.writers import Column, write_columns
from alignkit.manifest import RunStats, build_manifest, dumps
from alignkit.output_columns import columns_for
from alignkit.worker import (
    SFT_COLUMNS,
    TokenizeConfig,
    column_dtype,
    init_worker,
    pair_columns,
)

if TYPE_CHECKING:
    from alignkit.io.arrow_stream import ArrowStream

__all__ = ["TokenizeConfig", "TokenizeReport", "tokenize_files"]

REJECTS_NAME = "rejects.jsonl"
#: Rejects a report keeps in memory (:attr:`TokenizeReport.rejects`); every one of them is
#: written to ``rejects.jsonl`` as it comes, so a run that rejects millions of lines does not
#: hold them all (about 1 KB each).
REJECTS_KEPT = 1000


class TokenizeReport(Record):
    """What a run did: its counts, its manifest, and where the output is.

    ``rejects`` holds the first :data:`REJECTS_KEPT` lines of ``rejects.jsonl`` (as dicts);
    ``rejects_total`` counts them all.

    A :class:`alignkit._records.Record` rather than a dataclass (``dataclasses`` costs every
    run about 10 ms of imports): it takes its fields by position or name, in the order
    below, compares equal field by field and shows its fields; it keeps a ``__dict__``.
    """

    _fields = ("out", "kind", "stats", "manifest", "packing_efficiency", "rejects", "rejects_total")
    out: Path
    kind: str
    stats: RunStats
    manifest: dict[str, object]
    packing_efficiency: float | None
    rejects: list[dict[str, object]]
    rejects_total: int

    def __init__(
        self,
        out: Path,
        kind: str,
        stats: RunStats,
        manifest: dict[str, object],
        packing_efficiency: float | None = None,
        rejects: list[dict[str, object]] | None = None,
        rejects_total: int = 0,
    ) -> None:
        self.out = out
        self.kind = kind
        self.stats = stats
        self.manifest = manifest
        self.packing_efficiency = packing_efficiency
        self.rejects = [] if rejects is None else rejects
        self.rejects_total = rejects_total


class _RejectsFile:
    """``rejects.jsonl``, written as the rejects come (in input order); the first
    :data:`REJECTS_KEPT` are also kept for the report."""

    def __init__(self, folder: AtomicOutputDir) -> None:
        self.file = folder.open_hashed(REJECTS_NAME)
        self.kept: list[dict[str, object]] = []
        self.count = 0

    def add(self, rejects: list[dict[str, object]]) -> None:
        """Write ``rejects`` (one JSON object a line, keys sorted) and keep what fits."""
        if not rejects:
            return
        import json

        text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rejects)
        self.file.write(text.encode("utf-8"))
        room = REJECTS_KEPT - len(self.kept)
        if room > 0:
            self.kept.extend(rejects[:room])
        self.count += len(rejects)


def _file_kind(path: str, label: str, config: TokenizeConfig) -> tuple[str | None, int]:
    """The kind of a file (decided by its first record that tells it) and that line."""
    if config.kind != "auto":
        return config.kind, 0
    from alignkit.io.jsonl import Line, read_lines

    parser = None
    for item in read_lines(path):
        if isinstance(item, Line):
            kind = _certain_kind(item.raw)  # what the parser would decide, without pydantic
            if kind is not None:
                return kind, item.number
            if parser is None:
                from alignkit.io.reader import RecordParser

                parser = RecordParser(label, "auto", skip_blank=True)
            parser.parse(item)
            if parser.file_kind is not None:
                return parser.file_kind, parser.kind_line
    return None, 0


def _certain_kind(raw: bytes) -> str | None:
    """``"sft"`` or ``"preference"`` when the line is certainly a valid record of that kind
    (:mod:`alignkit.record_check`), else ``None``: then pydantic decides."""
    from alignkit.io.jsonl import json_parser
    from alignkit.record_check import pair_parts, sft_turns

    from_json = json_parser()  # pydantic_core's, without its package __init__ (15-20 ms)

    try:
        value = from_json(raw, cache_strings="keys")
    except ValueError:
        return None
    if sft_turns(value) is not None:
        return "sft"
    if pair_parts(value) is not None:
        return "preference"
    return None


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
        TemplateError: a template that uses special tokens the tokenizer lacks.
    """
    config = config or TokenizeConfig()
    config.check()
    if not paths:
        raise UsageError("no input files")
    names = [os.fspath(p) for p in paths]
    # Built once here; forked workers inherit it (init_worker is then a no-op). Checked
    # before any input is read: a template the tokenizer cannot encode fits no record.
    encoder = init_worker(config)
    encoder.check()
    labels = input_labels(names)
    kinds = [_file_kind(p, labels[p], config) for p in names]
    known = sorted({k for k, _ in kinds if k is not None})
    if len(known) > 1:
        which = "; ".join(
            f"{k}: " + ", ".join(labels[p] for p, (kk, _) in zip(names, kinds) if kk == k) for k in known
        )
        raise UsageError(
            f"the inputs mix SFT and preference files ({which}); tokenize each kind into its own output"
        )
    kind = known[0] if known else (config.kind if config.kind != "auto" else "sft")
    if config.pack and kind == "preference":
        raise UsageError("--pack is for SFT data; preference pairs are written one pair per row")
    if config.layout != "dpo" and kind == "sft":
        raise UsageError(f"--layout {config.layout} is for preference pairs; these inputs are SFT records")
    kinds = [(kind, line) for _, line in kinds]
    stats = RunStats()
    hashes: dict[str, tuple[str, int]] = {}
    with AtomicOutputDir(out) as folder:  # removed again on any error: a failed run writes nothing
        rejects = _RejectsFile(folder)
        try:
            stream = _stream(folder, kind, config, encoder.n_vocab)
            try:
                parts = _collect(config, names, labels, kinds, hashes, num_proc, progress, stats, rejects, stream)
            except BaseException:
                if stream is not None:
                    stream.abort()  # its file closed now, not whenever the traceback is freed
                raise
            if stream is not None:
                columns: list[Column | ChunkedColumn] = list(stream.close())
                packing = None
            else:
                columns, packing = columns_for(kind, parts, config, encoder.n_vocab, encoder.pad_id)
                del parts
                write_columns(folder, columns, config.format)
            manifest = _finish(folder, config, kind, names, labels, stats, rejects, columns, packing, encoder, hashes)
        except BaseException:
            rejects.file.discard()  # closed now; the folder is removed
            raise
    eff = packing.get("efficiency") if packing else None
    return TokenizeReport(Path(out), kind, stats, manifest, float(eff) if isinstance(eff, float) else None,
                          rejects.kept, rejects.count)


def _stream(folder: AtomicOutputDir, kind: str, config: TokenizeConfig, n_vocab: int) -> ArrowStream | None:
    """The Arrow file written while results arrive (unpacked Arrow output), else ``None``."""
    if config.format != "arrow" or config.pack:
        return None
    from alignkit.io.arrow_stream import ArrowStream

    names = pair_columns(config.layout) if kind == "preference" else SFT_COLUMNS
    dtypes = [(n, column_dtype(n, n_vocab)) for n in names]
    if kind != "preference":
        dtypes.append(("attention_mask", "uint8"))
    return ArrowStream(folder, dtypes)


def _collect(config: TokenizeConfig, names: list[str], labels: dict[str, str],
             kinds: list[tuple[str | None, int]], hashes: dict[str, tuple[str, int]], num_proc: int,
             progress: bool, stats: RunStats,
             rejects: _RejectsFile, stream: ArrowStream | None) -> list[list[tuple[Any, Any]]]:
    """Merge the chunk results in input order into ``stats`` and ``rejects``; their columns go
    to ``stream`` as they come (or are returned, without one).

    Raises:
        InputError: the first rejected record, under ``on_error="fail"``.
    """
    from alignkit.io.flat import Flat

    reward = config.layout == "reward"
    if reward:
        from alignkit.output_columns import reward_chunk
    parts: list[list[tuple[Any, Any]]] = []
    ones = b""  # the attention mask: views of one buffer (no numpy)
    bar = _progress(progress)
    results = file_results(config, names, kinds, hashes, num_proc, labels)
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
            rejects.add(result.rejects)
            if reward:
                result.columns = reward_chunk(result.columns)
            if stream is None:
                parts.append(result.columns)
            elif len(stream.columns) > len(result.columns):  # SFT: add the attention mask
                ids, lengths = result.columns[0]
                if len(ones) < len(ids):
                    ones = b"\x01" * (len(ids) + len(ids) // 2)
                stream.add([*result.columns, (Flat(memoryview(ones)[: len(ids)], "uint8"), lengths)])
            else:
                stream.add(result.columns)
            if bar is not None:
                bar.update(result.stats.records_in)
    finally:
        results.close()  # workers stopped and result files closed now, even on an error
        if bar is not None:
            bar.close()
    return parts


def _progress(enabled: bool) -> Any:
    import sys

    if not enabled or sys.stderr is None or not sys.stderr.isatty():
        return None  # tqdm(disable=None) draws nothing off a terminal: skip importing it (~0.08 s)
    from tqdm import tqdm

    return tqdm(unit=" records", desc="tokenize", disable=None, leave=False)


def _finish(
    folder: AtomicOutputDir,
    config: TokenizeConfig,
    kind: str,
    names: list[str],
    labels: dict[str, str],
    stats: RunStats,
    rejects: _RejectsFile,
    cols: list[Column | ChunkedColumn],
    packing: dict[str, object] | None,
    encoder: Encoder,
    hashes: dict[str, tuple[str, int]],
) -> dict[str, object]:
    """Close the rejects file, write the manifest (last), and move the folder into place."""
    inputs: list[dict[str, object]] = []
    for n in names:
        digest, size = hashes[n] if n in hashes else (sha256_file(Path(n)), Path(n).stat().st_size)
        inputs.append({"path": labels[n], "sha256": digest, "bytes": size})
    rejects.file.close()  # recorded after the data files, as when it was written whole here
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
    return manifest
