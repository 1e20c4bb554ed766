"""Hypothesis strategies shared by the structural-check tests (SFT and preference records):
JSON-like values that are mostly valid records, sometimes anything."""

from __future__ import annotations

from hypothesis import strategies as st

TEXT = st.sampled_from(["Hi", "", "  ", "\n", "x y", "caf\u00e9", "\u3000", "</think>a", "<|im_end|>"])
ROLE = st.sampled_from(["user", "assistant", "user", "assistant", "tool", "system", "bot"])


def scalars(*, nan: bool, big: int) -> st.SearchStrategy[object]:
    """None, booleans, small ints, floats (NaN only if ``nan``), texts and one ``big`` int."""
    return st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=nan), TEXT,
                     st.just(big))


def maybe(d: dict[str, object], key: str, value: object, present: bool) -> None:
    """``d[key] = value`` when ``present``."""
    if present:
        d[key] = value


def usually(draw: st.DrawFn, good: st.SearchStrategy[object], bad: st.SearchStrategy[object]) -> object:
    """Mostly a valid value, sometimes anything (so both branches of the check are exercised)."""
    return draw(bad) if draw(st.integers(0, 40)) == 0 else draw(good)


@st.composite
def turn(draw: st.DrawFn, scalar: st.SearchStrategy[object]) -> object:
    """A turn: mostly a valid one, with optional keys, sometimes a wrong type or an extra key."""
    if draw(st.integers(0, 40)) == 0:
        return draw(scalar)
    d: dict[str, object] = {}
    maybe(d, "role", usually(draw, ROLE, scalar), draw(st.integers(0, 30)) > 0)
    maybe(d, "content", usually(draw, st.sampled_from(["Hi", "x y", "caf\u00e9", "</think>a"]),
                                st.one_of(TEXT, scalar)), draw(st.integers(0, 30)) > 0)
    maybe(d, "train", usually(draw, st.one_of(st.none(), st.booleans()), scalar),
          draw(st.integers(0, 3)) == 0)
    maybe(d, "reasoning", usually(draw, st.one_of(st.none(), TEXT), scalar), draw(st.integers(0, 5)) == 0)
    maybe(d, "extra", 1, draw(st.integers(0, 40)) == 0)
    return d
