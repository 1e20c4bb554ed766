"""The output columns of a run's chunk results: as chunks (unpacked), or packed rows.

Each chunk result holds, per column, flat values and per-row lengths
(:class:`~alignkit.worker.ChunkResult`). Unpacked output keeps them as they are
(:class:`~alignkit.io.chunked.ChunkedColumn`); ``--pack`` joins them and packs the rows
(:mod:`alignkit.pack`). Arrow output that is not packed never comes here: the pipeline
writes it while the results arrive (:mod:`alignkit.io.arrow_stream`).

    >>> cols, report = columns_for("sft", parts, config, n_vocab, pad_id)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from alignkit.encode import EncodedExample
from alignkit.io.chunked import ChunkedColumn
from alignkit.io.writers import Column, position_dtype, token_dtype
from alignkit.worker import PAIR_COLUMNS, SFT_COLUMNS, TokenizeConfig, column_dtype


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

    Unpacked columns stay in their chunks (:class:`~alignkit.io.chunked.ChunkedColumn`), joined
    by the writer of the format; packed columns are whole, and the Arrow writer takes each as
    one piece (:func:`~alignkit.io.arrow_stream.write_arrow`).
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
        "first_labels_masked": packed.first_labels_masked,
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
