"""Truncation to ``max_seq_len`` with a named policy (compiled).

One function cuts every parallel array of an example at once, so ``input_ids``,
``labels`` and ``role_ids`` can never drift apart. The policy is named:

* ``drop``: an example longer than the budget is dropped;
* ``truncate``: it keeps its first ``max_seq_len`` tokens;
* ``error``: it is an error of that record (the pipeline reports ``path:line``).

Nothing here is silent: every call returns a status (:data:`KEPT`,
:data:`TRUNCATED`, :data:`DROPPED`, :data:`TOO_LONG`, :data:`PROMPT_TOO_LONG`)
that the pipeline counts into the manifest.

Preference pairs keep the prompt identical on both sides: only the responses are
cut. When the prompt alone fills the budget (``len(prompt) >= max_seq_len``, so no
response token would be left), the whole pair is dropped with
:data:`PROMPT_TOO_LONG` (or is an error under the ``error`` policy): a pair whose
two sides are the same truncated prompt carries no preference.

    >>> from alignkit.encode import EncodedExample
    >>> ex = EncodedExample([1, 2, 3], [-100, 2, 3], [1, 2, 2])
    >>> status, out = truncate_example(ex, 2, "truncate")
    >>> status == TRUNCATED, out.input_ids, out.labels
    (True, [1, 2], [-100, 2])
"""

from __future__ import annotations

from typing import Final

from alignkit.encode import EncodedExample

#: Policy names, in the order ``--help`` lists them.
POLICIES: Final = ("drop", "truncate", "error")

#: The example fits the budget and is unchanged.
KEPT: Final = 0
#: The example was cut to the budget (``truncate`` policy).
TRUNCATED: Final = 1
#: The example was dropped (``drop`` policy).
DROPPED: Final = 2
#: The example is too long and the policy is ``error``.
TOO_LONG: Final = 3
#: A preference pair whose prompt alone fills the budget; dropped.
PROMPT_TOO_LONG: Final = 4

#: Status → name, as counted in manifests.
STATUS_NAMES: Final[dict[int, str]] = {
    KEPT: "kept",
    TRUNCATED: "truncated",
    DROPPED: "dropped",
    TOO_LONG: "too_long",
    PROMPT_TOO_LONG: "prompt_too_long",
}


def check_policy(policy: str) -> None:
    """Raise ``ValueError`` naming the valid choices for an unknown policy.

        >>> check_policy("truncate")
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown truncation policy {policy!r}; use one of {', '.join(POLICIES)}")


def cut_arrays(arrays: list[list[int]], length: int) -> list[list[int]]:
    """The first ``length`` items of every array (all arrays are parallel).

        >>> cut_arrays([[1, 2, 3], [4, 5, 6]], 2)
        [[1, 2], [4, 5]]
    """
    out: list[list[int]] = []
    for i in range(len(arrays)):
        out.append(arrays[i][:length])
    return out


def _cut(ex: EncodedExample, length: int) -> EncodedExample:
    parts = cut_arrays([ex.input_ids, ex.labels, ex.role_ids], length)
    return EncodedExample(parts[0], parts[1], parts[2])


def truncate_example(
    ex: EncodedExample, max_seq_len: int, policy: str
) -> tuple[int, EncodedExample | None]:
    """Apply ``policy`` to one example; ``max_seq_len <= 0`` means no limit.

    Returns ``(status, example)``; the example is ``None`` when it is not kept
    (:data:`DROPPED`, :data:`TOO_LONG`).

        >>> truncate_example(EncodedExample([1, 2, 3], [1, 2, 3], [2, 2, 2]), 2, "drop")
        (2, None)
    """
    check_policy(policy)
    if max_seq_len <= 0 or len(ex.input_ids) <= max_seq_len:
        return KEPT, ex
    if policy == "drop":
        return DROPPED, None
    if policy == "error":
        return TOO_LONG, None
    return TRUNCATED, _cut(ex, max_seq_len)


def truncate_pair(
    prompt_len: int,
    chosen: EncodedExample,
    rejected: EncodedExample,
    max_seq_len: int,
    policy: str,
) -> tuple[int, EncodedExample | None, EncodedExample | None]:
    """Apply ``policy`` to a preference pair; the prompt stays identical on both sides.

    ``chosen`` and ``rejected`` are full sequences (prompt + response) that share
    their first ``prompt_len`` tokens. Responses are cut first; a prompt that
    fills the budget on its own gives :data:`PROMPT_TOO_LONG` (or
    :data:`TOO_LONG` under ``error``).

        >>> c = EncodedExample([7, 8, 1, 2, 3], [-100, -100, 1, 2, 3], [1, 1, 2, 2, 2])
        >>> r = EncodedExample([7, 8, 4], [-100, -100, 4], [1, 1, 2])
        >>> status, c2, r2 = truncate_pair(2, c, r, 3, "truncate")
        >>> status == TRUNCATED, c2.input_ids, r2.input_ids
        (True, [7, 8, 1], [7, 8, 4])
    """
    check_policy(policy)
    if max_seq_len <= 0 or (len(chosen) <= max_seq_len and len(rejected) <= max_seq_len):
        return KEPT, chosen, rejected
    if policy == "error":
        return TOO_LONG, None, None
    if prompt_len >= max_seq_len:
        return PROMPT_TOO_LONG, None, None
    if policy == "drop":
        return DROPPED, None, None
    c = chosen if len(chosen) <= max_seq_len else _cut(chosen, max_seq_len)
    r = rejected if len(rejected) <= max_seq_len else _cut(rejected, max_seq_len)
    return TRUNCATED, c, r
