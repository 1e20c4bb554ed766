"""Tokenizer files: the bundled default, alignkit's own format, tiktoken, tokenizer.json, vocab+merges, folders."""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import os
import re
from pathlib import Path

import pytest
from conftest import shared_path
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.bpe import Tokenizer, load_tokenizer
from alignkit.bpe.loaders import BUNDLED_HASH
from alignkit.bpe.loaders.hf_json import load_hf_json
from alignkit.bpe.loaders.tiktoken_file import load_tiktoken
from alignkit.bpe.model_file import load_model_file
from alignkit.errors import TokenizerFileError

TOK = ("data", "tokenizers")


def tiny() -> Tokenizer:
    vocab = {i: bytes([i]) for i in range(256)} | {256: b"ab", 257: b"\xe2\x82"}
    return Tokenizer(vocab, [(b"a", b"b")], ["<|end|>"], normalizer="NFKC", name="tiny")


# --------------------------------------------------------------------------- bundled default


def test_bundled_default_works_offline_and_is_gpt2() -> None:
    tok = load_tokenizer()
    assert tok.name == "gpt2" and tok.n_vocab == 50257 and tok.hash == BUNDLED_HASH
    assert tok.encode("hello world<|endoftext|>") == [31373, 995, 50256]
    assert load_tokenizer("r50k_base").hash == BUNDLED_HASH


def test_bundled_equals_the_original_files() -> None:
    vocab = shared_path(*TOK, "gpt2", "vocab.json")
    merges = shared_path(*TOK, "gpt2", "merges.txt")
    assert Tokenizer.from_files(str(vocab), str(merges), ["<|endoftext|>"]).hash == BUNDLED_HASH
    assert load_tokenizer(vocab).hash == BUNDLED_HASH
    assert load_tokenizer(shared_path(*TOK, "tiktoken", "r50k_base.tiktoken")).hash == BUNDLED_HASH


def test_bundled_file_sha_is_current_and_lets_the_content_hash_be_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundled file's own sha256 (which spares recomputing its content hash) is up to date."""
    import hashlib

    import alignkit.bpe
    from alignkit.bpe.loaders import BUNDLED_FILE, BUNDLED_FILE_SHA256

    path = Path(alignkit.bpe.__file__).parent / "data" / BUNDLED_FILE
    assert hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest() == BUNDLED_FILE_SHA256
    assert load_model_file(path, file_sha256=BUNDLED_FILE_SHA256).hash == BUNDLED_HASH
    # the known file's content hash is not recomputed
    monkeypatch.setattr(Tokenizer, "_content_hash", lambda self: "recomputed")
    assert load_model_file(path, file_sha256=BUNDLED_FILE_SHA256).hash == BUNDLED_HASH
    with pytest.raises(TokenizerFileError, match="content hash mismatch"):
        load_model_file(path, file_sha256="0" * 64)
    monkeypatch.undo()
    # a file that is not the known one is verified as usual, whatever sha is passed
    doc = json.loads(gzip.decompress(path.read_bytes()))
    doc["tokens"][300][1], doc["tokens"][301][1] = doc["tokens"][301][1], doc["tokens"][300][1]
    (tmp_path / "edited.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(TokenizerFileError, match="content hash mismatch"):
        load_model_file(tmp_path / "edited.json", file_sha256=BUNDLED_FILE_SHA256)


def test_loading_leaves_the_garbage_collector_as_it_was() -> None:
    import gc

    assert gc.isenabled()
    load_tokenizer()
    assert gc.isenabled()
    gc.disable()
    try:
        load_tokenizer()
        assert not gc.isenabled()
        with pytest.raises(TokenizerFileError):
            load_tokenizer("no/such/file")
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(TokenizerFileError):
        load_tokenizer("no/such/file")
    assert gc.isenabled()


def test_bundled_licence_file_ships_beside_it() -> None:
    import alignkit.bpe

    notice = Path(alignkit.bpe.__file__).parent / "data" / "NOTICE-gpt2.md"
    assert "Modified MIT License" in notice.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- own format


@pytest.mark.parametrize("filename", ["tok.json", "tok.json.gz"])
def test_save_load_round_trip(tmp_path: Path, filename: str) -> None:
    tok = tiny()
    path = tmp_path / "sub" / filename
    tok.save(str(path))
    assert sorted(p.name for p in path.parent.iterdir()) == [filename]  # no temp file left
    back = load_tokenizer(path)
    assert back.hash == tok.hash and back.name == "tiny" and back.normalizer == "NFKC"
    assert back.encode("ab<|end|>\u2460") == tok.encode("ab<|end|>\u2460")
    assert back.vocab == tok.vocab and back.special_tokens == tok.special_tokens
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == filename.endswith(".gz")


def test_save_is_deterministic(tmp_path: Path) -> None:
    tiny().save(str(tmp_path / "a.json.gz"))
    tiny().save(str(tmp_path / "b.json.gz"))
    assert (tmp_path / "a.json.gz").read_bytes() == (tmp_path / "b.json.gz").read_bytes()


def _edit(tmp_path: Path, change: dict[str, object]) -> Path:
    path = tmp_path / "tok.json"
    tiny().save(str(path))
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc.update(change)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_corrupted_file_is_refused(tmp_path: Path) -> None:
    path = _edit(tmp_path, {"specials": [["<|end|>", 999]]})
    with pytest.raises(TokenizerFileError, match="hash mismatch"):
        load_model_file(path)


def test_newer_version_is_refused_with_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(TokenizerFileError, match="upgrade alignkit"):
        load_model_file(_edit(tmp_path, {"version": 99}))


def test_missing_hash_and_bad_fields_are_refused(tmp_path: Path) -> None:
    doc = tiny().to_dict()
    (tmp_path / "a.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(TokenizerFileError, match="no 'hash'"):
        load_model_file(tmp_path / "a.json")
    with pytest.raises(TokenizerFileError, match=r"tokens\[0\]"):
        load_model_file(_edit(tmp_path, {"tokens": [["!!", 1]]}))
    (tmp_path / "b.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(TokenizerFileError, match=r"b\.json:1:2: invalid JSON"):
        load_tokenizer(tmp_path / "b.json")


# --------------------------------------------------------------------------- tiktoken


def test_tiktoken_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "cl100k_base.tiktoken"
    bad.write_text("IQ== 0\nnot-base64!! 1\n", encoding="utf-8")
    with pytest.raises(TokenizerFileError, match=r"cl100k_base\.tiktoken:2: .* not valid base64"):
        load_tiktoken(bad)
    bad.write_text("IQ== 0\nIQ== 1\n", encoding="utf-8")
    with pytest.raises(TokenizerFileError, match=":2: duplicate"):
        load_tiktoken(bad)
    bad.write_text("IQ== zero\n", encoding="utf-8")
    with pytest.raises(TokenizerFileError, match="expected 'BASE64 RANK'"):
        load_tiktoken(bad)
    bad.write_text("IQ== 0\n", encoding="utf-8")
    with pytest.raises(TokenizerFileError, match="has 100256 ranks but the file has 1"):
        load_tiktoken(bad)
    unknown = tmp_path / "mystery.bin"
    unknown.write_text("IQ== 0\n", encoding="utf-8")
    with pytest.raises(TokenizerFileError, match="pass name="):
        load_tokenizer(unknown)


def test_known_names_that_are_not_bundled_say_what_to_do() -> None:
    with pytest.raises(TokenizerFileError, match="does not ship with alignkit"):
        load_tokenizer("cl100k_base")
    with pytest.raises(TokenizerFileError, match="no such file"):
        load_tokenizer("no/such/tokenizer")


def test_tiktoken_path_with_name_suffix() -> None:
    path = shared_path(*TOK, "tiktoken", "p50k_base.tiktoken")
    tok = load_tokenizer(f"{path}#p50k_edit")
    assert tok.special_tokens["<|fim_suffix|>"] == 50283
    assert tok.encode("hello world") == [31373, 995]


# --------------------------------------------------------------------------- tokenizer.json


def _gpt2_json() -> dict[str, object]:
    doc = json.loads(shared_path(*TOK, "gpt2", "tokenizer.resaved-truncation50.json").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _write(tmp_path: Path, doc: dict[str, object], name: str = "tokenizer.json") -> Path:
    path = tmp_path / name
    blob = json.dumps(doc).encode("utf-8")
    path.write_bytes(gzip.compress(blob) if name.endswith(".gz") else blob)
    return path


def test_hf_json_gzip_and_truncation_ignored(tmp_path: Path) -> None:
    tok = load_hf_json(_write(tmp_path, _gpt2_json(), "tokenizer.json.gz"))
    assert tok.hash == BUNDLED_HASH
    assert len(tok.encode(" word" * 200)) == 200  # the file's truncation (50) is not applied


UNSUPPORTED = [
    ("model", {"type": "WordPiece", "vocab": {}}, "model type 'WordPiece'"),
    ("pre_tokenizer", {"type": "Metaspace", "replacement": "▁"}, "pre-tokenizer 'Metaspace'"),
    ("pre_tokenizer", {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Removed", "invert": False},
        {"type": "ByteLevel", "use_regex": False}]}, "Split behavior 'Removed'"),
    ("pre_tokenizer", {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"String": " "}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "use_regex": False}]}, "only {'Regex'"),
    ("pre_tokenizer", {"type": "ByteLevel", "use_regex": False}, "use_regex=false"),
    ("normalizer", {"type": "Lowercase"}, "normalizer 'Lowercase'"),
    ("decoder", {"type": "WordPiece"}, "decoder 'WordPiece'"),
]


@pytest.mark.parametrize(("key", "value", "message"), UNSUPPORTED, ids=[u[2] for u in UNSUPPORTED])
def test_hf_json_unsupported_parts_are_refused(tmp_path: Path, key: str, value: object, message: str) -> None:
    doc = _gpt2_json()
    if key == "model" and isinstance(value, dict):
        doc["model"] = value
    else:
        doc[key] = value
    with pytest.raises(TokenizerFileError, match="unsupported .*" + re.escape(message)):
        load_hf_json(_write(tmp_path, doc))


def test_hf_json_ignore_merges_exact_or_refused(tmp_path: Path) -> None:
    tokenizers = pytest.importorskip("tokenizers")
    doc = _gpt2_json()
    model = doc["model"]
    assert isinstance(model, dict)
    model["ignore_merges"] = True
    path = _write(tmp_path, doc)
    ours, ref = load_hf_json(path), tokenizers.Tokenizer.from_file(str(path))
    ref.no_truncation()
    text = shared_path("data", "corpora", "cs336", "address.txt").read_text(encoding="utf-8")
    assert ours.encode(text) == ref.encode(text, add_special_tokens=False).ids
    vocab = model["vocab"]
    assert isinstance(vocab, dict)
    vocab["ĠorphanĠtoken"] = 50257  # an entry no merge produces: HF would emit it, the core cannot
    with pytest.raises(TokenizerFileError, match="ignore_merges=true with 1 vocabulary entries"):
        load_hf_json(_write(tmp_path, doc))


@pytest.mark.parametrize(("field", "value"), [("dropout", 0.1), ("byte_fallback", True)])
def test_hf_json_model_options_are_refused(tmp_path: Path, field: str, value: object) -> None:
    doc = _gpt2_json()
    model = doc["model"]
    assert isinstance(model, dict)
    model[field] = value
    with pytest.raises(TokenizerFileError, match=field):
        load_hf_json(_write(tmp_path, doc))


def test_hf_json_added_token_flags_are_refused(tmp_path: Path) -> None:
    doc = _gpt2_json()
    doc["added_tokens"] = [{"id": 50256, "content": "<|endoftext|>", "lstrip": True, "special": True}]
    with pytest.raises(TokenizerFileError, match="lstrip=true"):
        load_hf_json(_write(tmp_path, doc))


def test_hf_json_prefix_space_matches_hf(tmp_path: Path) -> None:
    tokenizers = pytest.importorskip("tokenizers")
    doc = _gpt2_json()
    doc["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    path = _write(tmp_path, doc)
    ours, ref = load_hf_json(path), tokenizers.Tokenizer.from_file(str(path))
    ref.no_truncation()
    for text in ["hello", " hello", "a<|endoftext|>b", "\nx"]:
        assert ours.encode(text) == ref.encode(text, add_special_tokens=False).ids


def test_non_byte_level_vocab_is_refused(tmp_path: Path) -> None:
    doc = _gpt2_json()
    model = doc["model"]
    assert isinstance(model, dict)
    model["vocab"] = {"日本": 0}
    with pytest.raises(TokenizerFileError, match="not a byte-level BPE"):
        load_hf_json(_write(tmp_path, doc))


# --------------------------------------------------------------------------- vocab.json + merges.txt


def test_cs336_reference_output_format_specials_first() -> None:
    vocab = shared_path("data", "corpora", "cs336", "train-bpe-reference-vocab.json")
    merges = shared_path("data", "corpora", "cs336", "train-bpe-reference-merges.txt")
    tok = Tokenizer.from_files(str(vocab), str(merges), ["<|endoftext|>"])
    assert tok.special_tokens == {"<|endoftext|>": 0} and tok.n_vocab == 500
    text = "the cat sat<|endoftext|>on the mat"
    assert tok.decode(tok.encode(text)) == text and tok.encode(text).count(0) == 1


def test_merges_file_errors(tmp_path: Path) -> None:
    (tmp_path / "vocab.json").write_text(json.dumps({"a": 0}), encoding="utf-8")
    (tmp_path / "merges.txt").write_text("#version: 0.2\na b c\n", encoding="utf-8")
    with pytest.raises(TokenizerFileError, match=r"merges\.txt:2: expected two tokens"):
        Tokenizer.from_files(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    (tmp_path / "vocab.json").write_text(json.dumps({"a": "zero"}), encoding="utf-8")
    with pytest.raises(TokenizerFileError, match="ids must be integers"):
        Tokenizer.from_files(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    (tmp_path / "merges.txt").unlink()
    with pytest.raises(TokenizerFileError, match="needs merges.txt beside it"):
        load_tokenizer(tmp_path / "vocab.json")


# --------------------------------------------------------------------------- folders


def _link(folder: Path, **files: Path) -> Path:
    folder.mkdir(exist_ok=True)
    for name, target in files.items():
        os.symlink(target, folder / name.replace("__", "."))
    return folder


def test_llama3_folder_tokenizer_model_plus_config(tmp_path: Path) -> None:
    folder = _link(
        tmp_path / "Meta-Llama-3-8B-Instruct",
        tokenizer__model=shared_path(*TOK, "llama3", "tokenizer.model"),
        tokenizer_config__json=shared_path(*TOK, "llama3", "Meta-Llama-3-8B-Instruct", "tokenizer_config.json"),
    )
    tok = load_tokenizer(folder)
    assert len(tok.special_tokens) == 256 and tok.special_tokens["<|eot_id|>"] == 128009
    assert tok.encode("<|begin_of_text|>hello world<|eot_id|>") == [128000, 15339, 1917, 128009]
    assert tok.name == "Meta-Llama-3-8B-Instruct"


def test_qwen3_folder_without_tokenizer_json_equals_with(tmp_path: Path) -> None:
    q = ("data", "tokenizers", "qwen3")
    folder = _link(
        tmp_path / "qwen3",
        vocab__json=shared_path(*q, "vocab.json"),
        merges__txt=shared_path(*q, "merges.txt"),
        tokenizer_config__json=shared_path(*q, "tokenizer_config.json"),
    )
    from_pair = load_tokenizer(folder)
    from_json = load_tokenizer(shared_path(*q))
    assert from_pair.hash == from_json.hash
    assert from_pair.special_tokens["<think>"] == 151667 and from_pair.normalizer == "NFC"


def test_folder_with_unknown_class_or_nothing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TokenizerFileError, match="no tokenizer found"):
        load_tokenizer(tmp_path)
    (tmp_path / "vocab.json").write_text("{}", encoding="utf-8")
    (tmp_path / "merges.txt").write_text("", encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "LlamaTokenizer"}), encoding="utf-8")
    with pytest.raises(TokenizerFileError, match="split pattern is unknown"):
        load_tokenizer(tmp_path)


# --------------------------------------------------------------------------- fast paths == general paths

REAL_JSON = [("qwen3", "tokenizer.json.gz"), ("claude-legacy", "tokenizer.json"), ("gpt2", "tokenizer.resaved-truncation50.json")]
_QWEN_SLOW = pytest.mark.slow  # the general path on Qwen's 151k merges takes seconds in the pure build


def _general_order(
    vocab: dict[int, bytes], merges: list[tuple[bytes, bytes]], specials: dict[str, int] | list[str]
) -> tuple[list[tuple[bytes, int]], dict[int, bytes], dict[str, int]]:
    from alignkit.bpe._vocab import bpe_order

    return bpe_order(vocab, merges, specials)


@pytest.mark.parametrize(
    "parts", [pytest.param(p, marks=_QWEN_SLOW) if p[0] == "qwen3" else p for p in REAL_JSON], ids=["/".join(p) for p in REAL_JSON]
)
def test_hf_json_fast_path_is_taken_and_equals_the_general_path(parts: tuple[str, str]) -> None:
    from alignkit.bpe._fileio import read_json
    from alignkit.bpe.loaders import hf_json

    doc = read_json(shared_path(*TOK, *parts))
    assert isinstance(doc, dict)
    model = doc["model"]
    normalizer = hf_json._normalizer(doc.get("normalizer"), "x")
    fast = hf_json._fast(doc, model, "x", normalizer)
    assert fast is not None, "the real file should be in merge layout"
    tokens, ids, added, specials = fast
    assert (list(zip(tokens, ids)), added, specials) == _general_order(*hf_json._general(doc, model, "x", normalizer))


@pytest.mark.parametrize(
    ("folder", "specials"),
    [("gpt2", ["<|endoftext|>"]), pytest.param("qwen3", {"<|endoftext|>": 151643, "<|im_end|>": 151645}, marks=_QWEN_SLOW)],
)
def test_vocab_merges_fast_path_is_taken_and_equals_the_general_path(folder: str, specials: list[str] | dict[str, int]) -> None:
    from alignkit.bpe.loaders.gpt2_files import load_rank_order, load_vocab_merges

    vocab_path, merges_path = shared_path(*TOK, folder, "vocab.json"), shared_path(*TOK, folder, "merges.txt")
    fast = load_rank_order(vocab_path, merges_path, specials)
    assert fast is not None
    tokens, ids, added, found = fast
    vocab, merges = load_vocab_merges(vocab_path, merges_path)
    assert (list(zip(tokens, ids)), added, found) == _general_order(vocab, merges, specials)


@pytest.mark.parametrize("name", ["r50k_base", "p50k_base", "cl100k_base", "o200k_base"])
def test_tiktoken_bulk_parse_equals_line_by_line(name: str) -> None:
    from alignkit.bpe.loaders.tiktoken_file import _well_formed, parse_ranks

    path = shared_path(*TOK, "tiktoken", f"{name}.tiktoken")
    data = path.read_bytes()
    fast = _well_formed(data)
    assert fast is not None and fast == parse_ranks(data.decode(), str(path))
    assert list(fast.items()) == list(parse_ranks(data.decode(), str(path)).items())


def _printable(data: bytes) -> str:
    from alignkit.bpe._fileio import bytes_to_unicode

    table = bytes_to_unicode()
    return "".join(table[b] for b in data)


@st.composite
def merge_layout_files(draw: st.DrawFn) -> tuple[dict[str, object], list[object], dict[str, int]]:
    """A small byte-level vocabulary in merge layout, then perhaps spoilt in one way."""
    specials_first = draw(st.booleans())
    base = 1 if specials_first else 0
    byte_order = draw(st.permutations(range(256)))
    tokens = [bytes([b]) for b in byte_order]
    merges: list[tuple[bytes, bytes]] = []
    for _ in range(draw(st.integers(0, 12))):
        a, b = draw(st.sampled_from(tokens)), draw(st.sampled_from(tokens))
        if a + b not in tokens:
            tokens.append(a + b)
            merges.append((a, b))
    vocab: dict[str, object] = {_printable(t): base + i for i, t in enumerate(tokens)}
    specials = {"<s>": 0 if specials_first else len(tokens)}
    if specials_first:
        vocab = {"<s>": 0, **vocab}
    raw: list[object] = [f"{_printable(a)} {_printable(b)}" for a, b in merges]
    if draw(st.booleans()):
        raw = [[_printable(a), _printable(b)] for a, b in merges]
    spoil = draw(st.sampled_from(["none", "swap", "drop", "extra", "bool", "dup_id", "header", "space", "blank", "foreign", "special_made", "shuffle_vocab"]))
    keys = list(vocab)
    if spoil == "swap" and len(raw) > 1:
        raw[0], raw[1] = raw[1], raw[0]
    elif spoil == "drop" and raw:
        raw.pop(draw(st.integers(0, len(raw) - 1)))
    elif spoil == "extra":
        vocab["\u0120zz"] = len(vocab) + 5
    elif spoil == "bool":
        vocab[keys[1]] = True
    elif spoil == "dup_id":
        vocab[keys[-1]] = vocab[keys[-2]]
    elif spoil == "header":
        raw.insert(0, "#version: 0.2")
    elif spoil == "space" and raw and isinstance(raw[0], str):
        raw[0] = raw[0] + " x"
    elif spoil == "blank":
        raw.insert(draw(st.integers(0, len(raw))), "")
    elif spoil == "foreign":
        vocab["a\u3000b"] = len(vocab) + 1
    elif spoil == "special_made" and merges:
        specials = {_printable(merges[-1][0] + merges[-1][1]): vocab[_printable(merges[-1][0] + merges[-1][1])]}  # type: ignore[dict-item]
    elif spoil == "shuffle_vocab":
        vocab = dict(draw(st.permutations(list(vocab.items()))))
    return vocab, raw, specials


@given(merge_layout_files())
@settings(max_examples=100, deadline=None)
def test_fast_path_result_is_always_the_general_result(case: tuple[dict[str, object], list[object], dict[str, int]]) -> None:
    """Whenever the fast path answers, its answer is the general path's (else it steps aside)."""
    from alignkit.bpe.loaders import hf_json

    from alignkit.bpe.loaders import byte_level

    vocab, merges, specials = case
    doc: dict[str, object] = {"model": {"vocab": vocab, "merges": merges}}
    doc["added_tokens"] = [{"content": s, "id": i} for s, i in specials.items()]
    answers = []
    native = getattr(byte_level, "NATIVE")
    try:
        for flag in (True, False):  # the compiled helpers' path and the codec/joined-text path
            setattr(byte_level, "NATIVE", flag)
            answers.append(hf_json._fast(doc, doc["model"], "x", None))  # type: ignore[arg-type]
    finally:
        setattr(byte_level, "NATIVE", native)
    assert answers[0] == answers[1]
    fast = answers[0]
    try:
        general = _general_order(*hf_json._general(doc, doc["model"], "x", None))  # type: ignore[arg-type]
    except TokenizerFileError:
        assert fast is None
        return
    if fast is not None:
        tokens, ids, added, found = fast
        assert (list(zip(tokens, ids)), added, found) == general


@given(
    st.lists(st.tuples(st.binary(min_size=1, max_size=4), st.integers(0, 40)), min_size=1, max_size=8),
    st.sampled_from(["\n", "\r\n", "\n\n", " \n"]),
    st.sampled_from([" ", "  ", "\t"]),
    st.booleans(),
    st.sampled_from(["", "+", "0", "=", "!"]),
)
@settings(max_examples=150, deadline=None)
def test_tiktoken_bulk_parse_answers_only_when_line_parse_agrees(
    lines: list[tuple[bytes, int]], newline: str, space: str, final: bool, junk: str
) -> None:
    import base64

    from alignkit.bpe.loaders.tiktoken_file import _well_formed, parse_ranks

    text = newline.join(f"{base64.b64encode(t).decode()}{space}{junk if k == 0 else ''}{r}" for k, (t, r) in enumerate(lines))
    text += newline if final else ""
    fast = _well_formed(text.encode())
    try:
        slow = parse_ranks(text, "r.tiktoken")
    except TokenizerFileError:
        assert fast is None
        return
    assert fast is None or list(fast.items()) == list(slow.items())
    if newline == "\n" and space == " " and junk in ("", "0"):
        assert fast is not None  # canonical files do take the fast path


_PRINTABLE_CHARS = st.sampled_from(sorted(set(_printable(bytes(range(256))))))
_ANY_CHARS = st.one_of(_PRINTABLE_CHARS, st.characters(max_codepoint=0x200), st.sampled_from(["\n", "\ud800", "\u3000", " "]))


@given(st.lists(st.one_of(st.text(_PRINTABLE_CHARS, max_size=6), st.text(_ANY_CHARS, max_size=6)), max_size=12))
@settings(max_examples=300, deadline=None)
def test_compiled_printable_converter_equals_the_codec(tokens: list[str]) -> None:
    """The per-character converter (compiled) and the codec (interpreted builds) agree, and on bad input both say None."""
    import codecs

    from alignkit.bpe.loaders import byte_level
    from alignkit.bpe.loaders._printable import joined_to_bytes

    try:
        expected: list[bytes] | None = [codecs.charmap_encode(t, "strict", byte_level._TO_BYTES)[0] for t in tokens]
    except UnicodeEncodeError:
        expected = None
    assert byte_level.printable_to_bytes(tokens) == expected
    if tokens and all("\n" not in t and "\ud800" not in t for t in tokens):
        assert joined_to_bytes("\n".join(tokens).encode("utf-8"), byte_level._HIGH) == expected


def test_compiled_printable_converter_on_a_real_vocabulary() -> None:
    import codecs

    from alignkit.bpe.loaders import byte_level
    from alignkit.bpe.loaders._printable import joined_to_bytes

    keys = list(json.loads(shared_path(*TOK, "gpt2", "vocab.json").read_text(encoding="utf-8")))
    expected = [codecs.charmap_encode(t, "strict", byte_level._TO_BYTES)[0] for t in keys]
    assert joined_to_bytes("\n".join(keys).encode("utf-8"), byte_level._HIGH) == expected


def test_from_files_fast_path_equals_the_general_constructor() -> None:
    from alignkit.bpe.loaders.gpt2_files import load_vocab_merges

    vocab_path, merges_path = shared_path(*TOK, "gpt2", "vocab.json"), shared_path(*TOK, "gpt2", "merges.txt")
    vocab, merges = load_vocab_merges(vocab_path, merges_path)
    # specials found in the vocabulary (fast path), one that is not (general path: a new id), none
    for specials in (["<|endoftext|>"], ["<|endoftext|>", "<|not in the vocabulary|>"]):
        fast = Tokenizer.from_files(vocab_path, merges_path, specials)
        general = Tokenizer(vocab, merges, specials)
        assert fast.hash == general.hash and fast.special_tokens == general.special_tokens


@given(st.one_of(st.binary(max_size=12).map(lambda b: base64.b64encode(b)),
                 st.text(alphabet="ABCDab09+/=", max_size=12).map(str.encode)))
@settings(max_examples=400, deadline=None)
def test_rank_file_base64_agrees_with_b64decode(token: bytes) -> None:
    """The compiled parser's base64: what it accepts decodes as ``b64decode(validate=True)``;
    every ``b64encode`` output is accepted."""
    from alignkit.bpe.loaders._rank_file import canonical_ranks

    got = canonical_ranks(token + b" 7\n")
    try:
        want = base64.b64decode(token, validate=True)
    except binascii.Error:
        assert got is None
        return
    if got is not None:
        assert got == {want: 7}
    if token and token == base64.b64encode(want):
        assert got == {want: 7}
