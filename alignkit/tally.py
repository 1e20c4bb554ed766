"""Per-role token counts of encoded sequences (compiled: it runs over every token).

    >>> totals, trained = [0] * NUM_ROLES, [0] * NUM_ROLES
    >>> tally_roles([1, 2, 2, 4], [-100, 7, 8, -100], totals, trained)
    >>> totals, trained
    ([0, 1, 2, 0, 1, 0], [0, 0, 2, 0, 0, 0])
"""

from __future__ import annotations

from typing import Final

from alignkit.encode import IGNORE_INDEX, ROLE_IDS

#: Number of role ids (``0 .. NUM_ROLES - 1``, see :data:`alignkit.encode.ROLE_IDS`).
NUM_ROLES: Final = len(ROLE_IDS)


def tally_roles(role_ids: list[int], labels: list[int], totals: list[int], trained: list[int]) -> None:
    """Add each token to ``totals[role]``, and to ``trained[role]`` when its label is not -100.

    ``labels`` may be shorter than ``role_ids`` (e.g. ``[]`` for a prompt): missing
    labels count as untrained.
    """
    n_labels = len(labels)
    n_roles = len(totals)
    for i in range(len(role_ids)):
        role = role_ids[i]
        if role < 0 or role >= n_roles:
            raise ValueError(f"role id {role} is outside 0..{n_roles - 1}")
        totals[role] += 1
        if i < n_labels and labels[i] != IGNORE_INDEX:
            trained[role] += 1


def add_role_counts(into: list[int], more: list[int]) -> None:
    """Add ``more[role]`` to ``into[role]`` for every role (counts made elsewhere, e.g. by the encoder).

        >>> into = [1, 0, 0, 0, 0, 0]
        >>> add_role_counts(into, [1, 2, 0, 0, 0, 3])
        >>> into
        [2, 2, 0, 0, 0, 3]
    """
    if len(more) != len(into):
        raise ValueError(f"{len(more)} role counts, expected {len(into)}")
    for role in range(len(into)):
        into[role] += more[role]
