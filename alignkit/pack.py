"""Packing: best-fit-decreasing into fixed-length rows (compiled).

Examples are placed longest first (ties: lower input index first) into the open
row with the *least* room that still fits them (ties: the row opened first); a
new row is opened only when none fits. An example is never split: one longer
than the row length is a ``ValueError`` (truncation runs before packing).

Every packed row is exactly ``capacity`` tokens long and carries:

* ``input_ids``, ``labels``, ``role_ids`` of its examples, concatenated in input
  order, then padding (``pad_id``, label ``-100``, role ``5`` = padding); the label of
  every example's *first* token is ``-100``: labels are not shifted, so a trainer's
  shift would make the previous example's last token predict it, a target across two
  unrelated documents (it is trained only under ``--mask all`` or when a conversation
  opens with a trained turn; TRL's padding-free collator does the same);
* ``position_ids`` restarting at 0 for every example (and for the padding);
* ``attention_mask`` 1 on tokens, 0 on padding;
* ``seq_lens``: the length of every example in the row, so a trainer can build
  ``cu_seqlens = [0, *cumsum(seq_lens)]`` and keep documents from attending to
  each other (the padding is not a sequence);
* ``example_index``: the input index of every example in the row.

Best-fit uses a segment tree over "room left" (``0..capacity``) holding how many
rows have that much room, and a min-heap of row ids per room value, so each
placement costs ``O(log capacity)``.

    >>> from alignkit.encode import EncodedExample
    >>> exs = [EncodedExample([1] * n, [1] * n, [2] * n) for n in (3, 2, 1)]
    >>> best_fit_decreasing([3, 2, 1], 4)
    [[0, 2], [1]]
    >>> p = pack_examples(exs, 4, 0)
    >>> p.input_ids[1], p.position_ids[1], p.seq_lens[1]
    ([1, 1, 0, 0], [0, 1, 0, 1], [2])
"""

from __future__ import annotations

import heapq
from typing import Final, final

from alignkit.encode import IGNORE_INDEX, ROLE_PADDING, EncodedExample

_NONE: Final = -1


def _first_at_least(tree: list[int], size: int, lo: int) -> int:
    """The smallest leaf index ``>= lo`` whose count is non-zero, or -1."""
    i = lo + size
    if tree[i] > 0:
        return lo
    while i > 1 and ((i & 1) == 1 or tree[i + 1] == 0):
        i >>= 1
    if i <= 1:
        return _NONE
    i += 1
    while i < size:
        if tree[2 * i] > 0:
            i = 2 * i
        else:
            i = 2 * i + 1
    return i - size


def _add(tree: list[int], size: int, leaf: int, delta: int) -> None:
    i = leaf + size
    while i >= 1:
        tree[i] += delta
        i >>= 1


def best_fit_decreasing(lengths: list[int], capacity: int) -> list[list[int]]:
    """Assign example indices to rows; each row's indices are in increasing order.

    Rows are numbered in the order they were opened.

        >>> best_fit_decreasing([2, 5, 3, 5], 8)
        [[1, 2], [0, 3]]
    """
    n = len(lengths)
    if capacity <= 0:
        raise ValueError(f"packing needs a positive row length, got {capacity}")
    keys: list[int] = []
    for idx in range(n):
        length = lengths[idx]
        if length > capacity:
            raise ValueError(
                f"example {idx} has {length} tokens, more than the row length {capacity};"
                " truncate it first (packing never splits an example)"
            )
        if length < 0:
            raise ValueError(f"example {idx} has a negative length {length}")
        keys.append((capacity - length) * n + idx)
    keys.sort()
    size = 1
    while size < capacity + 1:
        size *= 2
    tree: list[int] = [0] * (2 * size)
    heaps: list[list[int]] = []
    for _ in range(capacity + 1):
        heaps.append([])
    room: list[int] = []
    rows: list[list[int]] = []
    for k in range(n):
        idx = keys[k] % n
        length = lengths[idx]
        space = _first_at_least(tree, size, length)
        if space == _NONE:
            row = len(rows)
            rows.append([])
            room.append(capacity)
        else:
            row = heapq.heappop(heaps[space])
            _add(tree, size, space, -1)
        rows[row].append(idx)
        left = room[row] - length
        room[row] = left
        heapq.heappush(heaps[left], row)
        _add(tree, size, left, 1)
    for r in range(len(rows)):
        rows[r].sort()
    return rows


@final
class PackedRows:
    """Fixed-length rows made by :func:`pack_examples` (parallel lists, one entry per row)."""

    def __init__(self) -> None:
        self.input_ids: list[list[int]] = []
        self.labels: list[list[int]] = []
        self.role_ids: list[list[int]] = []
        self.position_ids: list[list[int]] = []
        self.attention_mask: list[list[int]] = []
        self.seq_lens: list[list[int]] = []
        self.example_index: list[list[int]] = []
        #: Tokens that are not padding, over all rows.
        self.num_tokens: int = 0
        #: Examples whose first token's label was trained and is -100 in the packed row.
        self.first_labels_masked: int = 0
        #: Row slots in total (rows × capacity).
        self.num_slots: int = 0

    def efficiency(self) -> float:
        """Non-padding tokens / all slots (1.0 for no rows)."""
        if self.num_slots == 0:
            return 1.0
        return self.num_tokens / self.num_slots


def pack_examples(examples: list[EncodedExample], capacity: int, pad_id: int) -> PackedRows:
    """Pack examples into rows of exactly ``capacity`` tokens (see the module doc)."""
    lengths: list[int] = []
    for i in range(len(examples)):
        lengths.append(len(examples[i].input_ids))
    rows = best_fit_decreasing(lengths, capacity)
    out = PackedRows()
    for r in range(len(rows)):
        members = rows[r]
        ids: list[int] = []
        labels: list[int] = []
        roles: list[int] = []
        pos: list[int] = []
        seq_lens: list[int] = []
        for j in range(len(members)):
            ex = examples[members[j]]
            n = len(ex.input_ids)
            first = len(labels)
            ids.extend(ex.input_ids)
            labels.extend(ex.labels)
            if n > 0 and labels[first] != IGNORE_INDEX:  # no target across documents
                labels[first] = IGNORE_INDEX
                out.first_labels_masked += 1
            roles.extend(ex.role_ids)
            for p in range(n):
                pos.append(p)
            seq_lens.append(n)
        used = len(ids)
        mask = [1] * used
        pad = capacity - used
        for p in range(pad):
            ids.append(pad_id)
            labels.append(IGNORE_INDEX)
            roles.append(ROLE_PADDING)
            pos.append(p)
            mask.append(0)
        out.input_ids.append(ids)
        out.labels.append(labels)
        out.role_ids.append(roles)
        out.position_ids.append(pos)
        out.attention_mask.append(mask)
        out.seq_lens.append(seq_lens)
        out.example_index.append(list(members))
        out.num_tokens += used
        out.num_slots += capacity
    return out
