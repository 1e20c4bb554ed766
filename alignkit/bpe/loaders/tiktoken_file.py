"""tiktoken rank files (``base64 rank`` lines) and the registry of known encodings.

A rank file holds no split pattern and no special tokens, so those come from a
name: :data:`ENCODINGS` maps each known encoding to its pattern and specials
(tiktoken's ``openai_public.py`` and Llama 3's ``tokenizer.py``).
"""

from __future__ import annotations

import os

from alignkit.bpe.patterns import CL100K, GPT2, LLAMA3, O200K
from alignkit.bpe.tokenizer import Tokenizer
from alignkit.errors import TokenizerFileError


class Encoding:
    """What a known encoding adds to its rank file (a plain class: a ``NamedTuple`` takes
    about a millisecond to create, at every import).

    Example:
        >>> ENCODINGS["r50k_base"].specials
        {'<|endoftext|>': 50256}
    """

    __slots__ = ("pattern", "specials", "n_ranks")

    def __init__(self, pattern: str, specials: dict[str, int], n_ranks: int) -> None:
        self.pattern = pattern
        self.specials = specials
        self.n_ranks = n_ranks

    def __repr__(self) -> str:
        return f"Encoding(pattern={self.pattern!r}, specials={self.specials!r}, n_ranks={self.n_ranks})"


def _llama3_specials() -> dict[str, int]:
    names = ["<|begin_of_text|>", "<|end_of_text|>"]
    names += [f"<|reserved_special_token_{i}|>" for i in range(4)]
    names += ["<|start_header_id|>", "<|end_header_id|>", "<|reserved_special_token_4|>", "<|eot_id|>"]
    names += [f"<|reserved_special_token_{i}|>" for i in range(5, 251)]
    return {name: 128000 + i for i, name in enumerate(names)}


def _llama31_specials() -> dict[str, int]:
    """Llama 3.1's names for the same 256 slots, as Meta's llama-models ``tokenizer.py`` gives them.

    That file is what reads a bare ``tokenizer.model`` (the ``original/`` folder of a Llama 3.1
    checkpoint), and it is the list ``../shared/data/SOURCES.md`` records: 128004
    ``<|finetune_right_pad_id|>``, 128005 ``<|step_id|>``, 128008 ``<|eom_id|>``, 128010
    ``<|python_tag|>``, 128011 ``<|image|>``, and ``<|reserved_special_token_2..245|>`` for
    128012-128255. Hugging Face's Llama 3.1 ``tokenizer_config.json`` names three things
    differently: 128005 ``<|reserved_special_token_2|>``, 128011 ``<|reserved_special_token_3|>``
    and the reserved tokens after it ``_4..247``. The ids of every named token used in chat
    (headers, ``eot``, ``eom``, ``python_tag``, the pad) are the same in both. A model folder
    with a ``tokenizer_config.json`` takes its names from that file, never from this table.
    """
    names = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>"]
    names += ["<|finetune_right_pad_id|>", "<|step_id|>", "<|start_header_id|>", "<|end_header_id|>"]
    names += ["<|eom_id|>", "<|eot_id|>", "<|python_tag|>", "<|image|>"]
    names += [f"<|reserved_special_token_{i}|>" for i in range(2, 256 - 10)]
    return {name: 128000 + i for i, name in enumerate(names)}


_EOT = "<|endoftext|>"
_FIM = {"<|fim_prefix|>": 50281, "<|fim_middle|>": 50282, "<|fim_suffix|>": 50283}

#: Known encodings: name -> (pattern, special tokens, number of ranks in the file).
ENCODINGS: dict[str, Encoding] = {
    "r50k_base": Encoding(GPT2, {_EOT: 50256}, 50256),
    "p50k_base": Encoding(GPT2, {_EOT: 50256}, 50280),
    "p50k_edit": Encoding(GPT2, {_EOT: 50256, **_FIM}, 50280),
    "cl100k_base": Encoding(
        CL100K,
        {_EOT: 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259, "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276},
        100256,
    ),
    "o200k_base": Encoding(O200K, {_EOT: 199999, "<|endofprompt|>": 200018}, 199998),
    "llama3": Encoding(LLAMA3, _llama3_specials(), 128000),
    "llama3.1": Encoding(LLAMA3, _llama31_specials(), 128000),
}
ALIASES: dict[str, str] = {"gpt2": "r50k_base", "llama-3": "llama3", "llama-3.1": "llama3.1"}
#: Encodings that share another's rank file: never guessed from a file's size, only named.
_NAMED_ONLY = ("p50k_edit", "llama3.1")


def resolve_name(name: str) -> str:
    """The canonical encoding name for ``name`` (aliases accepted)."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in ENCODINGS:
        raise TokenizerFileError(f"unknown encoding {name!r}; known: {', '.join([*ENCODINGS, *ALIASES])}")
    return key


def _well_formed(data: bytes) -> dict[bytes, int] | None:
    """The ranks of a file in the canonical layout, or None (then the line-by-line parser decides).

    Canonical: every line is ``BASE64 RANK`` with one space, no blank lines, the
    last newline optional, ASCII digits only, strict base64, no duplicate token
    or rank (one compiled pass: :func:`alignkit.bpe.loaders._rank_file.canonical_ranks`).
    """
    from alignkit.bpe.loaders._rank_file import canonical_ranks

    return canonical_ranks(data)


def _read(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes (gunzipped by :func:`alignkit.bpe._fileio.read_bytes`, which also
    words the errors; a plain file is read here without importing the JSON helpers)."""
    data: bytes | None
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        data = None  # read_bytes says what went wrong
    if data is None or data[:2] == b"\x1f\x8b":
        from alignkit.bpe._fileio import read_bytes

        return read_bytes(path)
    return data


def _load(path: str | os.PathLike[str]) -> tuple[dict[bytes, int], list[bytes] | None]:
    """The ranks of a tiktoken file: ``({}, tokens)`` when they are ``0, 1, ...`` in file order
    (no dict is built; a token given twice is found later, see :func:`_line_by_line`),
    ``(ranks, None)`` otherwise."""
    from alignkit.bpe.loaders._rank_file import parse_fast

    fast = parse_fast(_read(path))
    if fast is not None:
        return fast
    return _line_by_line(path), None


def _line_by_line(path: str | os.PathLike[str]) -> dict[bytes, int]:
    """The ranks from the line-by-line parser (which names the first bad line)."""
    from alignkit.bpe._fileio import read_text

    return parse_ranks(read_text(path), str(path))


def load_ranks(path: str | os.PathLike[str]) -> dict[bytes, int]:
    """token bytes -> rank from a tiktoken file.

    Example:
        >>> load_ranks("cl100k_base.tiktoken")[b"hello"]  # doctest: +SKIP
        15339
    """
    ranks, tokens = _load(path)
    if tokens is None:
        return ranks
    ranks = dict(zip(tokens, range(len(tokens))))
    return ranks if len(ranks) == len(tokens) else _line_by_line(path)


def parse_ranks(text: str, path: str) -> dict[bytes, int]:
    """token bytes -> rank from a rank file's text, line by line, naming the first bad line.

    Example:
        >>> parse_ranks("YQ== 0\\nYg== 1\\n", "r.tiktoken")
        {b'a': 0, b'b': 1}
    """
    import base64
    import binascii

    ranks: dict[bytes, int] = {}
    seen: set[int] = set()
    for n, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise TokenizerFileError(f"{path}:{n}: expected 'BASE64 RANK', found {line[:60]!r}")
        try:
            token = base64.b64decode(parts[0], validate=True)
        except binascii.Error:
            raise TokenizerFileError(f"{path}:{n}: {parts[0][:40]!r} is not valid base64") from None
        rank = int(parts[1])
        if token in ranks or rank in seen:
            raise TokenizerFileError(f"{path}:{n}: duplicate token or rank {rank}: the file is corrupt")
        ranks[token] = rank
        seen.add(rank)
    if not ranks:
        raise TokenizerFileError(f"{path}: no 'BASE64 RANK' lines: this is not a tiktoken rank file")
    return ranks


def guess_name(path: str | os.PathLike[str], n_ranks: int) -> str | None:
    """The encoding a rank file belongs to, from its file name or its size."""
    stem = os.path.basename(os.fspath(path)).split(".")[0].lower()
    if stem in ENCODINGS or stem in ALIASES:
        return resolve_name(stem)
    by_size = [k for k, e in ENCODINGS.items() if e.n_ranks == n_ranks and k not in _NAMED_ONLY]
    return by_size[0] if len(by_size) == 1 else None


def load_tiktoken(
    path: str | os.PathLike[str], name: str | None = None, special_tokens: dict[str, int] | None = None
) -> Tokenizer:
    """A tokenizer from a tiktoken rank file, with the pattern and specials of ``name``.

    ``name`` defaults to the file's stem (``cl100k_base.tiktoken``) or is
    recognised from the number of ranks; ``special_tokens`` replaces the
    registry's specials (e.g. from a ``tokenizer_config.json``).

    Example:
        >>> tok = load_tiktoken("o200k_base.tiktoken")  # doctest: +SKIP
        >>> tok.encode("hello world")  # doctest: +SKIP
        [24912, 2375]
    """
    ranks, tokens = _load(path)
    n_ranks = len(ranks) if tokens is None else len(tokens)
    key = resolve_name(name) if name else guess_name(path, n_ranks)
    if (key is None or n_ranks != ENCODINGS[key].n_ranks) and tokens is not None and len(set(tokens)) != n_ranks:
        _line_by_line(path)  # a token twice: the line parser names the line (before any other complaint)
    if key is None:
        raise TokenizerFileError(
            f"{path}: cannot tell which encoding this rank file is ({n_ranks} ranks), so its split "
            f"pattern and special tokens are unknown; pass name= one of {', '.join(ENCODINGS)}"
        )
    enc = ENCODINGS[key]
    if n_ranks != enc.n_ranks:
        raise TokenizerFileError(f"{path}: {key} has {enc.n_ranks} ranks but the file has {n_ranks}; wrong file or name?")
    specials = enc.specials if special_tokens is None else special_tokens
    if tokens is not None:  # ids 0..n-1 in order: the token list becomes the core's, as it is
        try:
            tok = Tokenizer._from_dense_ranks(tokens, specials, enc.pattern, key)
        except ValueError:  # a token twice (the core's index found it): the line parser names it
            _line_by_line(path)
            raise
    else:
        tok = Tokenizer.from_ranks(ranks, specials, pattern=enc.pattern, name=key)
    tok.source = os.path.realpath(path) + "#" + key
    return tok
