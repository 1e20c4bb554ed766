"""GPT-2 style ``vocab.json`` + ``merges.txt`` (also the CS336 reference output format).

``vocab.json`` maps each token, written in GPT-2's printable byte-to-unicode
form, to its id; ``merges.txt`` lists one merge per line (``"Ġ t"``), in
priority order, after an optional ``#version`` header.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Mapping, Sequence

from alignkit.bpe._fileio import expect_dict, read_bytes, read_json, read_text, token_bytes
from alignkit.bpe.loaders._json_scan import NATIVE, scan_merges_text, scan_vocab_json
from alignkit.bpe.loaders.byte_level import ALPHABET, rank_order, scanned_rank_order
from alignkit.bpe.tokenizer import Tokenizer
from alignkit.errors import TokenizerFileError


def load_vocab(path: str | os.PathLike[str]) -> dict[int, bytes]:
    """id -> token bytes from a GPT-2 ``vocab.json``.

    Example:
        >>> load_vocab("gpt2/vocab.json")[995]  # doctest: +SKIP
        b' world'
    """
    raw = expect_dict(read_json(path), str(path))
    vocab: dict[int, bytes] = {}
    for token, tid in raw.items():
        if not isinstance(tid, int) or isinstance(tid, bool) or tid < 0:
            raise TokenizerFileError(f"{path}: token {token!r} has id {tid!r}; ids must be integers >= 0")
        if tid in vocab:
            raise TokenizerFileError(f"{path}: id {tid} is given to two tokens ({token!r} and another)")
        vocab[tid] = token_bytes(token, str(path))
    return vocab


def parse_merges(lines: list[str], where: str) -> list[tuple[bytes, bytes]]:
    """Merges from ``"a b"`` lines (header and blank lines skipped)."""
    merges: list[tuple[bytes, bytes]] = []
    for n, line in enumerate(lines, 1):
        if not line.strip() or (n == 1 and line.startswith("#version")):
            continue
        parts = line.rstrip("\r\n").split(" ")
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise TokenizerFileError(f"{where}:{n}: expected two tokens separated by one space, found {line!r}")
        merges.append((token_bytes(parts[0], f"{where}:{n}"), token_bytes(parts[1], f"{where}:{n}")))
    return merges


def load_merges(path: str | os.PathLike[str]) -> list[tuple[bytes, bytes]]:
    """Merges in priority order from a GPT-2 ``merges.txt``.

    Example:
        >>> load_merges("gpt2/merges.txt")[0]  # doctest: +SKIP
        (b' ', b't')
    """
    return parse_merges(read_text(path).split("\n"), str(path))


def load_vocab_merges(
    vocab_path: str | os.PathLike[str], merges_path: str | os.PathLike[str]
) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    """Both files at once: ``(vocab, merges)``, the CS336 ``Tokenizer`` arguments."""
    return load_vocab(vocab_path), load_merges(merges_path)


def load_rank_order(
    vocab_path: str | os.PathLike[str],
    merges_path: str | os.PathLike[str],
    special_tokens: Sequence[str] | Mapping[str, int],
) -> tuple[list[bytes], list[int], dict[int, bytes], dict[str, int]] | None:
    """``(BPE tokens in rank order, ids, decode-only tokens, specials)`` of files in merge layout.

    The fast path of ``Tokenizer(*load_vocab_merges(...), special_tokens)``: the
    same result when the files are laid out in merge order (see
    :mod:`alignkit.bpe.loaders.byte_level`), else None (then use that general path,
    which also gives the precise error messages). Specials given by name are
    those of them the vocabulary holds (as the GPT-2 pair loader wants).

    Example:
        >>> tokens, ids, added, specials = load_rank_order(  # doctest: +SKIP
        ...     "gpt2/vocab.json", "gpt2/merges.txt", ["<|endoftext|>"])
        >>> specials  # doctest: +SKIP
        {'<|endoftext|>': 50256}
    """
    scanned = scan_rank_order(vocab_path, merges_path, special_tokens) if NATIVE else None
    return json_rank_order(vocab_path, merges_path, special_tokens) if scanned is None else scanned[0]


def json_rank_order(
    vocab_path: str | os.PathLike[str],
    merges_path: str | os.PathLike[str],
    special_tokens: Sequence[str] | Mapping[str, int],
) -> tuple[list[bytes], list[int], dict[int, bytes], dict[str, int]] | None:
    """:func:`load_rank_order` through ``json.loads`` (every file the scanner leaves, and interpreted builds)."""
    raw = read_json(vocab_path)
    if not isinstance(raw, dict):
        return None
    lines = read_text(merges_path).split("\n")
    if lines and lines[0].startswith("#version"):
        del lines[0]
    if lines and not lines[-1]:
        lines.pop()
    if isinstance(special_tokens, Mapping):
        specials = dict(special_tokens)
    else:
        specials = {}
        for s in special_tokens:
            sid = raw.get(codecs.charmap_decode(s.encode("utf-8"), "strict", ALPHABET)[0])
            if type(sid) is int:
                specials[s] = sid  # (other ids: rank_order refuses the vocabulary)
    order = rank_order(raw, lines, set(specials.values()))  # type: ignore[arg-type]
    return None if order is None else (*order, specials)


def pair_tokenizer(
    vocab_path: str | os.PathLike[str],
    merges_path: str | os.PathLike[str],
    special_tokens: Sequence[str] | Mapping[str, int],
    pattern: str,
    normalizer: str | None,
    name: str | None,
) -> Tokenizer | None:
    """The tokenizer of a ``vocab.json`` + ``merges.txt`` pair in merge layout, or None.

    What ``Tokenizer._setup`` of :func:`load_rank_order`'s answer builds; None where that
    is None (then the caller's general path, ``Tokenizer(*load_vocab_merges(...), ...)``,
    builds it or names the fault). In the usual layout (BPE ids ``0 .. n - 1``) no rank
    dict is built: the core indexes the tokens and finds one written twice itself (then
    the ``json.loads`` path decides, as it does whenever the scanner steps aside).

    Example:
        >>> tok = pair_tokenizer("gpt2/vocab.json", "gpt2/merges.txt", ["<|endoftext|>"], GPT2, None, "gpt2")  # doctest: +SKIP
        >>> tok.special_tokens  # doctest: +SKIP
        {'<|endoftext|>': 50256}
    """
    scanned = scan_rank_order(vocab_path, merges_path, special_tokens, dense=True) if NATIVE else None
    if scanned is not None:
        (tokens, ids, added, specials), ranks = scanned
        scanned_tok = Tokenizer._from_scanned(tokens, ids, added, specials, ranks, pattern, normalizer, False, name)
        if scanned_tok is not None:
            return scanned_tok
    fast = json_rank_order(vocab_path, merges_path, special_tokens)
    if fast is None:
        return None
    tok = Tokenizer.__new__(Tokenizer)
    tok._setup(*fast, pattern, normalizer, False, name)
    return tok


def scan_rank_order(
    vocab_path: str | os.PathLike[str],
    merges_path: str | os.PathLike[str],
    special_tokens: Sequence[str] | Mapping[str, int],
    *,
    dense: bool = False,
) -> tuple[tuple[list[bytes], list[int], dict[int, bytes], dict[str, int]], dict[bytes, int] | None] | None:
    """``(what load_rank_order gives, token -> id of the BPE tokens)``, read by the compiled scanner.

    None whenever the scanner steps aside (then :func:`load_rank_order`'s
    ``json.loads`` path decides): a result here is always that path's result.
    With ``dense``, the rank dict is None when the BPE ids are ``0 .. n - 1``, and the
    tokens are not yet known to be distinct (see :func:`pair_tokenizer`).

    Example:
        >>> (tokens, ids, added, specials), ranks = scan_rank_order(  # doctest: +SKIP
        ...     "gpt2/vocab.json", "gpt2/merges.txt", ["<|endoftext|>"])
        >>> ranks[b" the"]  # doctest: +SKIP
        262
    """
    vocab = scan_vocab_json(read_bytes(vocab_path))
    text = read_bytes(merges_path)
    start = 0
    if text.startswith(b"#version"):  # the header line, which the general parser skips
        end = text.find(b"\n")
        start = len(text) if end < 0 else end + 1
        try:
            text[:start].decode("utf-8")
        except UnicodeDecodeError:
            return None
    merges = scan_merges_text(text, start)
    if vocab is None or merges is None:
        return None
    if isinstance(special_tokens, Mapping):
        specials = dict(special_tokens)
    else:
        specials = {}
        for s in special_tokens:
            try:
                specials[s] = vocab.ids[vocab.tokens.index(s.encode("utf-8"))]
            except ValueError:
                pass  # not in the vocabulary
    order = scanned_rank_order(vocab.tokens, vocab.ids, vocab.increasing, merges, set(specials.values()), dense=dense)
    if order is None:
        return None
    tokens, ids, added, ranks = order
    return (tokens, ids, added, specials), ranks
