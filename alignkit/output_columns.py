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
from alignkit.worker import SFT_COLUMNS, TokenizeConfig, column_dtype, pair_columns


def reward_chunk(columns: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """A preference chunk's columns (:data:`~alignkit.worker.PAIR_COLUMNS`) in the ``reward``
    layout (:data:`~alignkit.worker.REWARD_COLUMNS`): each row's prompt joined to each response,
    ids and role ids alike; the labels are left out (a reward model scores whole sequences).

        >>> import numpy as np
        >>> col = lambda v, n: (np.array(v, np.uint16), np.array(n, np.int64))
        >>> dpo = [col([1, 2, 3], [1, 2]), col([4, 4, 4], [1, 2]),               # prompt ids, roles
        ...        col([5, 6, 7], [2, 1]), col([5, 6, 7], [2, 1]), col([2, 2, 2], [2, 1]),
        ...        col([8, 9], [1, 1]), col([8, 9], [1, 1]), col([2, 2], [1, 1])]
        >>> [(v.tolist(), n.tolist()) for v, n in reward_chunk(dpo)[::2]]
        [([1, 5, 6, 2, 3, 7], [3, 3]), ([1, 8, 2, 3, 9], [2, 3])]
    """
    import numpy as np

    (p_ids, p_lens), (p_roles, _), c_ids, _, c_roles, r_ids, _, r_roles = columns
    p_lens = np.asarray(p_lens, dtype=np.int64)
    out: list[tuple[Any, Any]] = []
    for (ids, lens), (roles, _) in ((c_ids, c_roles), (r_ids, r_roles)):
        lens = np.asarray(lens, dtype=np.int64)
        whole = p_lens + lens
        starts = np.cumsum(whole) - whole
        # True where a joined row's value comes from its prompt: its first p_lens[i] places.
        in_prompt = (np.arange(int(whole.sum())) - np.repeat(starts, whole)) < np.repeat(p_lens, whole)
        for prompt, response in ((p_ids, ids), (p_roles, roles)):
            prompt, response = np.asarray(prompt), np.asarray(response)
            joined = np.empty(len(in_prompt), dtype=response.dtype)
            joined[in_prompt] = prompt
            joined[~in_prompt] = response
            out.append((joined, whole))
    return out


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
        return list(_chunked(parts, pair_columns(config.layout), n_vocab)), None
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
