"""Model folders as Hugging Face hub snapshots lay them out.

In order of preference: ``tokenizer.json`` (or ``tokenizer.json.gz``);
``tokenizer.model`` in tiktoken format (Llama 3) with the special tokens from
``tokenizer_config.json``'s ``added_tokens_decoder``; ``vocab.json`` +
``merges.txt`` with the pattern chosen by ``tokenizer_class`` in
``tokenizer_config.json`` (GPT2Tokenizer, Qwen2Tokenizer) and its added tokens.
"""

from __future__ import annotations

from pathlib import Path

from alignkit.bpe._fileio import expect_dict, read_json
from alignkit.bpe.loaders._json_scan import NATIVE
from alignkit.bpe.loaders.hf_json import load_hf_json
from alignkit.bpe.loaders.tiktoken_file import load_tiktoken
from alignkit.bpe.patterns import GPT2, QWEN
from alignkit.bpe.tokenizer import Tokenizer
from alignkit.errors import TokenizerFileError

#: tokenizer_class -> (pattern, normalizer) for vocab.json + merges.txt folders.
CLASSES: dict[str, tuple[str, str | None]] = {
    "GPT2Tokenizer": (GPT2, None),
    "GPT2TokenizerFast": (GPT2, None),
    "Qwen2Tokenizer": (QWEN, "NFC"),
    "Qwen2TokenizerFast": (QWEN, "NFC"),
}


def config_added_tokens(folder: Path) -> tuple[dict[str, int], str | None]:
    """(added tokens, tokenizer_class) from ``tokenizer_config.json`` ({} / None if absent)."""
    path = folder / "tokenizer_config.json"
    if not path.exists():
        return {}, None
    config = expect_dict(read_json(path), str(path))
    decoder = config.get("added_tokens_decoder") or {}
    added: dict[str, int] = {}
    for key, value in expect_dict(decoder, f"{path}: added_tokens_decoder").items():
        entry = expect_dict(value, f"{path}: added_tokens_decoder[{key}]")
        content = entry.get("content")
        if not key.isdigit() or not isinstance(content, str):
            raise TokenizerFileError(f"{path}: added_tokens_decoder[{key!r}] needs a numeric key and a string 'content'")
        for flag in ("lstrip", "rstrip", "single_word"):
            if entry.get(flag):
                raise TokenizerFileError(f"{path}: unsupported added token {content!r} with {flag}=true")
        added[content] = int(key)
    cls = config.get("tokenizer_class")
    return added, cls if isinstance(cls, str) else None


def load_folder(folder: str | Path) -> Tokenizer:
    """A tokenizer from a model folder.

    Example:
        >>> load_folder("Qwen3-8B/").special_tokens["<|im_end|>"]  # doctest: +SKIP
        151645
    """
    root = Path(folder)
    for name in ("tokenizer.json", "tokenizer.json.gz"):
        if (root / name).is_file():
            tok = load_hf_json(root / name)
            tok.name = root.resolve().name
            return tok
    added, cls = config_added_tokens(root)
    if (root / "tokenizer.model").is_file():
        tok = load_tiktoken(root / "tokenizer.model", special_tokens=added or None)
    elif (root / "vocab.json").is_file() and (root / "merges.txt").is_file():
        if cls not in CLASSES:
            raise TokenizerFileError(
                f"{root}: vocab.json + merges.txt with tokenizer_class {cls!r}: the split pattern is unknown. "
                f"Known classes: {', '.join(CLASSES)}; or add a tokenizer.json"
            )
        pattern, normalizer = CLASSES[cls]
        from alignkit.bpe.loaders.gpt2_files import load_vocab_merges, pair_tokenizer  # (this case only)

        found = pair_tokenizer(root / "vocab.json", root / "merges.txt", added, pattern, normalizer, None)
        if found is None:
            vocab, merges = load_vocab_merges(root / "vocab.json", root / "merges.txt")
            found = Tokenizer(vocab, merges, added, pattern=pattern, normalizer=normalizer)
        tok = found
    else:
        raise TokenizerFileError(
            f"{root}: no tokenizer found; expected tokenizer.json, tokenizer.model (+ tokenizer_config.json) "
            "or vocab.json + merges.txt (+ tokenizer_config.json)"
        )
    tok.name = root.resolve().name
    tok.source = str(root.resolve())
    return tok
