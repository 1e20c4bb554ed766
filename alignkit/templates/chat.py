"""The :class:`ChatTemplate` facade: a template bound to a tokenizer (interpreted).

It converts records to plain turn tuples (pydantic stays out of the compiled core),
renders them into segments and encodes those into arrays.

    >>> from alignkit.records import Turn
    >>> class Bytes:  # a toy tokenizer: one id per byte, two specials
    ...     special_tokens = {"<|im_start|>": 256, "<|im_end|>": 257}
    ...     def encode_ordinary(self, text): return list(text.encode())
    >>> chat = ChatTemplate("chatml", Bytes())
    >>> ex = chat.encode([Turn(role="user", content="Hi"), Turn(role="assistant", content="Yo")])
    >>> [t for t, lab in zip(ex.input_ids, ex.labels) if lab != -100]
    [89, 111, 257]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from alignkit.encode import EncodedExample, EncodedPair, Encoder
from alignkit.errors import TemplateError
from alignkit.templates.render import POLICY_ALL_ASSISTANT, TurnTuple, policy_name, render, same_tokens
from alignkit.templates.segments import KIND_SPECIAL, Segment, segments_text
from alignkit.templates.specs import ChatSpec

if TYPE_CHECKING:
    # Imported where needed: pydantic (records) and jinja2 cost ~0.2 s of start-up, and the
    # pipeline's common path (a built-in template, valid records) needs neither.
    from alignkit.records import ChatExample, PreferenceExample, Turn
    from alignkit.templates.jinja import JinjaRenderer

_BOS_NAMES = ("<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>")
_EOS_NAMES = ("<|end_of_text|>", "<|endoftext|>", "</s>", "<eos>")


class _Tokenizer(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...


def spec_from_dict(data: dict[str, Any]) -> ChatSpec:
    """The :class:`ChatSpec` that :meth:`ChatSpec.to_dict` describes."""
    def pieces(table: dict[str, list[list[Any]]]) -> dict[str, list[tuple[int, str]]]:
        return {role: [(int(k), str(t)) for k, t in items] for role, items in table.items()}

    return ChatSpec(str(data["name"]), pieces(data["header"]), pieces(data["footer"]),
                    int(data["eot_pieces"]), str(data["bos"]), str(data["default_system"]),
                    bool(data["strip_content"]), bool(data["qwen3"]), str(data.get("description", "")))


def _rebuild(base: object, tokenizer: Any, policy: str, special_in_content: str,
             bos_token: str | None, eos_token: str | None) -> ChatTemplate:
    from alignkit.templates.jinja import JinjaRenderer

    spec = spec_from_dict(base) if isinstance(base, dict) else base
    assert isinstance(spec, (ChatSpec, JinjaRenderer))
    return ChatTemplate(spec, tokenizer, policy=policy, special_in_content=special_in_content,
                        bos_token=bos_token, eos_token=eos_token)


def turn_tuples(turns: Sequence[Turn] | Sequence[TurnTuple]) -> list[TurnTuple]:
    """Turns as plain ``(role, content, train, reasoning)`` tuples.

        >>> turn_tuples([Turn(role="user", content="Hi")])
        [('user', 'Hi', None, None)]
    """
    out: list[TurnTuple] = []
    for t in turns:
        if not isinstance(t, tuple):
            from alignkit.records import Turn

            if isinstance(t, Turn):
                t = (t.role, t.content, t.train, t.reasoning)
        out.append(t)
    return out


def tokenizer_specials(tokenizer: object) -> dict[str, int]:
    """The special tokens (spelling → id) of a tokenizer, property or method."""
    specials = getattr(tokenizer, "special_tokens", None)
    if callable(specials):
        specials = specials()
    if specials is None:
        return {}
    return {str(k): int(v) for k, v in dict(specials).items()}


def _pick(tokenizer: object, attr: str, names: tuple[str, ...], specials: dict[str, int]) -> str | None:
    value = getattr(tokenizer, attr, None)
    if isinstance(value, str) and value in specials:
        return value
    for name in names:
        if name in specials:
            return name
    return None


def _chat_turns(example: object) -> Any:
    """``example.turns`` for a :class:`~alignkit.records.ChatExample`, else ``example``."""
    from alignkit.records import ChatExample

    return example.turns if isinstance(example, ChatExample) else example


class ChatTemplate:
    """A chat template bound to a tokenizer and a masking policy.

    Args:
        spec: a :class:`ChatSpec`, a registry name (``chatml``, ``qwen3``, ...) or a
            :class:`~alignkit.templates.jinja.JinjaRenderer` (see :meth:`from_folder`).
        tokenizer: anything with ``encode_ordinary`` and ``special_tokens``.
        policy: ``all_assistant`` (default), ``last_assistant`` or ``everything``.
        special_in_content: ``count`` (flag rows) or ``error`` (raise).
        bos_token, eos_token: the tokenizer's BOS/EOS spellings, for templates that use
            them (``alpaca``, ``plain``); guessed from common names when omitted.
    """

    def __init__(self, spec: ChatSpec | JinjaRenderer | str, tokenizer: _Tokenizer, *,
                 policy: str = POLICY_ALL_ASSISTANT, special_in_content: str = "count",
                 bos_token: str | None = None, eos_token: str | None = None) -> None:
        from alignkit.templates import get_template

        base = get_template(spec) if isinstance(spec, str) else spec
        specials = tokenizer_specials(tokenizer)
        self.bos_token = bos_token or _pick(tokenizer, "bos_token", _BOS_NAMES, specials)
        self.eos_token = eos_token or _pick(tokenizer, "eos_token", _EOS_NAMES, specials)
        self.jinja: JinjaRenderer | None = None
        if not isinstance(base, ChatSpec):
            from alignkit.templates.jinja import JinjaRenderer

            self.jinja = base if isinstance(base, JinjaRenderer) else None
        self.spec = base.resolve(self.bos_token, self.eos_token) if isinstance(base, ChatSpec) else None
        self.policy = policy_name(policy)
        self.special_in_content = special_in_content
        self.tokenizer = tokenizer
        self.encoder = Encoder(tokenizer, specials, special_in_content)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # The compiled spec and encoder do not pickle; rebuild them from plain data
        # (the tokenizer pickles itself), so a ChatTemplate can cross process boundaries.
        base: object = self.jinja if self.jinja is not None else self._spec().to_dict()
        return (_rebuild, (base, self.tokenizer, self.policy, self.special_in_content,
                           self.bos_token, self.eos_token))

    @classmethod
    def from_folder(cls, folder: str | Path, tokenizer: _Tokenizer, **options: Any) -> ChatTemplate:
        """The template of a model folder's ``chat_template``: the matching built-in spec,
        else the Jinja template rendered in a sandbox (see :mod:`alignkit.templates.jinja`)."""
        from alignkit.templates.jinja import template_for_folder

        spec = template_for_folder(folder, list(tokenizer_specials(tokenizer)))
        return cls(spec, tokenizer, **options)

    @property
    def name(self) -> str:
        return self.jinja.name if self.jinja is not None else self._spec().name

    def _spec(self) -> ChatSpec:
        assert self.spec is not None
        return self.spec

    def describe(self) -> dict[str, object]:
        """Name, policy and sha256 of the bound spec (for manifests and fingerprints)."""
        data = self.jinja.to_dict() if self.jinja is not None else self._spec().to_dict()
        blob = json.dumps(data, sort_keys=True, ensure_ascii=True).encode()
        return {"name": self.name, "policy": self.policy,
                "sha256": hashlib.sha256(blob).hexdigest()}

    def render(self, turns: Sequence[Turn] | Sequence[TurnTuple],
               add_generation_prompt: bool = False, policy: str | None = None,
               enable_thinking: bool = True) -> list[Segment]:
        """The segments of ``turns`` (``policy`` overrides the bound one; ``enable_thinking``
        is Qwen3's generation-prompt switch)."""
        plain = turn_tuples(turns)
        if self.jinja is not None:
            return self.jinja.render(plain, policy or self.policy, add_generation_prompt)
        return render(self._spec(), plain, policy or self.policy, add_generation_prompt,
                      enable_thinking)

    def text(self, turns: Sequence[Turn] | Sequence[TurnTuple],
             add_generation_prompt: bool = False) -> str:
        """The rendered string (what a text renderer would produce; display only)."""
        return segments_text(self.render(turns, add_generation_prompt))

    def encode(self, example: ChatExample | Sequence[Turn] | Sequence[TurnTuple],
               add_generation_prompt: bool = False, policy: str | None = None) -> EncodedExample:
        """Training arrays of a conversation (``policy`` overrides the bound one).

        ``special_in_content`` of the result names the first special-token string found
        in the content (encoded as text all the same), or is ``""``.
        """
        turns = example if isinstance(example, (list, tuple)) else _chat_turns(example)
        return self.encoder.encode(self.render(turns, add_generation_prompt, policy))

    def find_special_in_content(self, record: ChatExample | PreferenceExample) -> str:
        """The first special-token string of the tokenizer inside any content, or ``""``."""
        from alignkit.records import ChatExample

        if isinstance(record, ChatExample):
            texts = [t.content for t in record.turns] + [t.reasoning or "" for t in record.turns]
        else:
            texts = [t.content for t in record.history] + [record.response_a, record.response_b]
        for text in texts:
            found = self.encoder.find_special(text)
            if found:
                return found
        return ""

    def encode_prompt(self, turns: Sequence[Turn] | Sequence[TurnTuple],
                      enable_thinking: bool = True) -> EncodedExample:
        """The inference prompt (``add_generation_prompt=True``); every label ``-100``.

        With Qwen3, ``enable_thinking=False`` ends it with the empty think block, which is
        also a prefix of the training ids of a non-reasoning answer.
        """
        return self.encoder.encode_untrained(self.render(turns, True, enable_thinking=enable_thinking))

    def encode_pair(self, pair: PreferenceExample) -> EncodedPair:
        """A DPO-ready pair: the prompt rendered and encoded once, two completions."""
        history = turn_tuples(pair.history)
        prompt = self.render(history, True)
        chosen = self._completion(history, prompt, pair.chosen_response)
        rejected = self._completion(history, prompt, pair.rejected_response)
        return EncodedPair(self.encoder.encode_untrained(prompt), self.encoder.encode(chosen),
                           self.encoder.encode(rejected))

    def _completion(self, history: list[TurnTuple], prompt: list[Segment],
                    response: str) -> list[Segment]:
        """The segments after ``prompt`` once ``response`` answers ``history``."""
        full = self.render([*history, ("assistant", response, None, None)])
        n = len(prompt)
        if len(full) < n or not all(same_tokens(a, b) for a, b in zip(full, prompt)):
            raise TemplateError(
                f"template {self.name!r} renders the prompt differently once a response is"
                " added, so the pair cannot share one prompt; use another template")
        return full[n:]

    def special_ids(self, segments: list[Segment]) -> list[int]:
        """The special ids the template's structure implies for ``segments``."""
        return [self.encoder.special_id(s.text) for s in segments if s.kind == KIND_SPECIAL]

