"""Real tokenizers for template tests, built from ``../shared/data`` with the BPE core.

They implement the small protocol the templates need (``encode_ordinary`` and
``special_tokens``) on top of :class:`alignkit.bpe._core.BPECore`, independently of
the tokenizer loaders. Qwen3's ranks come from ``vocab.json`` by undoing GPT-2's
byte-to-unicode mapping; its text is NFC-normalized first, as its tokenizer.json says.
"""

from __future__ import annotations

import functools
import json
import unicodedata
from pathlib import Path

from alignkit.bpe._core import BPECore
from alignkit.bpe._fileio import UNICODE_TO_BYTE
from alignkit.bpe.patterns import LLAMA3, QWEN


class RefTokenizer:
    def __init__(self, core: BPECore, specials: dict[str, int], nfc: bool, bos: str | None,
                 eos: str | None) -> None:
        self.core = core
        self.special_tokens = specials
        self.nfc = nfc
        self.bos_token = bos
        self.eos_token = eos
        self.decoder = {i: t for t, i in core.ranks.items()}
        self.decoder.update({i: s.encode() for s, i in specials.items()})

    def encode_ordinary(self, text: str) -> list[int]:
        if self.nfc:
            text = unicodedata.normalize("NFC", text)
        return self.core.encode_ordinary(text)

    def decode(self, ids: list[int]) -> str:
        return b"".join(self.decoder[i] for i in ids).decode("utf-8", "replace")


@functools.lru_cache(maxsize=None)
def llama3_tokenizer(data: Path) -> RefTokenizer:
    import tiktoken.load

    ranks = tiktoken.load.load_tiktoken_bpe(str(data / "tokenizers" / "llama3" / "tokenizer.model"))
    config = json.loads((data / "tokenizers" / "llama3" / "Meta-Llama-3-8B-Instruct"
                         / "tokenizer_config.json").read_text())
    specials = {v["content"]: int(k) for k, v in config["added_tokens_decoder"].items()}
    return RefTokenizer(BPECore(ranks, LLAMA3), specials, False, "<|begin_of_text|>",
                        "<|end_of_text|>")


@functools.lru_cache(maxsize=None)
def qwen3_tokenizer(data: Path) -> RefTokenizer:
    folder = data / "tokenizers" / "qwen3"
    dec = UNICODE_TO_BYTE
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    ranks = {bytes(dec[ch] for ch in tok): i for tok, i in vocab.items()}
    config = json.loads((folder / "tokenizer_config.json").read_text())
    specials = {v["content"]: int(k) for k, v in config["added_tokens_decoder"].items()}
    return RefTokenizer(BPECore(ranks, QWEN), specials, True, None, "<|endoftext|>")


#: Every special token the built-in templates emit, plus BOS/EOS.
TEMPLATE_SPECIALS = (
    "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<tool_response>", "</tool_response>",
    "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
    "<|end_of_text|>",
)


class ByteTokenizer:
    """A toy tokenizer: one id per UTF-8 byte, specials from 1000 up."""

    def __init__(self, specials: tuple[str, ...] = TEMPLATE_SPECIALS) -> None:
        self.special_tokens = {s: 1000 + i for i, s in enumerate(specials)}
        self.bos_token = "<|begin_of_text|>"
        self.eos_token = "<|end_of_text|>"

    def encode_ordinary(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int]) -> str:
        inv = {i: s for s, i in self.special_tokens.items()}
        out = bytearray()
        for i in ids:
            out += inv[i].encode() if i in inv else bytes([i])
        return out.decode("utf-8", "replace")
