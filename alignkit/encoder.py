"""The encoder the pipeline uses: a tokenizer and a chat template behind one small interface.

:class:`Encoder` is what :mod:`alignkit.pipeline`, :mod:`alignkit.hf` and
``alignkit inspect`` need from the serializer; :func:`build_encoder` makes one
from a :class:`~alignkit.worker.TokenizeConfig` (plain data), in each process.
The default factory, :func:`default_encoder`, wires alignkit's tokenizer
loader (``alignkit.bpe.loaders.load_tokenizer``) and templates/encoder
(``alignkit.templates``, ``alignkit.encode``).

    >>> enc = build_encoder(TokenizeConfig())  # doctest: +SKIP
    >>> enc.encode_sft(example, "assistant").input_ids[:3]  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from alignkit.encode import EncodedExample
from alignkit.errors import TemplateError, UsageError

if TYPE_CHECKING:
    from alignkit.records import ChatExample, PreferenceExample
    from alignkit.templates.chat import ChatTemplate
    from alignkit.worker import TokenizeConfig


class Encoder:
    """Records → :class:`~alignkit.encode.EncodedExample` (subclass and override).

    Attributes:
        n_vocab: ids are ``0 .. n_vocab - 1``.
        pad_id: the id packing pads with (padding is masked: label -100, attention 0).
    """

    n_vocab: int = 0
    pad_id: int = 0

    def encode_sft(self, record: ChatExample, mask: str) -> EncodedExample:
        """One SFT example; ``mask`` is ``assistant``, ``last`` or ``all``.

        The example's ``special_in_content`` names a special-token string found in the
        content (which is encoded as text all the same), or is ``""``.
        """
        raise NotImplementedError

    def encode_pair(self, record: PreferenceExample) -> tuple[int, EncodedExample, EncodedExample]:
        """``(prompt_len, chosen, rejected)``: full sequences sharing their first ``prompt_len`` ids."""
        raise NotImplementedError

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes of one id (for ``alignkit inspect``)."""
        raise NotImplementedError

    def describe_tokenizer(self) -> dict[str, object]:
        """Name, sha256 and ``n_vocab`` for the manifest (no absolute paths)."""
        raise NotImplementedError

    def describe_template(self) -> dict[str, object]:
        """Name and sha256 of the template for the manifest."""
        raise NotImplementedError

    def check(self) -> None:
        """Raise an :class:`~alignkit.errors.AlignkitError` for a configuration that cannot
        encode any record (``tokenize_files`` calls it before reading records); default: nothing."""


def build_encoder(config: TokenizeConfig) -> Encoder:
    """Call the factory named by ``config.encoder`` (``module:function``)."""
    module_name, _, attr = config.encoder.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise UsageError(f"cannot load the encoder factory {config.encoder!r}: {err}") from err
    encoder = factory(config)
    if not isinstance(encoder, Encoder):
        raise UsageError(f"{config.encoder} did not return an alignkit.encoder.Encoder")
    return encoder


def default_template(tokenizer: object, spec: str) -> str:
    """The template to use when none is named: the one whose special tokens the tokenizer has.

    A tokenizer without chat special tokens (GPT-2) gets ``plain``: chat markers must
    be real special tokens, never text that merely looks like them.
    """
    from alignkit.templates.chat import tokenizer_specials

    specials = tokenizer_specials(tokenizer)
    if "<|start_header_id|>" in specials:
        return "llama3"
    if "<|im_start|>" in specials:
        return "qwen3" if "qwen" in spec.lower() or "<think>" in specials else "chatml"
    return "plain"


def check_template_tokens(template: ChatTemplate, tokenizer: object, spec: str) -> None:
    """Refuse a built-in template that emits special tokens the tokenizer does not have.

    Checked before any record is read (:meth:`TemplateEncoder.check`, which
    :func:`~alignkit.pipeline.tokenize_files` and :mod:`alignkit.hf`'s callables call),
    beside the template's own check that the tokenizer has the EOS token it needs
    (:meth:`alignkit.templates.specs.ChatSpec.resolve`): without it, every record would
    fail to encode and be reported as a bad row. (A model folder's own Jinja template
    only uses the folder tokenizer's specials.)

    Raises:
        TemplateError: naming the template, the missing tokens and the tokenizer.
    """
    from alignkit.templates.chat import tokenizer_specials

    if template.spec is None:
        return
    have = tokenizer_specials(tokenizer)
    missing = [t for t in template.spec.special_tokens() if t not in have]
    if missing:
        many = len(missing) > 1
        raise TemplateError(
            f"template {template.name!r} needs the special token{'s' if many else ''}"
            f" {', '.join(repr(t) for t in missing)}, which tokenizer {spec!r} does not have;"
            f" pick a tokenizer that has {'them' if many else 'it'} (--tokenizer / tokenizer=,"
            " e.g. the model folder the template belongs to) or another template (--template /"
            " template=; the default is the tokenizer folder's own template, else 'plain')"
        )


class TemplateEncoder(Encoder):
    """alignkit's tokenizer loader and chat templates behind :class:`Encoder`."""

    def __init__(self, config: TokenizeConfig) -> None:
        from alignkit.bpe.loaders import load_tokenizer
        from alignkit.templates.chat import ChatTemplate

        self.tokenizer = load_tokenizer(config.tokenizer)
        folder = Path(config.tokenizer)
        if config.template is None and (folder / "tokenizer_config.json").is_file():
            # a model folder: its own chat_template (a matching built-in, else sandboxed Jinja)
            self.template = ChatTemplate.from_folder(folder, self.tokenizer, policy=config.mask)
        else:
            name = config.template or default_template(self.tokenizer, config.tokenizer)
            self.template = ChatTemplate(name, self.tokenizer, policy=config.mask)
        self.tokenizer_spec = config.tokenizer
        self.n_vocab = self.tokenizer.n_vocab
        eos = self.template.eos_token
        self.pad_id = self.tokenizer.special_tokens.get(eos, 0) if eos else 0

    def check(self) -> None:
        check_template_tokens(self.template, self.tokenizer, self.tokenizer_spec)

    def encode_sft(self, record: ChatExample, mask: str) -> EncodedExample:
        return self.template.encode(record, policy=mask)

    def encode_pair(self, record: PreferenceExample) -> tuple[int, EncodedExample, EncodedExample]:
        pair = self.template.encode_pair(record)
        return len(pair.prompt), pair.chosen_full(), pair.rejected_full()

    def token_bytes(self, token_id: int) -> bytes:
        return self.tokenizer.id_to_token_bytes(token_id)

    def describe_tokenizer(self) -> dict[str, object]:
        name = self.tokenizer.name or Path(str(self.tokenizer.source or "")).name
        return {"name": name, "sha256": self.tokenizer.hash, "n_vocab": self.n_vocab}

    def describe_template(self) -> dict[str, object]:
        return self.template.describe()


def default_encoder(config: TokenizeConfig) -> Encoder:
    """alignkit's own tokenizer and templates (see the module doc)."""
    return TemplateEncoder(config)
