"""Compiled core of BPE training: the merge loop over counted pre-tokens.

The input is the set of distinct pre-tokens ("words", as UTF-8 bytes) with
their counts. Internally token ``b`` (``0 <= b < 256``) is the single byte
``b`` and the ``i``-th merge creates token ``256 + i``; the facade
(:mod:`alignkit.bpe.train`) maps these to the public vocabulary layout.

Algorithm (exact, incremental):

- every distinct word is a list of token ids, with its count;
- ``slot`` = one distinct adjacent pair: its count (summed over words, weighted
  by word counts) and the ids of the words that contain it (may hold stale ids;
  a word is re-checked when visited);
- a binary max-heap of ``(count, slot)`` entries ordered by count, ties by the
  lexicographically greater ``(left bytes, right bytes)``, with lazy
  invalidation: an entry is valid when its count equals the slot's count;
  a stale entry with a higher count is pushed back with the current count;
- a merge ``(a, b) -> n`` visits only the words containing the pair and
  updates only the pairs that touch a merged span: each old pair touching a
  span is decremented once, each new pair containing ``n`` is incremented;
  words are rewritten in place (no allocation per visit).

Only pairs containing the new token ever increase, and they are exactly the
pairs created by the merge, so only those are pushed. A pair whose count
reaches 0 never returns, so its key and word list are dropped.

Also here, because it is the other hot loop of training: :func:`count_pieces`,
pre-token counting with the compiled scanners of :mod:`alignkit.bpe._scan`.
"""

from __future__ import annotations

from typing import Final, cast, final

from alignkit.bpe._scan import classify, next_end

_SHIFT: Final = 32


@final
class MergeTrainer:
    """Learns merges over counted words; see the module docstring.

    Example:
        >>> t = MergeTrainer([b"low", b"lower", b"newest"], [5, 2, 6])
        >>> t.train(2)
        2
        >>> [t.token_bytes[t.merges_left[i]] + t.token_bytes[t.merges_right[i]] for i in range(2)]
        [b'we', b'lo']
    """

    def __init__(self, words: list[bytes], counts: list[int]) -> None:
        if len(words) != len(counts):
            raise ValueError("words and counts must have the same length")
        self.token_bytes: list[bytes] = [bytes([i]) for i in range(256)]
        self.words: list[list[int]] = []
        self.word_counts: list[int] = []
        self.pair_slot: dict[int, int] = {}
        self.slot_left: list[int] = []
        self.slot_right: list[int] = []
        self.slot_lb: list[bytes] = []  # bytes of each slot's left and right token, for the heap
        self.slot_rb: list[bytes] = []
        self.slot_count: list[int] = []
        # Word ids in the index lists are shared boxed objects: storing an int into a
        # list[int] allocates a fresh object per entry, which doubles the index's memory.
        self.slot_words: list[list[object]] = []
        self.no_words: list[object] = []  # shared by dead slots; never appended to
        self.word_refs: list[object] = []
        self.heap_count: list[int] = []
        self.heap_slot: list[int] = []
        self.merges_left: list[int] = []
        self.merges_right: list[int] = []
        self.exhausted: bool = False
        for k in range(len(words)):
            word = words[k]
            if len(word) < 2 or counts[k] <= 0:
                continue
            ids: list[int] = [0] * len(word)
            for j in range(len(word)):
                ids[j] = word[j]
            w = len(self.words)
            self.words.append(ids)
            self.word_counts.append(counts[k])
            self.word_refs.append(w)
            for j in range(len(ids) - 1):
                self._add_pair(ids[j], ids[j + 1], counts[k], w)
        for s in range(len(self.slot_count)):
            self._push(self.slot_count[s], s)

    # -- pair slots -------------------------------------------------------------

    def _add_pair(self, x: int, y: int, count: int, w: int) -> None:
        key = (x << _SHIFT) | y
        s = self.pair_slot.get(key, -1)
        if s < 0:
            s = len(self.slot_left)
            self.pair_slot[key] = s
            self.slot_left.append(x)
            self.slot_right.append(y)
            self.slot_lb.append(self.token_bytes[x])
            self.slot_rb.append(self.token_bytes[y])
            self.slot_count.append(0)
            self.slot_words.append([])
        self.slot_count[s] += count
        members = self.slot_words[s]
        if len(members) == 0 or cast(int, members[len(members) - 1]) != w:
            members.append(self.word_refs[w])

    def _sub_pair(self, x: int, y: int, count: int) -> None:
        key = (x << _SHIFT) | y
        s = self.pair_slot[key]
        left = self.slot_count[s] - count
        self.slot_count[s] = left
        if left == 0:
            # A pair whose count reaches 0 never comes back (a merge only makes pairs with
            # the new token), so its key and word list can go: memory stays lower at 32K.
            del self.pair_slot[key]
            self.slot_words[s] = self.no_words

    # -- heap ---------------------------------------------------------------------

    def _above(self, c1: int, s1: int, c2: int, s2: int) -> bool:
        """Whether entry (c1, s1) outranks (c2, s2): higher count, then greater pair bytes."""
        if c1 != c2:
            return c1 > c2
        l1 = self.slot_lb[s1]
        l2 = self.slot_lb[s2]
        if l1 != l2:
            return l1 > l2
        return self.slot_rb[s1] > self.slot_rb[s2]

    def _push(self, count: int, slot: int) -> None:
        hc = self.heap_count
        hs = self.heap_slot
        i = len(hc)
        hc.append(count)
        hs.append(slot)
        while i > 0:
            parent = (i - 1) >> 1
            if not self._above(count, slot, hc[parent], hs[parent]):
                break
            hc[i] = hc[parent]
            hs[i] = hs[parent]
            i = parent
        hc[i] = count
        hs[i] = slot

    def _pop_into_top(self) -> None:
        """Remove the heap's root (the caller has read it).

        Bottom-up: the hole goes down to a leaf along the larger children (one
        comparison per level), then the last entry rises from there (rarely far).
        """
        hc = self.heap_count
        hs = self.heap_slot
        last_c = hc.pop()
        last_s = hs.pop()
        n = len(hc)
        if n == 0:
            return
        i = 0
        child = 1
        while child < n:
            right = child + 1
            if right < n and self._above(hc[right], hs[right], hc[child], hs[child]):
                child = right
            hc[i] = hc[child]
            hs[i] = hs[child]
            i = child
            child = 2 * i + 1
        while i > 0:
            parent = (i - 1) >> 1
            if not self._above(last_c, last_s, hc[parent], hs[parent]):
                break
            hc[i] = hc[parent]
            hs[i] = hs[parent]
            i = parent
        hc[i] = last_c
        hs[i] = last_s

    def _best_slot(self) -> int:
        """The slot of the pair to merge next, or -1 when no pair is left."""
        hc = self.heap_count
        hs = self.heap_slot
        while len(hc) > 0:
            c = hc[0]
            s = hs[0]
            self._pop_into_top()
            cur = self.slot_count[s]
            if c == cur and cur > 0:
                return s
            if c > cur and cur > 0:
                self._push(cur, s)
        return -1

    # -- merging ------------------------------------------------------------------

    def _merge_word(self, w: int, a: int, b: int, n: int) -> None:
        """Merge every ``(a, b)`` of word ``w`` into ``n`` in place, updating pair counts."""
        toks = self.words[w]
        size = len(toks)
        first = -1
        prev = toks[0]
        for i in range(1, size):
            cur = toks[i]
            if prev == a and cur == b:
                first = i - 1
                break
            prev = cur
        if first < 0:
            return  # stale index entry
        count = self.word_counts[w]
        # Compact in place: write position j <= read position i, so toks[i - 1] (when not
        # just merged) and toks[i + 2] still hold the old tokens when they are read.
        # The merged pair itself is not decremented: its slot is zeroed by the caller.
        # Positions before the first merge are not rewritten (storing an int boxes it).
        last_end = -2  # read index of the last token of the previous merged span
        i = first
        j = first
        while i < size:
            t = toks[i]
            if t == a and i + 1 < size and toks[i + 1] == b:
                if i > 0 and last_end != i - 1:
                    self._sub_pair(toks[i - 1], a, count)
                if i + 2 < size:
                    self._sub_pair(b, toks[i + 2], count)
                toks[j] = n
                last_end = i + 1
                i += 2
            else:
                if j != i:
                    toks[j] = t
                i += 1
            j += 1
        del toks[j:]
        start = first - 1 if first > 0 else 0  # new pairs begin at the first merge
        x = toks[start]
        for k in range(start, j - 1):
            y = toks[k + 1]
            if x == n or y == n:
                self._add_pair(x, y, count, w)
            x = y

    def merge_once(self) -> bool:
        """Learn one merge; False (and ``exhausted`` set) when no pair is left."""
        s = self._best_slot()
        if s < 0:
            self.exhausted = True
            return False
        a = self.slot_left[s]
        b = self.slot_right[s]
        n = len(self.token_bytes)
        self.token_bytes.append(self.token_bytes[a] + self.token_bytes[b])
        self.merges_left.append(a)
        self.merges_right.append(b)
        # Every index list holds distinct words: a word joins a pair's list only in the
        # step that creates the pair (all new pairs contain the new token), once.
        members = self.slot_words[s]
        self.slot_words[s] = []
        first_new = len(self.slot_left)
        for k in range(len(members)):
            self._merge_word(cast(int, members[k]), a, b, n)
        self.slot_count[s] = 0
        self.pair_slot.pop((a << _SHIFT) | b, 0)
        for f in range(first_new, len(self.slot_left)):
            c = self.slot_count[f]
            if c > 0:
                self._push(c, f)
        return True

    def train(self, max_merges: int) -> int:
        """Learn up to ``max_merges`` more merges; returns how many were learned."""
        done = 0
        while done < max_merges and self.merge_once():
            done += 1
        return done


def count_pieces(kind: int, data: bytes, counts: dict[bytes, int], keep_last: bool) -> int:
    """Add the pre-tokens of ``data`` (split by compiled scanner ``kind``) to ``counts``.

    With ``keep_last`` the last TWO pieces are not counted (more text may join
    them: ``'`` and ``l`` become the contraction ``'ll``; a backtracking ``\\s*[\\r\\n]+``
    ends early at the text's end) and the start of the first of them is
    returned; otherwise everything is counted and ``len(data)`` is returned.

    Example:
        >>> from alignkit.bpe._scan import KIND_GPT2
        >>> counts: dict[bytes, int] = {}
        >>> count_pieces(KIND_GPT2, b"the cat the ca", counts, True)
        7
        >>> counts
        {b'the': 1, b' cat': 1}
    """
    cls = classify(data)
    n = len(data)
    i = 0
    pending = -1  # start of the previous piece, counted once the next one is known
    while i < n:
        end = next_end(kind, data, cls, i)
        if keep_last and end >= n:
            return pending if pending >= 0 else i
        if pending >= 0:
            piece = data[pending:i]
            counts[piece] = counts.get(piece, 0) + 1
        pending = i
        i = end
    if pending >= 0:
        piece = data[pending:n]
        counts[piece] = counts.get(piece, 0) + 1
    return n
