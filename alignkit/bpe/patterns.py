"""Pre-tokenizer split patterns of the tokenizers alignkit knows.

The strings are the published ones (tiktoken's ``openai_public.py``, Llama 3's
``tokenizer.py``, Qwen's ``tokenizer.json``). The compiled core recognises these
exact strings and runs a hand-written scanner proven identical to the regex;
any other pattern falls back to the ``regex`` module.
"""

from __future__ import annotations

from typing import Final

#: GPT-2 / r50k_base / p50k_base (tiktoken's possessive form, equivalent to the original).
GPT2: Final = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""

#: The pattern as GPT-2's encoder.py and Hugging Face's ByteLevel pre-tokenizer write it.
GPT2_ORIGINAL: Final = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

#: cl100k_base.
CL100K: Final = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

#: o200k_base.
O200K: Final = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

#: Llama 3 (tiktoken-format ``tokenizer.model``).
LLAMA3: Final = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

#: Qwen2 / Qwen2.5 / Qwen3 (note the single-digit ``\p{N}``).
QWEN: Final = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

#: Name → pattern, for ``--pattern NAME`` style options and saved tokenizer files.
KNOWN_PATTERNS: Final[dict[str, str]] = {
    "gpt2": GPT2,
    "cl100k": CL100K,
    "o200k": O200K,
    "llama3": LLAMA3,
    "qwen": QWEN,
}


def resolve_pattern(spec: str, *, names_only: bool = False) -> str:
    """The split regex that ``spec`` stands for: a name of :data:`KNOWN_PATTERNS`, else ``spec``
    itself as a regex (which must compile). Used by ``train_bpe`` and ``train-tokenizer --pattern``.

    A known name wins over reading ``spec`` as a regex (``"gpt2"`` is GPT-2's pattern, not
    the literal text). ``names_only`` (the CLI) accepts names only.

    Raises:
        UsageError: an unknown name with ``names_only``, or a regex that does not compile
            (with where it fails).

    Example:
        >>> resolve_pattern("cl100k") == CL100K, resolve_pattern(r"\\p{L}+")
        (True, '\\\\p{L}+')
    """
    from alignkit.errors import UsageError

    known = KNOWN_PATTERNS.get(spec)
    if known is not None:
        return known
    if names_only:
        raise UsageError(f"unknown --pattern {spec!r}; choose one of {', '.join(KNOWN_PATTERNS)}")
    import regex

    try:
        regex.compile(spec)
    except regex.error as err:
        raise UsageError(
            f"pattern {spec!r} is not a valid regex ({err.msg} at position {err.pos}); "
            f"fix it, or give a known name: {', '.join(KNOWN_PATTERNS)}"
        ) from None
    return spec
