"""Segments → training arrays (compiled).

SEED: the data types below are the contract between the serializer (templates,
encode) and packing/writers. Fields may be added; do not rename these.

Role ids (``role_ids``), a documented enum written into every manifest::

    0 system · 1 user · 2 assistant · 3 tool · 4 template (glue the chat template adds:
    BOS, headers, separators) · 5 padding

Labels follow the Hugging Face convention: the token id where trained, ``-100``
(``IGNORE_INDEX``) where not. Labels are *not* shifted; the trainer shifts.
"""

from __future__ import annotations

from typing import Final, final

IGNORE_INDEX: Final = -100

ROLE_SYSTEM: Final = 0
ROLE_USER: Final = 1
ROLE_ASSISTANT: Final = 2
ROLE_TOOL: Final = 3
ROLE_TEMPLATE: Final = 4
ROLE_PADDING: Final = 5

#: Role name → role id, as written into manifests.
ROLE_IDS: Final[dict[str, int]] = {
    "system": ROLE_SYSTEM,
    "user": ROLE_USER,
    "assistant": ROLE_ASSISTANT,
    "tool": ROLE_TOOL,
    "template": ROLE_TEMPLATE,
    "padding": ROLE_PADDING,
}


@final
class EncodedExample:
    """One tokenized sequence: three parallel arrays of equal length.

    ``attention_mask`` is all ones before padding, so it is not stored here.
    """

    def __init__(self, input_ids: list[int], labels: list[int], role_ids: list[int]) -> None:
        self.input_ids: list[int] = input_ids
        self.labels: list[int] = labels
        self.role_ids: list[int] = role_ids

    def __len__(self) -> int:
        return len(self.input_ids)

    def num_trained(self) -> int:
        n = 0
        for label in self.labels:
            if label != IGNORE_INDEX:
                n += 1
        return n
