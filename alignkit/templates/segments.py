"""Segments: the unit a chat template renders into and the encoder turns into ids (compiled).

A rendered conversation is a flat list of :class:`Segment`. Each one is either
``TEXT`` (encoded with ``encode_ordinary``, so whatever it contains it never yields a
special id) or ``SPECIAL`` (the exact spelling of one special token, looked up by id).
Every segment carries the role id of the tokens it will produce (the enum in
:mod:`alignkit.encode`) and whether those tokens are trained. Masks are therefore
decided here, at render time, from structure alone.

    >>> seg = Segment(2, KIND_TEXT, "Hello!", True)
    >>> (seg.role, seg.kind == KIND_TEXT, seg.text, seg.trained)
    (2, True, 'Hello!', True)
"""

from __future__ import annotations

from typing import Final, final

# Role ids (re-exported by ``alignkit.encode``, whose docstring documents the enum).
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

#: Ordinary text: encoded with ``encode_ordinary``.
KIND_TEXT: Final = 0
#: One special token, named by its exact spelling (e.g. ``<|im_end|>``).
KIND_SPECIAL: Final = 1


@final
class Segment:
    """One run of template output with a single role and a single trained flag.

    Args:
        role: role id of its tokens (``alignkit.encode.ROLE_*``; 4 = template glue).
        kind: :data:`KIND_TEXT` or :data:`KIND_SPECIAL`.
        text: the text, or the special token's spelling.
        trained: whether its tokens get labels (``True``) or ``-100``.
    """

    def __init__(self, role: int, kind: int, text: str, trained: bool) -> None:
        self.role: int = role
        self.kind: int = kind
        self.text: str = text
        self.trained: bool = trained

    def same_as(self, other: Segment) -> bool:
        """Equal role, kind, text and trained flag."""
        return (
            self.role == other.role
            and self.kind == other.kind
            and self.text == other.text
            and self.trained == other.trained
        )

    def __repr__(self) -> str:
        kind = "SPECIAL" if self.kind == KIND_SPECIAL else "TEXT"
        return f"Segment(role={self.role}, {kind}, {self.text!r}, trained={self.trained})"


class SegmentSink:
    """Where a renderer writes its segments: one :meth:`emit` per segment, in order.

    :class:`SegmentList` keeps them as :class:`Segment` objects; the pipeline's column
    buffer (:class:`alignkit.sft_buffer.SftBuffer`) encodes each one as it arrives, so a
    record's segments are never materialized.
    """

    def emit(self, role: int, kind: int, text: str, trained: bool) -> None:
        """Take the next segment (the fields of ``Segment(role, kind, text, trained)``)."""
        raise NotImplementedError

    def emit_pieces(self, pieces: list[tuple[int, str]], start: int, stop: int, role: int,
                    trained: bool) -> None:
        """:meth:`emit` each ``(kind, text)`` of ``pieces[start:stop]`` with ``role`` and
        ``trained``, skipping empty texts (a template's header or footer pieces)."""
        for k in range(start, min(stop, len(pieces))):
            kind, text = pieces[k]
            if text:
                self.emit(role, kind, text, trained)


@final
class SegmentList(SegmentSink):
    """A sink that keeps the segments, in order, in :attr:`segments`.

        >>> sink = SegmentList()
        >>> sink.emit(1, KIND_TEXT, "Hi", False)
        >>> sink.segments
        [Segment(role=1, TEXT, 'Hi', trained=False)]
    """

    def __init__(self) -> None:
        self.segments: list[Segment] = []

    def emit(self, role: int, kind: int, text: str, trained: bool) -> None:
        self.segments.append(Segment(role, kind, text, trained))


def segments_text(segments: list[Segment]) -> str:
    """The rendered string: the concatenation of every segment's text.

    This is what a text-based renderer (e.g. Jinja) would produce; it is used to
    compare templates, never to derive ids or masks.

        >>> segments_text([Segment(4, KIND_SPECIAL, "<|im_start|>", False),
        ...                Segment(4, KIND_TEXT, "user\\n", False)])
        '<|im_start|>user\\n'
    """
    parts: list[str] = []
    for seg in segments:
        parts.append(seg.text)
    return "".join(parts)
