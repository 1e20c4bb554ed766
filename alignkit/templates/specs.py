"""Declarative chat-template specs (compiled).

A :class:`ChatSpec` says, per role, which pieces come before a message's content
(``header``) and after it (``footer``), how many leading footer pieces are the
end-of-turn marker (trained with a trained assistant turn), whether the template
adds BOS, a default system prompt, and whether content is trimmed. A piece is
``(kind, text)`` with ``kind`` from :mod:`alignkit.templates.segments`.

Two placeholders stand for the tokenizer's own tokens and are bound by
:meth:`ChatSpec.resolve`: ``{bos}`` (dropped where the tokenizer has no BOS) and
``{eos}`` (an error where it has none).

    >>> spec = CHATML
    >>> [text for _, text in spec.header["user"]]
    ['<|im_start|>', 'user\\n']
"""

from __future__ import annotations

from typing import Final, final

from alignkit.errors import TemplateError
from alignkit.templates.segments import KIND_SPECIAL, KIND_TEXT

Piece = tuple[int, str]
ROLE_NAMES: Final[tuple[str, ...]] = ("system", "user", "assistant", "tool")
BOS_PLACEHOLDER: Final = "{bos}"
EOS_PLACEHOLDER: Final = "{eos}"


def _s(token: str) -> Piece:
    return (KIND_SPECIAL, token)


def _t(text: str) -> Piece:
    return (KIND_TEXT, text)


@final
class ChatSpec:
    """A chat template as data. See the module docstring.

    Args:
        name: registry name.
        header: role → pieces before the content.
        footer: role → pieces after the content.
        eot_pieces: how many leading footer pieces end the turn (trained with a trained
            assistant turn and given the turn's role id; the rest is glue).
        bos: a special token emitted once at the start, ``"{bos}"`` or ``""``.
        default_system: system text the template adds when the conversation has none.
        strip_content: trim whitespace around content (Jinja's ``| trim``).
        qwen3: Qwen3's think-block and tool-response rules (see ``render``).
        description: one line for ``--help`` and errors.
    """

    def __init__(
        self,
        name: str,
        header: dict[str, list[Piece]],
        footer: dict[str, list[Piece]],
        eot_pieces: int,
        bos: str,
        default_system: str,
        strip_content: bool,
        qwen3: bool,
        description: str,
    ) -> None:
        self.name: str = name
        self.header: dict[str, list[Piece]] = header
        self.footer: dict[str, list[Piece]] = footer
        self.eot_pieces: int = eot_pieces
        self.bos: str = bos
        self.default_system: str = default_system
        self.strip_content: bool = strip_content
        self.qwen3: bool = qwen3
        self.description: str = description

    def special_tokens(self) -> list[str]:
        """Every special-token spelling this spec can emit (placeholders included)."""
        out: list[str] = []
        if self.bos:
            out.append(self.bos)
        for table in (self.header, self.footer):
            for pieces in table.values():
                for kind, text in pieces:
                    if kind == KIND_SPECIAL and text not in out:
                        out.append(text)
        if self.qwen3:
            for tok in ("<think>", "</think>", "<tool_response>", "</tool_response>"):
                out.append(tok)
        return out

    def to_dict(self) -> dict[str, object]:
        """Every field as plain JSON data (hashed into manifests and cache fingerprints)."""
        return {
            "name": self.name,
            "header": {r: [[k, t] for k, t in self.header[r]] for r in ROLE_NAMES},
            "footer": {r: [[k, t] for k, t in self.footer[r]] for r in ROLE_NAMES},
            "eot_pieces": self.eot_pieces,
            "bos": self.bos,
            "default_system": self.default_system,
            "strip_content": self.strip_content,
            "qwen3": self.qwen3,
            "description": self.description,
        }

    def resolve(self, bos_token: str | None, eos_token: str | None) -> ChatSpec:
        """This spec with ``{bos}``/``{eos}`` replaced by the tokenizer's tokens.

        Raises:
            TemplateError: the spec needs an EOS token and the tokenizer has none.
        """
        header: dict[str, list[Piece]] = {}
        footer: dict[str, list[Piece]] = {}
        for role in ROLE_NAMES:
            header[role] = self._bind(self.header[role], eos_token)
            footer[role] = self._bind(self.footer[role], eos_token)
        bos = self.bos
        if bos == BOS_PLACEHOLDER:
            bos = bos_token if bos_token is not None else ""
        return ChatSpec(
            self.name, header, footer, self.eot_pieces, bos, self.default_system,
            self.strip_content, self.qwen3, self.description,
        )

    def _bind(self, pieces: list[Piece], eos_token: str | None) -> list[Piece]:
        out: list[Piece] = []
        for kind, text in pieces:
            if kind == KIND_SPECIAL and text == EOS_PLACEHOLDER:
                if eos_token is None:
                    raise TemplateError(
                        f"template {self.name!r} ends assistant turns with the tokenizer's EOS"
                        " token, but this tokenizer has none; pick a template with its own"
                        " end-of-turn token (e.g. --template chatml)"
                    )
                out.append((KIND_SPECIAL, eos_token))
            else:
                out.append((kind, text))
        return out


def _per_role(make: dict[str, list[Piece]]) -> dict[str, list[Piece]]:
    return {role: list(make[role]) for role in ROLE_NAMES}


def _chatml_header() -> dict[str, list[Piece]]:
    """ChatML's ``<|im_start|>role\\n`` glue, shared by ChatML and Qwen3 (a fresh dict per spec)."""
    return {r: [_s("<|im_start|>"), _t(r + "\n")] for r in ROLE_NAMES}


def _chatml_footer() -> dict[str, list[Piece]]:
    """ChatML's ``<|im_end|>\\n`` glue: the end-of-turn token, then an untrained newline."""
    return {r: [_s("<|im_end|>"), _t("\n")] for r in ROLE_NAMES}


CHATML: Final = ChatSpec(
    "chatml",
    header=_chatml_header(),
    footer=_chatml_footer(),
    eot_pieces=1,
    bos="",
    default_system="",
    strip_content=False,
    qwen3=False,
    description="ChatML: <|im_start|>role\\ncontent<|im_end|>\\n (Qwen2/2.5 style, no default system)",
)

QWEN3: Final = ChatSpec(
    "qwen3",
    header=_chatml_header(),
    footer=_chatml_footer(),
    eot_pieces=1,
    bos="",
    default_system="",
    strip_content=False,
    qwen3=True,
    description="Qwen3: ChatML plus the <think> block of the final assistant turn and"
    " <tool_response> wrapping of tool turns",
)

LLAMA3: Final = ChatSpec(
    "llama3",
    header={
        r: [_s("<|start_header_id|>"), _t(r), _s("<|end_header_id|>"), _t("\n\n")]
        for r in ROLE_NAMES
    },
    footer={r: [_s("<|eot_id|>")] for r in ROLE_NAMES},
    eot_pieces=1,
    bos="<|begin_of_text|>",
    default_system="",
    strip_content=True,
    qwen3=False,
    description="Llama 3 Instruct: <|start_header_id|>role<|end_header_id|>\\n\\ncontent<|eot_id|>",
)

#: The CS336 assignment-5 Alpaca prompt (``alpaca_sft.prompt``), EOS after the response.
ALPACA_PREAMBLE: Final = (
    "Below is an instruction that describes a task."
    " Write a response that appropriately completes the request."
)

ALPACA: Final = ChatSpec(
    "alpaca",
    header=_per_role({
        "system": [],
        "user": [_t("\n\n### Instruction:\n")],
        "assistant": [_t("\n\n### Response:\n")],
        "tool": [_t("\n\n### Input:\n")],
    }),
    footer=_per_role({"system": [], "user": [], "assistant": [_s(EOS_PLACEHOLDER)], "tool": []}),
    eot_pieces=1,
    bos=BOS_PLACEHOLDER,
    default_system=ALPACA_PREAMBLE,
    strip_content=False,
    qwen3=False,
    description="CS336 Alpaca prompt: preamble, ### Instruction:, ### Response:, EOS",
)

PLAIN: Final = ChatSpec(
    "plain",
    header=_per_role({"system": [], "user": [], "assistant": [], "tool": []}),
    footer=_per_role({
        "system": [_t("\n")],
        "user": [_t("\n")],
        "assistant": [_s(EOS_PLACEHOLDER), _t("\n")],
        "tool": [_t("\n")],
    }),
    eot_pieces=1,
    bos=BOS_PLACEHOLDER,
    default_system="",
    strip_content=False,
    qwen3=False,
    description="plain: contents joined by newlines, EOS after each assistant turn",
)

#: Built-in specs by name.
BUILTIN_SPECS: Final[dict[str, ChatSpec]] = {
    "chatml": CHATML,
    "qwen3": QWEN3,
    "llama3": LLAMA3,
    "alpaca": ALPACA,
    "plain": PLAIN,
}
