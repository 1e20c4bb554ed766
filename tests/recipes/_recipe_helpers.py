"""Small builders shared by the recipe tests."""

from __future__ import annotations

from alignkit.recipes.items import Candidate, Context, Group, Item
from alignkit.records import ChatExample, Turn


def item(uid: str, prompt: str, response: str, source: str = "s", **meta: object) -> Item:
    ex = ChatExample.model_validate({
        "turns": [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}],
        "metadata": meta,
    })
    return Item(uid, source, ex)


def group(uid: str, scores: list[float], texts: list[str] | None = None, source: str = "s") -> Group:
    texts = texts or [f"answer {i}" for i in range(len(scores))]
    return Group(uid, source, [Turn(role="user", content=f"prompt {uid}")],
                 [Candidate(t, s) for t, s in zip(texts, scores)])


def ctx(seed: int = 0) -> Context:
    return Context(seed=seed, step_index=1)
