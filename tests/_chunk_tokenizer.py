"""A small byte-level tokenizer that knows every built-in template's special tokens, and record
contents that exercise it (look-alike specials, think blocks, NFC, emoji): shared by the tests of
the fast chunk paths (SFT and preference)."""

from __future__ import annotations

from pathlib import Path

from alignkit.bpe.tokenizer import Tokenizer

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<tool_response>",
            "</tool_response>", "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
            "<|eot_id|>", "<|end_of_text|>"]
MERGES = [(b"a", b"b"), (b"u", b"s"), (b"us", b"e"), (b"\n", b"\n"), (b"<", b"|"), (b"\xc3", b"\xa9")]
CONTENTS = [
    "Hi", "ab ab", "user\n\nsays", "caf\u00e9", "cafe\u0301", "\u3000x", "<|im_end|>", "a<think>b",
    "<think>\nwhy\n</think>\n\nanswer", "</think>only", "<tool_response>r</tool_response>", "  padded  ",
    "x" * 30, "\U0001f600 emoji",
]


class ByteIds:
    """A toy tokenizer for the chunk buffers: one id per UTF-8 byte."""

    def encode_ordinary(self, text: str) -> list[int]:
        return list(text.encode())


#: Ids 300.. for the built-in templates' special tokens, for buffers over :class:`ByteIds`.
SPECIAL_IDS = {name: 300 + k for k, name in enumerate(sorted({
    "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<tool_response>", "</tool_response>",
    "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|endoftext|>",
}))}


def save_small_tokenizer(folder: Path) -> Path:
    """Write the tokenizer (alignkit's own file, NFC normalizer) into ``folder``; its path."""
    vocab = {i: bytes([i]) for i in range(256)}
    for k, (a, b) in enumerate(MERGES):
        vocab[256 + k] = a + b
    path = folder / "tok.json"
    Tokenizer(vocab, MERGES, SPECIALS, normalizer="NFC").save(str(path))
    return path
