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
from typing import TYPE_CHECKING

from alignkit.encode import EncodedExample
from alignkit.errors import UsageError

if TYPE_CHECKING:
    from alignkit.records import ChatExample, PreferenceExample
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
        """One SFT example; ``mask`` is ``assistant``, ``last`` or ``all``."""
        raise NotImplementedError

    def encode_pair(self, record: PreferenceExample) -> tuple[int, EncodedExample, EncodedExample]:
        """``(prompt_len, chosen, rejected)``: full sequences sharing their first ``prompt_len`` ids."""
        raise NotImplementedError

    def special_in_content(self, record: ChatExample | PreferenceExample) -> bool:
        """Whether some content holds a special-token string (it is still encoded as text)."""
        return False

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes of one id (for ``alignkit inspect``)."""
        raise NotImplementedError

    def describe_tokenizer(self) -> dict[str, object]:
        """Name, sha256 and ``n_vocab`` for the manifest (no absolute paths)."""
        raise NotImplementedError

    def describe_template(self) -> dict[str, object]:
        """Name and sha256 of the template for the manifest."""
        raise NotImplementedError


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


def default_encoder(config: TokenizeConfig) -> Encoder:
    """alignkit's own tokenizer and templates (see the module doc)."""
    raise UsageError(
        "the default encoder is not available in this build: the tokenizer loader and the"
        " chat templates have not landed yet"
    )
