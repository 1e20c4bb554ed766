"""The units a recipe moves around: SFT items, response groups, pairs, and drops.

Every input record gets a stable id ``uid`` (``source:line``), and every record
that does not reach the output leaves a :class:`Drop` naming the step and reason.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from alignkit.records import ChatExample, PreferenceExample, Turn


@dataclass(frozen=True)
class Item:
    """One SFT record on its way through a recipe."""

    uid: str
    source: str
    record: ChatExample


@dataclass(frozen=True)
class Candidate:
    """One response to a prompt, with its score or its aspect ratings."""

    text: str
    score: float | None = None
    ratings: dict[str, float] = field(default_factory=dict)
    label: str = ""


@dataclass(frozen=True)
class Group:
    """A prompt with two or more scored responses (the input of pair building)."""

    uid: str
    source: str
    history: list[Turn]
    candidates: list[Candidate]
    #: The input record's own metadata (JSON values), kept on its pairs.
    metadata: dict[str, Any] = field(default_factory=dict)
    #: The input record's own ``id``, when it has one (its pairs' ids; else ``uid``).
    record_id: str | None = None


@dataclass(frozen=True)
class Pair:
    """A built preference pair, before positions are assigned."""

    uid: str
    source: str
    history: list[Turn]
    chosen: Candidate
    rejected: Candidate
    chosen_score: float
    rejected_score: float
    metadata: dict[str, Any] = field(default_factory=dict)
    record_id: str | None = None

    def to_example(self, chosen_is_a: bool) -> PreferenceExample:
        """The :class:`PreferenceExample` with ``chosen`` on "a" or on "b"."""
        c, r = self.chosen, self.rejected
        a, b = (c, r) if chosen_is_a else (r, c)
        sa, sb = (
            (self.chosen_score, self.rejected_score) if chosen_is_a
            else (self.rejected_score, self.chosen_score)
        )
        meta: dict[str, Any] = dict(self.metadata)
        if a.label:
            meta["label_a"] = a.label
        if b.label:
            meta["label_b"] = b.label
        return PreferenceExample.model_validate({
            "history": self.history, "response_a": a.text, "response_b": b.text,
            "chosen": "a" if chosen_is_a else "b", "score_a": sa, "score_b": sb,
            "id": self.record_id or self.uid, "source": self.source, "metadata": meta,
        })


@dataclass(frozen=True)
class Drop:
    """Why one record (or group, or pair) left the recipe.

    ``payload`` is the dropped unit itself (an :class:`Item`, :class:`Group`,
    :class:`Pair`, or the raw input row of a rejected line) for the dropped file.
    """

    uid: str
    source: str
    step: str
    reason: str
    detail: str = ""
    payload: Any = field(default=None, compare=False, repr=False)

    def to_dict(self, with_record: bool = False) -> dict[str, Any]:
        """The JSON form; ``with_record`` adds the dropped record (``record``) when known."""
        out: dict[str, Any] = {"id": self.uid, "source": self.source, "step": self.step, "reason": self.reason}
        if self.detail:
            out["detail"] = self.detail
        if with_record and self.payload is not None:
            out["record"] = _payload_json(self.payload)
        return out


def _payload_json(unit: Any) -> Any:
    if isinstance(unit, Item):
        return unit.record.model_dump(mode="json", exclude_defaults=True)
    if isinstance(unit, Group | Pair):
        history = [t.model_dump(mode="json", exclude_defaults=True) for t in unit.history]
        if isinstance(unit, Pair):
            return {"history": history, "chosen": unit.chosen.text, "rejected": unit.rejected.text,
                    "chosen_score": unit.chosen_score, "rejected_score": unit.rejected_score}
        return {"history": history, "responses": [
            {"text": c.text, "score": c.score, "ratings": c.ratings, "label": c.label} for c in unit.candidates]}
    return unit


@dataclass
class Context:
    """What a step needs besides its records: the seed, a token counter, progress bars."""

    seed: int
    step_index: int = 0
    count_tokens: Callable[[str], int] | None = None
    progress: bool = False

    def rng(self) -> random.Random:
        """A generator seeded by the recipe seed and the step's position (stable across runs)."""
        return random.Random(f"{self.seed}:{self.step_index}")

    def bar(self, total: int, desc: str) -> Any:
        """A tqdm progress bar on stderr (unless ``progress`` is off, or stderr is not a terminal:
        a CI log gets no bar lines)."""
        from tqdm import tqdm

        off = not self.progress or total < 2000
        return tqdm(total=total, desc=desc, disable=True if off else None,
                    file=sys.stderr, unit="rec", leave=False)
