"""alignkit's own versioned tokenizer file: save atomically, load with a hash check.

The file is JSON (gzipped when the name ends in ``.gz``)::

    {"format": "alignkit-bpe", "version": 1, "name": "gpt2",
     "pattern": "...", "normalizer": null, "add_prefix_space": false,
     "specials": [["<|endoftext|>", 50256]],
     "tokens": [["IQ==", 0], ...],      # base64 bytes + id, in merge-priority order
     "added": [],                       # decode-only tokens (base64 + id)
     "hash": "<sha256 of the canonical JSON of everything but name and hash>"}
"""

from __future__ import annotations

import binascii
import hashlib
import re
import gzip
import json
import os
from operator import itemgetter
from pathlib import Path

from alignkit.bpe._fileio import expect_dict, parse_json, read_bytes
from alignkit.bpe._persist import FORMAT, VERSION, Persistent
from alignkit.bpe.tokenizer import Tokenizer
from alignkit.errors import TokenizerFileError

_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def save_tokenizer(tok: Persistent, path: str | os.PathLike[str]) -> None:
    """Write ``tok`` to ``path`` atomically (temp file + fsync + rename).

    Example:
        >>> save_tokenizer(tok, "tok.json.gz")  # doctest: +SKIP
    """
    target = Path(path)
    doc = tok.to_dict()
    doc["name"] = tok.name
    doc["hash"] = tok.hash
    blob = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if target.name.endswith(".gz"):
        blob = gzip.compress(blob, compresslevel=9, mtime=0)
    from alignkit.io.atomic import atomic_write  # (uuid, tempfile...): only when saving

    atomic_write(target, blob)


def _pairs(doc: dict[str, object], key: str, where: str) -> tuple[list[bytes], list[int]]:
    """``(token bytes, ids)`` of the ``[base64, id]`` list under ``key``."""
    raw = doc.get(key)
    if not isinstance(raw, list):
        raise TokenizerFileError(f"{where}: '{key}' must be a list of [base64, id] pairs")
    try:
        tokens = list(map(binascii.a2b_base64, map(itemgetter(0), raw)))
        ids: list[int] = list(map(itemgetter(1), raw))
    except (binascii.Error, TypeError, IndexError, KeyError, ValueError):
        pass
    else:
        if all(tokens) and set(map(type, ids)) <= {int}:
            return tokens, ids
    for n, item in enumerate(raw):  # slow path: say which entry is wrong
        ok = isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and type(item[1]) is int
        if ok and not _B64.fullmatch(item[0]):
            raise TokenizerFileError(f"{where}: {key}[{n}] is not valid base64")
        if not ok:
            raise TokenizerFileError(f"{where}: {key}[{n}] must be [base64, id], found {item!r:.60}")
    raise TokenizerFileError(f"{where}: '{key}' is malformed")


def tokenizer_from_dict(
    doc: dict[str, object],
    where: str,
    *,
    require_hash: bool = False,
    trust_hash: bool = False,
    lists: dict[str, tuple[list[bytes], list[int]]] | None = None,
) -> Tokenizer:
    """Rebuild a tokenizer from its canonical dict, checking format, version and hash.

    ``trust_hash``: take the stored hash without recomputing it (only for bytes already
    known to be good, e.g. a file whose own sha256 was checked). ``lists``: the ``tokens``
    and ``added`` lists as ``(token bytes, ids)``, already read and checked by the compiled
    scanner (:func:`alignkit.bpe.loaders._model_scan.model_doc`); ``doc`` then holds
    placeholders under those keys.
    """
    if doc.get("format") != FORMAT:
        raise TokenizerFileError(f"{where}: not an alignkit tokenizer file (format {doc.get('format')!r})")
    version = doc.get("version")
    if not isinstance(version, int) or version > VERSION or version < 1:
        raise TokenizerFileError(
            f"{where}: file format version {version!r}, but this alignkit reads versions 1..{VERSION}; "
            "upgrade alignkit (pip install -U alignkit) or re-save the tokenizer with this version"
        )
    specials_raw = doc.get("specials")
    if not isinstance(specials_raw, list) or not all(
        isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], int) for p in specials_raw
    ):
        raise TokenizerFileError(f"{where}: 'specials' must be a list of [string, id] pairs")
    pattern, normalizer = doc.get("pattern"), doc.get("normalizer")
    if not isinstance(pattern, str) or not (normalizer is None or isinstance(normalizer, str)):
        raise TokenizerFileError(f"{where}: 'pattern' must be a string and 'normalizer' a string or null")
    name = doc.get("name")
    if lists is None:
        tokens, ids = _pairs(doc, "tokens", where)
        added_tokens, added_ids = _pairs(doc, "added", where)
    else:
        tokens, ids = lists["tokens"]
        added_tokens, added_ids = lists["added"]
    added = dict(zip(added_ids, added_tokens))
    tok = Tokenizer.__new__(Tokenizer)
    tok._setup(
        tokens, ids, added, {s: i for s, i in specials_raw}, pattern, normalizer,
        bool(doc.get("add_prefix_space", False)), name if isinstance(name, str) else None,
    )
    expected = doc.get("hash")
    if expected is None and require_hash:
        raise TokenizerFileError(f"{where}: no 'hash' field; re-save the tokenizer with Tokenizer.save()")
    if trust_hash and isinstance(expected, str):
        tok._hash = expected
    if expected is not None and expected != tok.hash:
        raise TokenizerFileError(
            f"{where}: content hash mismatch (file says {str(expected)[:12]}…, content is {tok.hash[:12]}…): "
            "the file is corrupted or was edited by hand; restore it or re-save it with Tokenizer.save()"
        )
    return tok


def load_model_file(path: str | Path, *, file_sha256: str | None = None) -> Tokenizer:
    """Load a tokenizer saved by :func:`save_tokenizer` (hash verified).

    ``file_sha256``: the sha256 of the file's (gunzipped) bytes when they are known
    (the bundled file); if the file matches it, its stored content hash is taken as
    verified instead of being recomputed. Otherwise the content hash is checked as usual.

    Example:
        >>> load_model_file("tok.json.gz").encode("hi")  # doctest: +SKIP
        [5303]
    """
    from alignkit.bpe.loaders import _model_scan

    data = read_bytes(path)
    known = file_sha256 is not None and hashlib.sha256(data).hexdigest() == file_sha256
    scanned = _model_scan.model_doc(data) if _model_scan.NATIVE else None
    if scanned is not None:  # compiled: token lists read straight from the bytes
        doc, lists = scanned
        tok = tokenizer_from_dict(doc, str(path), require_hash=True, trust_hash=known, lists=lists)
    else:  # pure build, or a file the scanner steps aside from: json.loads names any fault
        doc = expect_dict(parse_json(data, path), str(path))
        tok = tokenizer_from_dict(doc, str(path), require_hash=True, trust_hash=known)
    tok.source = str(Path(path).resolve())
    return tok


def rebuild(state: dict[str, object]) -> Tokenizer:
    """The tokenizer a pickled state names: reloaded from its source (hash checked) or its model."""
    if "source" in state:
        from alignkit.bpe.loaders import load_tokenizer

        fresh = load_tokenizer(str(state["source"]))
        if fresh.hash != state["hash"]:
            raise TokenizerFileError(
                f"{state['source']} changed since this tokenizer was pickled "
                f"(hash {fresh.hash[:12]} != {str(state['hash'])[:12]}); reload it"
            )
        return fresh
    model = state.get("model")
    if not isinstance(model, dict):
        raise TokenizerFileError("a pickled tokenizer without a source or a model: pickle it again")
    return tokenizer_from_dict(model, where="pickled tokenizer")
