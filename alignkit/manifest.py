"""Run statistics and ``manifest.json``: what an output folder holds and how it was made.

The manifest is deterministic: keys sorted, no timestamps, no host names, no
absolute paths (inputs are named by the path given, made relative, and their
sha256). Two runs with the same inputs and config write byte-identical
manifests, whatever ``--num-proc``.

    >>> stats = RunStats()
    >>> stats.add_tokens([1, 2, 2], [-100, 5, 6])
    >>> stats.tokens_by_role, stats.trained_by_role
    ([0, 1, 2, 0, 0, 0], [0, 0, 2, 0, 0, 0])
"""

from __future__ import annotations

import json

from alignkit._records import Record
from alignkit._version import __version__
from alignkit.encode import IGNORE_INDEX, ROLE_IDS
from alignkit.tally import NUM_ROLES, add_role_counts, tally_roles

#: Bumped when the layout of output folders changes.
FORMAT_VERSION = 1
_STATS_FIELDS = ("records_in", "written", "rejected", "dropped", "truncated", "zero_trained",
                 "special_in_content", "skipped_blank", "tokens_by_role", "trained_by_role")


class RunStats(Record):
    """Counts of one run; chunks are counted separately and merged in input order.

    A :class:`alignkit._records.Record` rather than a dataclass (``dataclasses`` costs every run
    about 10 ms of imports): it compares equal field by field and shows its fields.

        >>> RunStats(records_in=2, written=1) == RunStats(2, 1), RunStats() == RunStats(written=1)
        (True, False)
    """

    _fields = _STATS_FIELDS

    def __init__(
        self,
        records_in: int = 0,
        written: int = 0,
        rejected: dict[str, int] | None = None,
        dropped: dict[str, int] | None = None,
        truncated: int = 0,
        zero_trained: int = 0,
        special_in_content: int = 0,
        skipped_blank: int = 0,
        tokens_by_role: list[int] | None = None,
        trained_by_role: list[int] | None = None,
    ) -> None:
        self.records_in = records_in
        self.written = written
        self.rejected: dict[str, int] = {} if rejected is None else rejected
        self.dropped: dict[str, int] = {} if dropped is None else dropped
        self.truncated = truncated
        self.zero_trained = zero_trained
        self.special_in_content = special_in_content
        #: Blank lines passed over (``skip_blank``): not records, so not in ``records_in``.
        self.skipped_blank = skipped_blank
        #: Tokens per role id, and trained tokens per role id (index = role id).
        self.tokens_by_role: list[int] = [0] * NUM_ROLES if tokens_by_role is None else tokens_by_role
        self.trained_by_role: list[int] = [0] * NUM_ROLES if trained_by_role is None else trained_by_role

    def add_tokens(self, role_ids: list[int], labels: list[int]) -> None:
        """Count the tokens of one sequence (``labels`` may be shorter: prompt-only parts)."""
        tally_roles(role_ids, labels, self.tokens_by_role, self.trained_by_role)

    def add_counts(self, tokens_by_role: list[int], trained_by_role: list[int]) -> None:
        """Add per-role counts already made (e.g. by the encoder, segment by segment).

            >>> stats = RunStats()
            >>> stats.add_counts([0, 1, 2, 0, 1, 0], [0, 0, 2, 0, 0, 0])
            >>> stats.total_tokens, stats.trained_tokens
            (4, 2)
        """
        add_role_counts(self.tokens_by_role, tokens_by_role)
        add_role_counts(self.trained_by_role, trained_by_role)

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def merge(self, other: RunStats) -> None:
        """Add ``other``'s counts to these."""
        self.records_in += other.records_in
        self.written += other.written
        self.truncated += other.truncated
        self.zero_trained += other.zero_trained
        self.special_in_content += other.special_in_content
        self.skipped_blank += other.skipped_blank
        for mine, theirs in ((self.rejected, other.rejected), (self.dropped, other.dropped)):
            for reason, n in theirs.items():
                mine[reason] = mine.get(reason, 0) + n
        for role in range(NUM_ROLES):
            self.tokens_by_role[role] += other.tokens_by_role[role]
            self.trained_by_role[role] += other.trained_by_role[role]

    @property
    def total_tokens(self) -> int:
        return sum(self.tokens_by_role)

    @property
    def trained_tokens(self) -> int:
        return sum(self.trained_by_role)

    def trained_fraction(self) -> float:
        """Trained tokens / all tokens written (0.0 when nothing was written)."""
        total = self.total_tokens
        return self.trained_tokens / total if total else 0.0

    def counts(self) -> dict[str, object]:
        """The ``counts`` section of the manifest."""
        return {
            "records_in": self.records_in,
            "written": self.written,
            "rejected": dict(sorted(self.rejected.items())),
            "rejected_total": sum(self.rejected.values()),
            "dropped": dict(sorted(self.dropped.items())),
            "dropped_total": sum(self.dropped.values()),
            "truncated": self.truncated,
            "zero_trained": self.zero_trained,
            "special_in_content": self.special_in_content,
            "skipped_blank": self.skipped_blank,
        }

    def tokens(self) -> dict[str, object]:
        """The ``tokens`` section: per role name, tokens and trained tokens."""
        names = {v: k for k, v in ROLE_IDS.items()}
        by_role = {
            names[role]: {"tokens": self.tokens_by_role[role], "trained": self.trained_by_role[role]}
            for role in range(NUM_ROLES)
            if self.tokens_by_role[role]
        }
        return {
            "total": self.total_tokens,
            "trained": self.trained_tokens,
            "trained_fraction": round(self.trained_fraction(), 6),
            "by_role": by_role,
        }


def build_manifest(
    *,
    kind: str,
    stats: RunStats,
    config: dict[str, object],
    inputs: list[dict[str, object]],
    tokenizer: dict[str, object],
    template: dict[str, object],
    columns: dict[str, str],
    files: dict[str, tuple[int, str]],
    packing: dict[str, object] | None,
) -> dict[str, object]:
    """The manifest of one output folder (see the module doc for what it never holds)."""
    return {
        "alignkit_version": __version__,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "inputs": inputs,
        "config": config,
        "config_sha256": sha256_json(config),
        "tokenizer": tokenizer,
        "template": template,
        "counts": stats.counts(),
        "tokens": stats.tokens(),
        "packing": packing,
        "labels": {"ignore_index": IGNORE_INDEX, "shifted": False},
        "role_ids": dict(ROLE_IDS),
        "columns": columns,
        "files": {name: {"bytes": size, "sha256": digest} for name, (size, digest) in sorted(files.items())},
    }


def dumps(manifest: dict[str, object]) -> bytes:
    """Canonical bytes: sorted keys, two-space indent, a final newline."""
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def sha256_json(value: object) -> str:
    """sha256 of the canonical compact JSON of ``value``."""
    import hashlib

    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
