"""Turn-order rules shared by the chat adapters (OpenAI, ShareGPT, HH-RLHF, TRL).

Two real-world problems are reported, not silently fixed:

* **consecutive turns of one role** (``user`` then ``user``): rejected as
  ``consecutive_roles``; with ``merge_consecutive`` they are joined with a blank
  line and the row gets the note ``merged_consecutive``. Consecutive ``tool`` turns
  (several tool results in a row) are normal and left alone.
* **assistant turns before the first user turn** (after an optional system turn):
  rejected as ``leading_assistant``; with ``drop_leading_assistant`` they are dropped
  and the row gets the note ``dropped_leading_assistant``.

Example::

    >>> from alignkit.io.adapters._common import ConvertOptions
    >>> turns = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
    ...          {"role": "assistant", "content": "c"}]
    >>> notes: list[str] = []
    >>> tidy_turns(turns, ["m.0", "m.1", "m.2"], ConvertOptions(merge_consecutive=True), notes)
    [{'role': 'user', 'content': 'a\\n\\nb'}, {'role': 'assistant', 'content': 'c'}]
    >>> notes
    ['merged_consecutive']
"""

from __future__ import annotations

from typing import Final

from alignkit.io.adapters._common import ConvertOptions, RowProblem

#: Separator used when consecutive same-role turns are merged.
MERGE_SEPARATOR: Final = "\n\n"


def tidy_turns(
    turns: list[dict[str, object]],
    locs: list[str],
    options: ConvertOptions,
    notes: list[str],
) -> list[dict[str, object]]:
    """Apply the turn-order rules to ``turns`` (``locs[i]`` is the source path of turn i).

    Returns:
        The turns, possibly with leading assistant turns dropped or same-role runs
        merged (only when the options ask for it; each fix is appended to ``notes``).

    Raises:
        RowProblem: ``leading_assistant`` or ``consecutive_roles`` when not fixed, or
            ``merge_conflict`` when turns to merge carry ``train``/``reasoning``.
    """
    start = 1 if turns and turns[0].get("role") == "system" else 0
    first_user = start
    while first_user < len(turns) and turns[first_user].get("role") == "assistant":
        first_user += 1
    if first_user > start:
        if not options.drop_leading_assistant:
            raise RowProblem(
                locs[start],
                "the conversation starts with an assistant turn before any user turn;"
                " fix the data or pass --drop-leading-assistant",
                "leading_assistant",
            )
        turns = turns[:start] + turns[first_user:]
        locs = locs[:start] + locs[first_user:]
        notes.append("dropped_leading_assistant")
    out: list[dict[str, object]] = []
    merged = False
    for i, turn in enumerate(turns):
        role = turn.get("role")
        if out and role != "tool" and out[-1].get("role") == role:
            if not options.merge_consecutive:
                raise RowProblem(
                    locs[i],
                    f"two {role} turns in a row (this one and the previous); merge or"
                    " remove one, or pass --merge-consecutive",
                    "consecutive_roles",
                )
            prev = out[-1]
            if len(prev) > 2 or len(turn) > 2:
                raise RowProblem(
                    locs[i],
                    f"cannot merge consecutive {role} turns that carry 'train' or"
                    " 'reasoning'; fix the data",
                    "merge_conflict",
                )
            out[-1] = {
                "role": role,
                "content": f"{prev['content']}{MERGE_SEPARATOR}{turn['content']}",
            }
            merged = True
            continue
        out.append(turn)
    if merged:
        notes.append("merged_consecutive")
    return out
