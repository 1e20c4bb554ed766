"""Render conversations into segments, with masks decided from structure (compiled).

Input turns are plain tuples ``(role, content, train, reasoning)`` (see
:func:`alignkit.templates.chat.turn_tuples`), so this module never touches pydantic.

Masking policies (``policy``):

* ``all_assistant`` (default): every assistant turn is trained.
* ``last_assistant``: only the last assistant turn is trained.
* ``everything``: every token is trained (glue, BOS, every role), padding excepted.

A turn's ``train`` flag overrides the policy: ``True`` trains it, ``False`` never does.
A trained turn trains its content and its end-of-turn token(s) (the spec's
``eot_pieces``: ``<|im_end|>``, ``<|eot_id|>``, EOS), which take the turn's role id.
Everything else the template adds is glue (role id 4), trained only under
``everything``; in particular ChatML's ``"\\n"`` after ``<|im_end|>`` is glue and not
trained, as in TRL's ``{% generation %}`` training templates: a model stops at
``<|im_end|>`` and never generates that newline. A default system prompt the template
adds (the Alpaca preamble) is glue too: it comes from the template, not the data.

Qwen3 (``spec.qwen3``) follows the template in Qwen3's ``tokenizer_config.json``: an
assistant turn after the last user query gets ``<think>\\n{reasoning}\\n</think>\\n\\n``
when it is the last message or has reasoning; reasoning of earlier turns is dropped;
``</think>`` inside content is split into reasoning and content as the template does.
A think block with reasoning is trained with its turn (the model must learn to write
it). The *empty* block ``<think>\\n\\n</think>\\n\\n`` is glue, not trained: the
template adds it, not the data, and it is exactly what the ``enable_thinking=False``
inference prompt feeds the model, so training on non-reasoning data does not teach
the model to skip thinking.

    >>> from alignkit.templates.specs import CHATML
    >>> segs = render(CHATML, [("user", "Hi", None, None), ("assistant", "Hello", None, None)])
    >>> [(s.text, s.trained) for s in segs][-3:]
    [('Hello', True), ('<|im_end|>', True), ('\\n', False)]
"""

from __future__ import annotations

from typing import Final, Optional

from alignkit.errors import TemplateError
from alignkit.templates.segments import (
    KIND_SPECIAL,
    KIND_TEXT,
    ROLE_ASSISTANT,
    ROLE_IDS,
    ROLE_TEMPLATE,
    ROLE_TOOL,
    Segment,
    SegmentList,
    SegmentSink,
)
from alignkit.templates.specs import ChatSpec, Piece

#: ``(role, content, train, reasoning)``: a turn as plain data.
TurnTuple = tuple[str, str, Optional[bool], Optional[str]]

POLICY_ALL_ASSISTANT: Final = "all_assistant"
POLICY_LAST_ASSISTANT: Final = "last_assistant"
POLICY_EVERYTHING: Final = "everything"
POLICIES: Final[tuple[str, ...]] = (POLICY_ALL_ASSISTANT, POLICY_LAST_ASSISTANT, POLICY_EVERYTHING)
#: Short names accepted too (the CLI's ``--mask assistant|last|all``).
POLICY_ALIASES: Final[dict[str, str]] = {
    "assistant": POLICY_ALL_ASSISTANT,
    "last": POLICY_LAST_ASSISTANT,
    "all": POLICY_EVERYTHING,
}

#: Qwen3's empty think block, template glue: one piece run, so a sink that caches the ids
#: of fixed runs (:meth:`alignkit.sft_buffer.SftBuffer.emit_pieces`) appends it at once.
_EMPTY_THINK: Final[list[Piece]] = [(KIND_SPECIAL, "<think>"), (KIND_TEXT, "\n\n"),
                                    (KIND_SPECIAL, "</think>"), (KIND_TEXT, "\n\n")]


def policy_name(policy: str) -> str:
    """The canonical policy name of ``policy`` (aliases resolved).

    Raises:
        TemplateError: unknown policy.

        >>> policy_name("last")
        'last_assistant'
    """
    name = POLICY_ALIASES.get(policy, policy)
    if name not in POLICIES:
        raise TemplateError(
            f"unknown masking policy {policy!r}; use one of {', '.join(POLICIES)}"
            " (or assistant, last, all)"
        )
    return name


def _pieces(out: SegmentSink, pieces: list[Piece], start: int, stop: int, role: int,
            trained: bool) -> None:
    out.emit_pieces(pieces, start, stop, role, trained)


def _turn(out: SegmentSink, spec: ChatSpec, role: str, content: str, role_id: int,
          trained: bool, glue: bool) -> None:
    """Header, content and footer of one ordinary turn."""
    header = spec.header[role]
    _pieces(out, header, 0, len(header), ROLE_TEMPLATE, glue)
    if content:
        out.emit(role_id, KIND_TEXT, content, trained)
    footer = spec.footer[role]
    _pieces(out, footer, 0, spec.eot_pieces, role_id, trained)
    _pieces(out, footer, spec.eot_pieces, len(footer), ROLE_TEMPLATE, glue)


def is_trained(role: str, train: Optional[bool], index: int, last_assistant: int,
                policy: str) -> bool:
    if train is not None:
        return train
    if policy == POLICY_EVERYTHING:
        return True
    if role != "assistant":
        return False
    if policy == POLICY_LAST_ASSISTANT:
        return index == last_assistant
    return True


def _qwen3_last_query(turns: list[TurnTuple]) -> int:
    """Index of the last user turn that is not a wrapped tool response (Qwen3's rule)."""
    i = len(turns) - 1
    while i >= 0:
        role, content, _, _ = turns[i]
        if role == "user" and not (
            content.startswith("<tool_response>") and content.endswith("</tool_response>")
        ):
            return i
        i -= 1
    return len(turns) - 1


def _qwen3_assistant(out: SegmentSink, spec: ChatSpec, content: str, reasoning: Optional[str],
                     think: bool, is_last: bool, trained: bool, glue: bool) -> None:
    r = ""
    if reasoning is not None:
        r = reasoning
    elif "<" in content and "</think>" in content:  # memchr first: most content has no "<"
        parts = content.split("</think>")
        r = parts[0].rstrip("\n").split("<think>")[-1].lstrip("\n")
        content = parts[-1].lstrip("\n")
    header = spec.header["assistant"]
    _pieces(out, header, 0, len(header), ROLE_TEMPLATE, glue)
    if think and (is_last or r != ""):
        body = r.strip("\n")
        if body:
            out.emit(ROLE_ASSISTANT, KIND_SPECIAL, "<think>", trained)
            out.emit(ROLE_ASSISTANT, KIND_TEXT, "\n" + body + "\n", trained)
            out.emit(ROLE_ASSISTANT, KIND_SPECIAL, "</think>", trained)
            out.emit(ROLE_ASSISTANT, KIND_TEXT, "\n\n", trained)
        else:
            _pieces(out, _EMPTY_THINK, 0, len(_EMPTY_THINK), ROLE_TEMPLATE, glue)
        content = content.lstrip("\n")
    if content:
        out.emit(ROLE_ASSISTANT, KIND_TEXT, content, trained)
    footer = spec.footer["assistant"]
    _pieces(out, footer, 0, spec.eot_pieces, ROLE_ASSISTANT, trained)
    _pieces(out, footer, spec.eot_pieces, len(footer), ROLE_TEMPLATE, glue)


def _qwen3_tool(out: SegmentSink, content: str, first: bool, last: bool, trained: bool,
                glue: bool) -> None:
    """Consecutive tool turns share one ``<|im_start|>user`` … ``<|im_end|>`` block.

    The newlines the template puts around the content inside ``<tool_response>`` …
    ``</tool_response>`` are encoded with it, as one text (role tool), as the template's
    own tokenization does: content that ends in ``}`` or ``.`` gives the single tokens
    ``"}\\n"`` and ``".\\n"`` there. The two newlines take the tool role id; a tool turn
    and the glue around it are trained alike (only under ``everything``), so no label moves.
    """
    if first:
        out.emit(ROLE_TEMPLATE, KIND_SPECIAL, "<|im_start|>", glue)
        out.emit(ROLE_TEMPLATE, KIND_TEXT, "user", glue)
    out.emit(ROLE_TEMPLATE, KIND_TEXT, "\n", glue)
    out.emit(ROLE_TEMPLATE, KIND_SPECIAL, "<tool_response>", glue)
    out.emit(ROLE_TOOL, KIND_TEXT, "\n" + content + "\n", trained)
    out.emit(ROLE_TEMPLATE, KIND_SPECIAL, "</tool_response>", glue)
    if last:
        out.emit(ROLE_TOOL, KIND_SPECIAL, "<|im_end|>", trained)
        out.emit(ROLE_TEMPLATE, KIND_TEXT, "\n", glue)


def render(spec: ChatSpec, turns: list[TurnTuple], policy: str = POLICY_ALL_ASSISTANT,
           add_generation_prompt: bool = False, enable_thinking: bool = True) -> list[Segment]:
    """Segments of ``turns`` under ``spec``, with role ids and trained flags.

    Args:
        spec: a resolved :class:`ChatSpec` (``{bos}``/``{eos}`` bound).
        turns: ``(role, content, train, reasoning)`` tuples.
        policy: one of :data:`POLICIES` (or an alias in :data:`POLICY_ALIASES`).
        add_generation_prompt: append the assistant header (the inference prompt).
        enable_thinking: Qwen3 only, with ``add_generation_prompt``: ``False`` appends the
            empty think block, as Qwen3's template does for ``enable_thinking=False``.

    Raises:
        TemplateError: unknown policy or role.

        >>> from alignkit.templates.specs import LLAMA3
        >>> [s.text for s in render(LLAMA3, [("user", " Hi ", None, None)], add_generation_prompt=True)]
        ['<|begin_of_text|>', '<|start_header_id|>', 'user', '<|end_header_id|>', '\\n\\n', 'Hi', '<|eot_id|>', '<|start_header_id|>', 'assistant', '<|end_header_id|>', '\\n\\n']
    """
    sink = SegmentList()
    render_into(spec, turns, sink, policy, add_generation_prompt, enable_thinking)
    return sink.segments


def render_into(spec: ChatSpec, turns: list[TurnTuple], out: SegmentSink,
                policy: str = POLICY_ALL_ASSISTANT, add_generation_prompt: bool = False,
                enable_thinking: bool = True) -> None:
    """:func:`render`, with each segment handed to ``out.emit`` as it is made.

    The pipeline's column buffer is such a sink: it encodes every segment on arrival,
    so no :class:`Segment` object is made (same segments, same order as :func:`render`).

    Raises:
        TemplateError: unknown policy or role (segments before the error were emitted).

        >>> from alignkit.templates.specs import CHATML
        >>> sink = SegmentList()
        >>> render_into(CHATML, [("user", "Hi", None, None)], sink)
        >>> [s.text for s in sink.segments]
        ['<|im_start|>', 'user\\n', 'Hi', '<|im_end|>', '\\n']
    """
    policy = policy_name(policy)
    everything = policy == POLICY_EVERYTHING
    n = len(turns)
    last_assistant = -1
    for i in range(n):
        if turns[i][0] == "assistant":
            last_assistant = i
    if spec.bos:
        out.emit(ROLE_TEMPLATE, KIND_SPECIAL, spec.bos, everything)
    if spec.default_system and (n == 0 or turns[0][0] != "system"):
        _turn(out, spec, "system", spec.default_system, ROLE_TEMPLATE, everything, everything)
    last_query = _qwen3_last_query(turns) if spec.qwen3 else -1
    for i in range(n):
        role, content, train, reasoning = turns[i]
        if role not in spec.header:
            raise TemplateError(f"turn {i}: unknown role {role!r}; use system, user, assistant or tool")
        trained = is_trained(role, train, i, last_assistant, policy)
        if spec.strip_content:
            content = content.strip()
        if spec.qwen3 and role == "tool":
            first = i == 0 or turns[i - 1][0] != "tool"
            last = i == n - 1 or turns[i + 1][0] != "tool"
            _qwen3_tool(out, content, first, last, trained, everything)
        elif spec.qwen3 and role == "assistant":
            _qwen3_assistant(out, spec, content, reasoning, i > last_query, i == n - 1,
                             trained, everything)
        else:
            _turn(out, spec, role, content, ROLE_IDS[role], trained, everything)
    if add_generation_prompt:
        header = spec.header["assistant"]
        _pieces(out, header, 0, len(header), ROLE_TEMPLATE, everything)
        if spec.qwen3 and not enable_thinking:
            _pieces(out, _EMPTY_THINK, 0, len(_EMPTY_THINK), ROLE_TEMPLATE, everything)


def same_tokens(a: Segment, b: Segment) -> bool:
    """Same role, kind and text (the trained flag may differ)."""
    return a.role == b.role and a.kind == b.kind and a.text == b.text

