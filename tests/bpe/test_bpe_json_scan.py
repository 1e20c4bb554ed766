"""The compiled scanner of tokenizer.json / vocab.json / merges.txt (alignkit.bpe.loaders._json_scan).

Whatever it answers must be what ``json.loads`` and the general loader give; whatever
it cannot read exactly it must leave to them (None). Property tests build documents
with every JSON string form (raw UTF-8, ``\\uXXXX`` in either case, ``\\"``, ``\\/``...),
odd whitespace, decoy keys, duplicate keys and broken syntax.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import shared_path
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.bpe._fileio import bytes_to_unicode, read_bytes
from alignkit.bpe._vocab import bpe_order
from alignkit.bpe.loaders import gpt2_files, hf_json
from alignkit.bpe.loaders._json_scan import NATIVE, scan_merges_text, scan_vocab_json
from alignkit.errors import TokenizerFileError

TOK = ("data", "tokenizers")
_CHAR = bytes_to_unicode()
_BYTE = {c: b for b, c in _CHAR.items()}
ALPHABET = [_CHAR[b] for b in range(256)]
#: Interpreted, the scanner's byte loops are slow: fewer examples there (the compiled suite runs them all).
EXAMPLES = 250 if NATIVE else 50


def printable(data: bytes) -> str:
    return "".join(_CHAR[b] for b in data)


def as_bytes(token: str) -> bytes | None:
    """A token's bytes, or None when a character is outside GPT-2's alphabet."""
    try:
        return bytes(_BYTE[c] for c in token)
    except KeyError:
        return None


# --------------------------------------------------------------------------- JSON text with every string form


@st.composite
def json_string(draw: st.DrawFn, text: str) -> str:
    """``text`` as a JSON string literal, each character written in a randomly chosen legal form."""
    out = ['"']
    for c in text:
        form = draw(st.sampled_from(["raw", "u", "U"]))
        if c == '"' or c == "\\":
            out.append(draw(st.sampled_from(["\\" + c, f"\\u{ord(c):04x}"])))
        elif c == "/" and form == "U":
            out.append("\\/")
        elif ord(c) < 0x20 or form != "raw" or 0xD800 <= ord(c) < 0xE000:
            code = f"{ord(c):04x}" if ord(c) < 0x10000 else None
            if code is None:  # astral: a surrogate pair, or raw
                out.append(c)
            else:
                out.append("\\u" + (code.upper() if form == "U" else code))
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


WS = st.sampled_from(["", " ", "\n", "\n        ", "\n      ", "\t", "\r\n  ", "\n" + " " * 13])
ODD_CHARS = st.sampled_from([" ", "\u3000", "\n", "\x00", "\\", '"', "/", "\u0144", "\u00ad", "é", "\U0001f600"])


@st.composite
def token_text(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(st.one_of(st.sampled_from(ALPHABET), ODD_CHARS), max_size=4))
    return draw(st.text(st.sampled_from(ALPHABET), min_size=1, max_size=4))


@st.composite
def tokenizer_documents(draw: st.DrawFn) -> str:
    """A tokenizer.json-like text: merge layout most of the time, then perhaps spoilt."""
    tokens = [bytes([b]) for b in draw(st.permutations(range(256)))]
    merges: list[tuple[bytes, bytes]] = []
    for _ in range(draw(st.integers(0, 8))):
        a, b = draw(st.sampled_from(tokens)), draw(st.sampled_from(tokens))
        if a + b not in tokens:
            tokens.append(a + b)
            merges.append((a, b))
    entries: list[tuple[str, str]] = []  # (key JSON, value JSON)
    first = draw(st.integers(0, 2))  # ids start at 0 or after specials
    for i, t in enumerate(tokens):
        entries.append((draw(json_string(printable(t))), str(first + i)))
    for _ in range(draw(st.integers(0, 2))):  # extra (decode-only or odd) entries
        entries.append((draw(json_string(draw(token_text()))), str(len(entries) + first + draw(st.integers(0, 3)))))
    spoil = draw(st.sampled_from(["none"] * 6 + ["dup_key", "float", "neg", "lead0", "bool", "big", "shuffle", "trailing"]))
    if spoil == "dup_key" and len(entries) > 300:
        entries.append((entries[draw(st.integers(0, len(entries) - 1))][0], str(len(entries) + 7)))
    elif spoil == "float":
        entries[-1] = (entries[-1][0], entries[-1][1] + ".0")
    elif spoil == "neg":
        entries[-1] = (entries[-1][0], "-" + entries[-1][1])
    elif spoil == "lead0":
        entries[-1] = (entries[-1][0], "0" + entries[-1][1])
    elif spoil == "bool":
        entries[-1] = (entries[-1][0], "true")
    elif spoil == "big":
        entries[-1] = (entries[-1][0], "1" + "0" * 19)
    elif spoil == "shuffle":
        entries = draw(st.permutations(entries))
    ws = draw(WS)
    vocab = "{" + ",".join(f"{ws}{k}{draw(WS)}:{draw(WS)}{v}" for k, v in entries) + ws + "}"
    if spoil == "trailing":
        vocab = vocab[:-1] + ",}"
    items = []
    string_form = draw(st.booleans())
    for a, b in merges:
        if string_form:
            items.append(draw(json_string(printable(a) + " " + printable(b))))
        else:
            items.append(f"[{draw(WS)}{draw(json_string(printable(a)))},{draw(WS)}{draw(json_string(printable(b)))}{draw(WS)}]")
    if draw(st.integers(0, 5)) == 0:  # an odd merge: blank, header, three parts, a number
        odd = draw(st.sampled_from(['""', '"#version: 0.2"', '"a b c"', "3", '["a"]', '["a", ""]', '"a  b"', '"\\u0020 a"']))
        items.insert(draw(st.integers(0, len(items))), odd)
    merges_json = "[" + ",".join(ws + m for m in items) + ws + "]"
    specials = [f'{{"id": {first - 1 - k}, "content": "<s{k}>", "special": true}}' for k in range(first)]
    members = [
        '"version": "1.0"',
        '"added_tokens": [' + ", ".join(specials) + "]",
        '"decoy": {"model": {"vocab": {}, "merges": [1]}, "text": "\\"model\\": {\\"vocab\\": {}}"}',
        '"model": {' + draw(st.sampled_from(['"type": "BPE", ', '"dropout": null, "a": [1, {"b": "}"}], ', ""]))
        + f'"vocab":{draw(WS)}{vocab},{draw(WS)}"merges": {merges_json}'
        + draw(st.sampled_from(["", ', "ignore_merges": false', ', "vocab": {}', ', "merges": []'])) + "}",
        '"normalizer": null',
        '"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "merges": "x"}',
    ]
    if draw(st.booleans()):
        members = draw(st.permutations(members))
    doc = "{" + ",".join(ws + m for m in members) + ws + "}" + draw(st.sampled_from(["", "\n", " ", " x", "}"]))
    return doc


def _json_answer(text: str) -> tuple[object, list[tuple[bytes, int]] | None, list[tuple[bytes, bytes]] | None] | None:
    """(document, vocabulary as bytes in dict order, merges as byte pairs) by ``json.loads``; None if invalid."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    model = doc.get("model") if isinstance(doc, dict) else None
    if not isinstance(model, dict):
        return doc, None, None
    vocab, merges = model.get("vocab"), model.get("merges")
    pairs = None
    if isinstance(vocab, dict):
        converted = [(as_bytes(k), v) for k, v in vocab.items()]
        if all(t is not None and type(v) is int for t, v in converted):
            pairs = [(t, v) for t, v in converted if t is not None and isinstance(v, int)]
    split: list[tuple[bytes, bytes]] | None = None
    if isinstance(merges, list):
        split = []
        for m in merges:
            parts = m.split(" ") if isinstance(m, str) else m
            if not (isinstance(parts, list) and len(parts) == 2 and all(isinstance(p, str) and p for p in parts)):
                split = None
                break
            a, b = as_bytes(parts[0]), as_bytes(parts[1])
            if a is None or b is None:
                split = None
                break
            split.append((a, b))
    return doc, pairs, split


@given(tokenizer_documents())
@settings(max_examples=EXAMPLES, deadline=None)
def test_scan_agrees_with_json_loads(text: str) -> None:
    """Whenever the scanner answers, the document is valid JSON and every value it read is json.loads' value."""
    data = text.encode("utf-8", "surrogatepass")
    scanned = hf_json.scan_json(data)
    answer = _json_answer(text)
    if scanned is None:
        return
    assert answer is not None, "the scanner accepted a document json.loads refuses"
    doc, pairs, merges = answer
    rest, parts = scanned
    assert isinstance(doc, dict) and isinstance(doc["model"], dict)
    assert {k: v for k, v in rest.items() if k != "model"} == {k: v for k, v in doc.items() if k != "model"}
    assert {k: v for k, v in rest["model"].items() if k not in ("vocab", "merges")} == {  # type: ignore[attr-defined]
        k: v for k, v in doc["model"].items() if k not in ("vocab", "merges")
    }
    assert parts.merges.pairs() == merges
    if len(set(parts.tokens)) == len(parts.tokens):  # (a key written twice: json keeps one, the caller refuses)
        assert pairs == list(zip(parts.tokens, parts.ids))


@given(tokenizer_documents())
@settings(max_examples=EXAMPLES, deadline=None)
def test_scanned_fast_path_is_the_general_result(text: str) -> None:
    """The scanned path answers only with what the general loader builds (or steps aside)."""
    scanned = hf_json.scan_json(text.encode("utf-8", "surrogatepass"))
    if scanned is None:
        return
    rest, parts = scanned
    fast = hf_json._fast_scanned(rest, parts, "x", None)
    doc = json.loads(text)
    try:
        vocab, merges, specials = hf_json._general(doc, doc["model"], "x", None)
        general = bpe_order(vocab, merges, specials)
    except TokenizerFileError:
        assert fast is None
        return
    if fast is not None:
        (tokens, ids, added, found), ranks = fast
        assert (list(zip(tokens, ids)), added, found) == general
        assert ranks == dict(zip(tokens, ids))


def test_common_encodings_take_the_scanner_path() -> None:
    """json.dumps output (ASCII-escaped or not, indented or not) of a merge-layout file is read by the scanner."""
    vocab = {printable(bytes([b])): b for b in range(256)} | {"Ġt": 256, "he": 257, '"/\\': 258, "<|end|>": 259}
    doc = {
        "added_tokens": [{"id": 259, "content": "<|end|>", "special": True}],
        "model": {"type": "BPE", "vocab": vocab, "merges": ["Ġ t", "h e", '"/ \\']},
    }
    for ensure_ascii in (True, False):
        for indent in (None, 2):
            data = json.dumps(doc, ensure_ascii=ensure_ascii, indent=indent).encode("utf-8")
            scanned = hf_json.scan_json(data)
            assert scanned is not None
            fast = hf_json._fast_scanned(scanned[0], scanned[1], "x", None)
            assert fast is not None
            (tokens, _, _, specials), _ = fast
            assert tokens[-3:] == [b" t", b"he", b'"/\\'] and specials == {"<|end|>": 259}


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"[]",
        b'{"model": {"vocab": {"a": 0}, "merges": []}} {}',
        b'{"model": {"vocab": {"a": 0}, "merges": []}, "model": {}}',
        b'{"model": {"vocab": {"a": 0}, "vocab": {"a": 0}, "merges": []}}',
        b'{"model": {"vocab": {"a": 0}, "merges": [], "merges": []}}',
        b'{"model": {"merges": [], "vocab": {"a": 0}, "x": [1, 2], "vocab": {}}}',
        b'{"model": {}}',
        b"{}",
        b'{"x": 1}',
        b'{"model": {"vocab": {"a": 0}, "merges": []} "x": 1}',
        b'{"model": {"vocab": {"a": 0} "merges": []}}',
        b'{"mod\\u0065l": {"vocab": {"a": 0}, "merges": []}}',
        b'{"model": {"vocab": {"a": 0}, "merges": []}',
        b'{"model": {"vocab": {"a": 0,}, "merges": []}}',
        b'{"model": {"vocab": {"a": 0}, "merges": ["a b",]}}',
        b'{"model": {"vocab": {"a": 0}}}',
        b'{"model": {"vocab": {"a\xff": 0}, "merges": []}}',
        b'{"model": {"vocab": {"a\\n": 0}, "merges": []}}',
        b'{"model": {"vocab": {"\\ud800": 0}, "merges": []}}',
        b'{"model": {"vocab": {"a": 1e3}, "merges": []}}',
        b'\xef\xbb\xbf{"model": {"vocab": {"a": 0}, "merges": []}}',
    ],
)
def test_scanner_steps_aside(text: bytes) -> None:
    assert hf_json.scan_json(text) is None


def test_cursor_object_walk() -> None:
    """Cursor.enter / member / member_end: which wanted key, where its value lies, repeats refused."""
    from alignkit.bpe.loaders._json_cursor import Cursor

    data = b'{ "x": [1, {"a": 2}], "b" : [3], "a": {}, "\\u0061": 0}'
    cur, spans, seen = Cursor(data), [-1, -1, -1, -1], []
    more = cur.enter(data, 125)
    while more > 0:
        which = cur.member(data, b"a", b"b", spans)
        if which > 0:
            seen.append(which)
            assert cur.skip()
        more = cur.member_end(data, which, spans)
        if which < 0:
            break
    assert seen == [2, 1] and which == -1  # an escaped key: step aside
    assert data[spans[2] : spans[3]] == b"[3]" and data[spans[0] : spans[1]] == b"{}"
    twice = b'{"a": 1, "a": 2}'
    cur, spans = Cursor(twice), [-1, -1, -1, -1]
    assert cur.enter(twice, 125) == 1 and cur.member(twice, b"a", b"a", spans) == 1
    assert cur.skip() and cur.member_end(twice, 1, spans) == 1
    assert cur.member(twice, b"a", b"a", spans) == -1  # a wanted key seen again
    empty = b"[ ]"
    cur = Cursor(empty)
    assert cur.enter(empty, 93) == 0 and cur.pos == 3


def test_vocab_and_merges_text_scanners() -> None:
    vocab = scan_vocab_json(b' {"a": 0, "\\u0120b": 2, "\xc4\xa0": 1}\n')
    assert vocab is not None and vocab.tokens == [b"a", b" b", b" "] and vocab.ids == [0, 2, 1] and not vocab.increasing
    assert scan_vocab_json(b'{"a": 0} x') is None
    assert scan_merges_text(b"a b\n\xc4\xa0 t", 0).pairs() == [(b"a", b"b"), (b" ", b"t")]  # type: ignore[union-attr]
    for bad in (b"a b\n\n", b"a b\r\n", b"a  b\n", b" a\n", b"a \n", b"ab\n", b"a b c\n", b"a\xe3\x80\x80 b\n", b"\n"):
        assert scan_merges_text(bad, 0) is None, bad
    assert scan_merges_text(b"", 0).pairs() == []  # type: ignore[union-attr]


@st.composite
def pair_files(draw: st.DrawFn) -> tuple[bytes, bytes, list[str]]:
    """vocab.json + merges.txt bytes (merge layout, then perhaps spoilt) and special names."""
    tokens = [bytes([b]) for b in range(256)]
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        a, b = draw(st.sampled_from(tokens)), draw(st.sampled_from(tokens))
        if a + b not in tokens:
            tokens.append(a + b)
            lines.append(f"{printable(a)} {printable(b)}")
    tokens.append(b"<|endoftext|>")
    vocab = {printable(t): i for i, t in enumerate(tokens)}
    vocab_text = json.dumps(vocab, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 2])))
    header = draw(st.sampled_from(["", "#version: 0.2\n", "#version: 0.2 é\n"]))
    end = draw(st.sampled_from(["", "\n", "\n\n", "\r\n"]))
    if lines and draw(st.integers(0, 4)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["", "a", "a b c", "#version x", " a b"])))
    return vocab_text.encode(), (header + "\n".join(lines) + end).encode(), draw(st.sampled_from([[], ["<|endoftext|>"], ["<|x|>"]]))


@given(pair_files())
@settings(max_examples=150, deadline=None)
def test_pair_scanner_is_the_json_path(tmp_path_factory: pytest.TempPathFactory, files: tuple[bytes, bytes, list[str]]) -> None:
    vocab_bytes, merges_bytes, specials = files
    folder = tmp_path_factory.mktemp("pair")
    (folder / "vocab.json").write_bytes(vocab_bytes)
    (folder / "merges.txt").write_bytes(merges_bytes)
    scanned = gpt2_files.scan_rank_order(folder / "vocab.json", folder / "merges.txt", specials)
    expected = gpt2_files.json_rank_order(folder / "vocab.json", folder / "merges.txt", specials)
    if scanned is not None:
        assert scanned[0] == expected
        tokens, ids = scanned[0][0], scanned[0][1]
        assert scanned[1] == dict(zip(tokens, ids))
    elif merges_bytes.endswith(b"\n") and not merges_bytes.endswith((b"\n\n", b"\r\n")) and b"\n\n" not in merges_bytes:
        lines = merges_bytes.decode().split("\n")
        if all(len(line.split(" ")) == 2 and all(line.split(" ")) for line in lines[1:-1]) and expected is not None:
            pytest.fail("a canonical vocab.json + merges.txt pair should take the scanner path")


# --------------------------------------------------------------------------- whole loaders, scanner on and off


@pytest.fixture(params=[True, False], ids=["scanner", "json"])
def scanner(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Run a test with the loaders' scanner path on (as in compiled builds) and off."""
    from alignkit.bpe.loaders import folder

    for module in (hf_json, gpt2_files, folder):
        monkeypatch.setattr(module, "NATIVE", request.param)
    return bool(request.param)


def _small_doc() -> dict[str, object]:
    vocab = {printable(bytes([b])): b for b in range(256)} | {"Ġt": 256, "he": 257, "<|end|>": 258}
    return {
        "added_tokens": [{"id": 258, "content": "<|end|>", "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "vocab": vocab, "merges": ["Ġ t", "h e"]},
    }


#: What the first run (scanner on) of each case gave; the second (scanner off) must give the same.
SMALL_HASH: dict[str, str] = {}


@pytest.mark.parametrize("gz", [False, True])
def test_loader_result_is_the_same_either_way(tmp_path: Path, scanner: bool, gz: bool) -> None:
    from alignkit.bpe.loaders.hf_json import load_hf_json

    blob = json.dumps(_small_doc(), indent=2).encode()
    path = tmp_path / ("tokenizer.json.gz" if gz else "tokenizer.json")
    path.write_bytes(gzip.compress(blob) if gz else blob)
    tok = load_hf_json(path)
    assert tok.encode(" the<|end|>") == [256, 257, 258] and tok.special_tokens == {"<|end|>": 258}
    assert SMALL_HASH.setdefault("small", tok.hash) == tok.hash


BROKEN = [
    ('"vocab": {', '"vocab": {"Ġt": 256, ', "the vocabulary"),  # a key twice: json keeps the later id
    ('"merges": [', '"merges": ["x y", ', "merge 0"),
    ('"Ġt": 256', '"Ġt": -1', "ids must be integers >= 0"),
    ('"Ġt": 256', '"a b": 256', "not in GPT-2's byte-to-unicode alphabet"),
    ('"decoder": {', '"decoder": {"type": "X"}, "decoder2": {', "decoder"),
    ('"model": {', '"model": [', "invalid JSON"),
]


@pytest.mark.parametrize(("old", "new", "message"), BROKEN, ids=[b[2] for b in BROKEN])
def test_loader_errors_are_the_same_either_way(tmp_path: Path, scanner: bool, old: str, new: str, message: str) -> None:
    from alignkit.bpe.loaders.hf_json import load_hf_json

    text = json.dumps(_small_doc(), ensure_ascii=False)
    assert old in text
    path = tmp_path / "tokenizer.json"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    try:
        tok = load_hf_json(path)
    except TokenizerFileError as err:
        said = str(err).replace(str(tmp_path), "")
        assert message in said
        assert SMALL_HASH.setdefault(f"err {old} {new}", said) == said
    else:
        assert SMALL_HASH.setdefault(f"ok {old} {new}", tok.hash) == tok.hash


# --------------------------------------------------------------------------- real files


REAL = [("qwen3", "tokenizer.json.gz"), ("claude-legacy", "tokenizer.json"), ("gpt2", "tokenizer.resaved-truncation50.json")]


@pytest.mark.slow
@pytest.mark.parametrize("parts", REAL, ids=["/".join(p) for p in REAL])
def test_real_tokenizer_json_scans_to_the_json_fast_path(parts: tuple[str, str]) -> None:
    path = shared_path(*TOK, *parts)
    data = read_bytes(path)
    scanned = hf_json.scan_json(data)
    assert scanned is not None, "a real file should take the scanner path"
    fast = hf_json._fast_scanned(scanned[0], scanned[1], "x", None)
    assert fast is not None
    doc = json.loads(data)
    expected = hf_json._fast(doc, doc["model"], "x", None)
    assert fast[0] == expected


@pytest.mark.slow
@pytest.mark.parametrize(("folder", "specials"), [("gpt2", ["<|endoftext|>"]), ("qwen3", {"<|endoftext|>": 151643})])
def test_real_vocab_merges_scan_to_the_json_fast_path(folder: str, specials: list[str] | dict[str, int]) -> None:
    vocab, merges = shared_path(*TOK, folder, "vocab.json"), shared_path(*TOK, folder, "merges.txt")
    scanned = gpt2_files.scan_rank_order(vocab, merges, specials)
    assert scanned is not None and scanned[0] == gpt2_files.json_rank_order(vocab, merges, specials)
