"""Hugging Face ``tokenizer.json`` (byte-level BPE models), gzipped or not.

Supported: ``model.type`` BPE over a byte-level vocabulary; normalizer None,
NFC/NFKC/NFD/NFKD or a Sequence of those; pre-tokenizer ByteLevel (with
``use_regex`` → GPT-2's pattern, ``add_prefix_space`` honoured) or
Sequence[Split(Regex, Isolated), ByteLevel(use_regex=false)]; added tokens;
decoder ByteLevel; ``ignore_merges`` when every vocabulary entry is a byte or a
merge result (then it is what the core does anyway). ``truncation``, ``padding`` and the post-processor are
ignored (alignkit never truncates, pads or adds BOS inside the tokenizer).
Everything else is refused with a message naming it: never approximated.
"""

from __future__ import annotations

import json
from pathlib import Path

from alignkit.bpe._fileio import expect_dict, parse_json, read_bytes, token_bytes
from alignkit.bpe.loaders._json_scan import NATIVE, Scanned, scan_tokenizer_json
from alignkit.bpe.loaders.byte_level import rank_order, scanned_rank_order
from alignkit.bpe.patterns import GPT2, GPT2_ORIGINAL
from alignkit.bpe.tokenizer import Tokenizer
from alignkit.errors import TokenizerFileError

_FORMS = {"NFC", "NFKC", "NFD", "NFKD"}


def _refuse(where: str, what: str) -> TokenizerFileError:
    return TokenizerFileError(
        f"{where}: unsupported {what}; alignkit loads byte-level BPE tokenizers only and refuses "
        "what it cannot reproduce exactly"
    )


def _normalizer(spec: object, where: str) -> str | None:
    if spec is None:
        return None
    node = expect_dict(spec, f"{where}: normalizer")
    kind = node.get("type")
    if kind in _FORMS:
        return str(kind)
    if kind == "Sequence":
        items = node.get("normalizers")
        if not isinstance(items, list):
            raise _refuse(where, "normalizer Sequence without a 'normalizers' list")
        forms = [_normalizer(item, where) for item in items]
        return ",".join(f for f in forms if f) or None
    raise _refuse(where, f"normalizer {kind!r} (supported: {', '.join(sorted(_FORMS))}, Sequence of those)")


def _byte_level(node: dict[str, object], where: str) -> tuple[bool, bool]:
    """(use_regex, add_prefix_space) of a ByteLevel pre-tokenizer."""
    use_regex = node.get("use_regex", True)
    prefix = node.get("add_prefix_space", True)
    return bool(use_regex), bool(prefix)


def _pre_tokenizer(spec: object, where: str) -> tuple[str, bool]:
    """(split pattern, add_prefix_space)."""
    node = expect_dict(spec, f"{where}: pre_tokenizer")
    kind = node.get("type")
    if kind == "ByteLevel":
        use_regex, prefix = _byte_level(node, where)
        if not use_regex:
            raise _refuse(where, "ByteLevel pre-tokenizer with use_regex=false and no Split before it")
        return GPT2, prefix
    if kind == "Sequence":
        items = node.get("pretokenizers")
        if not isinstance(items, list) or len(items) != 2:
            raise _refuse(where, f"pre-tokenizer Sequence {items!r} (supported: [Split, ByteLevel])")
        split = expect_dict(items[0], where)
        level = expect_dict(items[1], where)
        if split.get("type") != "Split" or level.get("type") != "ByteLevel":
            raise _refuse(where, f"pre-tokenizer Sequence of {split.get('type')}, {level.get('type')} (supported: Split, ByteLevel)")
        pattern = split.get("pattern")
        regex = pattern.get("Regex") if isinstance(pattern, dict) else None
        if not isinstance(regex, str):
            raise _refuse(where, f"Split pattern {pattern!r} (only {{'Regex': ...}} is supported)")
        if split.get("behavior") != "Isolated" or split.get("invert", False):
            raise _refuse(where, f"Split behavior {split.get('behavior')!r}/invert={split.get('invert')} (only Isolated, not inverted)")
        use_regex, prefix = _byte_level(level, where)
        if use_regex:
            raise _refuse(where, "ByteLevel(use_regex=true) after a Split (two regex splits)")
        return (GPT2 if regex == GPT2_ORIGINAL else regex), prefix
    raise _refuse(where, f"pre-tokenizer {kind!r} (supported: ByteLevel, Sequence[Split, ByteLevel])")


def _check_model(model: dict[str, object], where: str) -> None:
    if model.get("type", "BPE") != "BPE":
        raise _refuse(where, f"model type {model.get('type')!r} (only BPE)")
    if model.get("dropout") not in (None, 0, 0.0):
        raise _refuse(where, f"BPE dropout {model.get('dropout')}")
    for key in ("continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(key):
            raise _refuse(where, f"{key}={model.get(key)!r}")
    if model.get("byte_fallback"):
        raise _refuse(where, "byte_fallback=true (a SentencePiece-style vocabulary)")


def _added_tokens(doc: dict[str, object], where: str, normalizer: str | None) -> tuple[dict[str, int], set[int]]:
    """(special tokens, every id that ``added_tokens`` names)."""
    specials: dict[str, int] = {}
    ids: set[int] = set()
    added_tokens = doc.get("added_tokens") or []
    if not isinstance(added_tokens, list):
        raise TokenizerFileError(f"{where}: added_tokens must be a list")
    for n, added in enumerate(added_tokens):
        entry = expect_dict(added, f"{where}: added_tokens[{n}]")
        content, tid = entry.get("content"), entry.get("id")
        if not isinstance(content, str) or not isinstance(tid, int):
            raise TokenizerFileError(f"{where}: added_tokens[{n}] needs a string 'content' and an integer 'id'")
        for flag in ("lstrip", "rstrip", "single_word"):
            if entry.get(flag):
                raise _refuse(where, f"added token {content!r} with {flag}=true")
        if entry.get("normalized") and normalizer:
            raise _refuse(where, f"added token {content!r} with normalized=true under normalizer {normalizer}")
        specials[content] = tid
        ids.add(tid)
    return specials, ids


def _fast(
    doc: dict[str, object], model: dict[str, object], where: str, normalizer: str | None
) -> tuple[list[bytes], list[int], dict[int, bytes], dict[str, int]] | None:
    """The vocabulary of a file in merge layout (see :mod:`.byte_level`), or None."""
    raw_vocab, raw_merges = model.get("vocab"), model.get("merges")
    if not isinstance(raw_vocab, dict) or not isinstance(raw_merges, list):
        return None
    try:
        specials, special_ids = _added_tokens(doc, where, normalizer)
    except TokenizerFileError:
        return None  # the general path raises it, after any error it finds first
    order = rank_order(raw_vocab, raw_merges, special_ids)
    return None if order is None else (*order, specials)


#: What the scanned ``model.vocab`` and ``model.merges`` values are replaced with before ``json.loads``.
_MARKS = ('"\\u0000vocab"', '"\\u0000merges"')


def scan_json(data: bytes) -> tuple[dict[str, object], Scanned] | None:
    """The document without its vocabulary and merges (``json.loads``) and those two, read natively.

    None when the scanner steps aside or the rest is not valid JSON (then
    ``json.loads`` of the whole file gives the answer or the error). In the
    document, ``model.vocab`` and ``model.merges`` are placeholder strings.

    Example:
        >>> doc, scanned = scan_json(b'{"model": {"vocab": {"a": 0}, "merges": []}, "x": null}')
        >>> doc, scanned.tokens
        ({'model': {'vocab': '\\x00vocab', 'merges': '\\x00merges'}, 'x': None}, [b'a'])
    """
    scanned = scan_tokenizer_json(data)
    if scanned is None:
        return None
    vs, ve, ms, me = scanned.spans
    v, m = _MARKS[0].encode(), _MARKS[1].encode()
    rest = data[:vs] + v + data[ve:ms] + m + data[me:] if vs < ms else data[:ms] + m + data[me:vs] + v + data[ve:]
    try:
        doc = json.loads(rest.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    model = doc.get("model") if isinstance(doc, dict) else None
    if not isinstance(model, dict) or model.get("vocab") != "\0vocab" or model.get("merges") != "\0merges":
        return None
    return doc, scanned


def _fast_scanned(
    doc: dict[str, object], scanned: Scanned, where: str, normalizer: str | None, *, dense: bool = False
) -> tuple[tuple[list[bytes], list[int], dict[int, bytes], dict[str, int]], dict[bytes, int] | None] | None:
    """``(what _fast gives, the rank dict)`` of a scanned file, or None.

    With ``dense``, the rank dict is None when the BPE ids are ``0 .. n - 1``: the
    tokens are then checked to be distinct by the core (see
    :func:`~alignkit.bpe.loaders.byte_level.scanned_rank_order`).
    """
    try:
        specials, special_ids = _added_tokens(doc, where, normalizer)
    except TokenizerFileError:
        return None
    order = scanned_rank_order(
        scanned.tokens, scanned.ids, scanned.increasing, scanned.merges, special_ids, dense=dense
    )
    if order is None:
        return None
    tokens, ids, added, ranks = order
    return (tokens, ids, added, specials), ranks


def _scanned_tokenizer(
    doc: dict[str, object],
    scanned: Scanned,
    where: str,
    normalizer: str | None,
    pattern: str,
    prefix: bool,
    name: str | None,
) -> Tokenizer | None:
    """The tokenizer of a scanned file in merge layout, or None (then the ``json.loads`` path decides).

    The usual layout (BPE ids ``0 .. n - 1``) builds no rank dict: the core indexes the
    tokens and finds a token written twice itself (then None, as the rank dict's check gives).
    """
    answer = _fast_scanned(doc, scanned, where, normalizer, dense=True)
    if answer is None:
        return None
    (tokens, ids, added, specials), ranks = answer
    return Tokenizer._from_scanned(tokens, ids, added, specials, ranks, pattern, normalizer, prefix, name)


def _general(
    doc: dict[str, object], model: dict[str, object], where: str, normalizer: str | None
) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]], dict[str, int]]:
    """``(vocab, merges, specials)`` of any supported file, with a precise message for each fault."""
    raw_vocab = expect_dict(model.get("vocab"), f"{where}: model.vocab")
    vocab: dict[int, bytes] = {}
    for token, tid in raw_vocab.items():
        if not isinstance(tid, int) or tid < 0:
            raise TokenizerFileError(f"{where}: model.vocab[{token!r}] is {tid!r}; ids must be integers >= 0")
        vocab[tid] = token_bytes(token, f"{where}: model.vocab")
    raw_merges = model.get("merges")
    if not isinstance(raw_merges, list):
        raise TokenizerFileError(f"{where}: model.merges must be a list")
    lines = [m if isinstance(m, str) else " ".join(str(x) for x in m) for m in raw_merges]
    from alignkit.bpe.loaders.gpt2_files import parse_merges  # (the general path only)

    merges = parse_merges(lines, f"{where}: model.merges")
    specials, special_ids = _added_tokens(doc, where, normalizer)
    for tid in special_ids:
        vocab.pop(tid, None)
    return vocab, merges, specials


def load_hf_json(path: str | Path) -> Tokenizer:
    """A tokenizer from a Hugging Face ``tokenizer.json`` (or ``.json.gz``).

    Example:
        >>> tok = load_hf_json("qwen3/tokenizer.json.gz")  # doctest: +SKIP
        >>> tok.encode("hello world")  # doctest: +SKIP
        [14990, 1879]
    """
    where = str(path)
    data = read_bytes(path)
    scan = scan_json(data) if NATIVE else None  # (interpreted, the byte loops cost more than json.loads)
    doc = scan[0] if scan is not None else expect_dict(parse_json(data, path), where)
    model = expect_dict(doc.get("model"), f"{where}: model")
    _check_model(model, where)
    normalizer = _normalizer(doc.get("normalizer"), where)
    pattern, prefix = _pre_tokenizer(doc.get("pre_tokenizer"), where)
    decoder = doc.get("decoder")
    if decoder is not None and expect_dict(decoder, where).get("type") != "ByteLevel":
        raise _refuse(where, f"decoder {expect_dict(decoder, where).get('type')!r} (only ByteLevel)")
    name = Path(path).parent.name or None
    tok: Tokenizer | None = None
    if scan is not None:
        tok = _scanned_tokenizer(doc, scan[1], where, normalizer, pattern, prefix, name)
        if tok is None:  # not in merge layout, or something the scanner leaves to json.loads
            doc = expect_dict(parse_json(data, path), where)
            model = expect_dict(doc.get("model"), f"{where}: model")
    if tok is None:
        fast = _fast(doc, model, where, normalizer)
        if fast is None:
            vocab, merges, specials = _general(doc, model, where, normalizer)
            tok = Tokenizer(
                vocab, merges, specials, pattern=pattern, normalizer=normalizer, add_prefix_space=prefix, name=name
            )
        else:
            tok = Tokenizer.__new__(Tokenizer)
            tok._setup(*fast, pattern, normalizer, prefix, name)
    if model.get("ignore_merges") and tok._added:
        # ignore_merges: a pre-token that is a vocabulary entry becomes that token. The core
        # does this for every BPE token; it equals HF only when no entry lies outside the merges.
        raise _refuse(
            where, f"ignore_merges=true with {len(tok._added)} vocabulary entries that no merge produces"
        )
    tok.source = str(Path(path).resolve())
    return tok

