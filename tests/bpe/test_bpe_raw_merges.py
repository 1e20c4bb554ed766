"""The scanner's raw merge path (alignkit.bpe.loaders._json_entries.raw_merges) and learned gaps.

A merge whose two JSON strings, back to back, are the text of the vocabulary key it makes is
read without decoding, and the whitespace between strings is compared with the stretch seen
at the merge before. Whatever takes that path must give what ``json.loads`` gives; whatever
differs (another escape form, other whitespace, a backslash) must fall back, not fail.
"""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.bpe._fileio import bytes_to_unicode
from alignkit.bpe.loaders._json_cursor import Cursor
from alignkit.bpe.loaders._json_entries import key_after, raw_merges, vocab_entries
from alignkit.bpe.loaders._json_scan import NATIVE, scan_tokenizer_json

_CHAR = bytes_to_unicode()
EXAMPLES = 200 if NATIVE else 40
#: Whitespace that may stand between JSON tokens (a few forms, so that stretches repeat).
GAPS = st.sampled_from(["", " ", "\n  ", "\n    ", "\n      ", "\n        ", "\t", "\r\n "])


def printable(data: bytes) -> str:
    return "".join(_CHAR[b] for b in data)


@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[bytes], list[tuple[bytes, bytes]]]:
    """The 256 bytes, then merges in merge layout (token 256 + k is merge k joined)."""
    tokens = [bytes([b]) for b in range(256)]
    pieces = st.sampled_from([b"a", b"b", b" ", b'"', b"\\", b"/", b"\xc4", b"\xff", b"\x00", b"\n"])
    merges: list[tuple[bytes, bytes]] = []
    for _ in range(draw(st.integers(0, 12))):
        a = draw(st.one_of(pieces, st.sampled_from(tokens[256:] or [b"a"])))
        b = draw(st.one_of(pieces, st.sampled_from(tokens[256:] or [b"b"])))
        if a + b not in tokens:
            tokens.append(a + b)
            merges.append((a, b))
    return tokens, merges


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[tuple[bytes, bytes]]]:
    """A tokenizer.json text of a layout, and its merges: json.dumps escaping, gaps picked per item.

    Each gap is one of two or three whitespace forms drawn for the document (so stretches
    repeat, and sometimes change), picked by a seeded generator (few hypothesis draws).
    """
    tokens, merges = draw(layouts())
    ascii_only = draw(st.booleans())
    forms = draw(st.lists(GAPS, min_size=1, max_size=3))
    pick = random.Random(draw(st.integers(0, 2**32))).choice

    def gap() -> str:
        return pick(forms)

    def dumps(text: str) -> str:
        return json.dumps(text, ensure_ascii=ascii_only)

    entries = [f"{gap()}{dumps(printable(t))}{gap()}:{gap()}{i}{gap()}" for i, t in enumerate(tokens)]
    string_form = draw(st.booleans())
    items = []
    for a, b in merges:
        if string_form:
            items.append(f"{gap()}{dumps(printable(a) + ' ' + printable(b))}{gap()}")
        else:
            items.append(f"{gap()}[{gap()}{dumps(printable(a))}{gap()},{gap()}{dumps(printable(b))}{gap()}]{gap()}")
    if merges and draw(st.integers(0, 4)) == 0:  # a spoilt merge somewhere
        bad = draw(st.sampled_from(['"a"', '["a"]', '["a", "b", "c"]', "1", '"a  b"', '[ "a" "b"]', '["a",]']))
        items[draw(st.integers(0, len(items) - 1))] = bad
    vocab = "{" + ",".join(entries) + "}"
    return '{"model": {"vocab": ' + vocab + ', "merges": [' + ",".join(items) + "]}}", merges


def _expected(text: str) -> tuple[list[bytes], list[int], list[tuple[bytes, bytes]]] | None:
    """(tokens, ids, merges) by json.loads; None when invalid or a merge is not two non-empty parts."""
    byte = {c: b for b, c in _CHAR.items()}
    try:
        model = json.loads(text)["model"]
    except ValueError:
        return None
    tokens = [bytes(byte[c] for c in key) for key in model["vocab"]]
    merges = []
    for m in model["merges"]:
        parts = m.split(" ") if isinstance(m, str) else m
        if not isinstance(parts, list) or len(parts) != 2 or not all(isinstance(p, str) and p for p in parts):
            return None
        merges.append((bytes(byte[c] for c in parts[0]), bytes(byte[c] for c in parts[1])))
    return tokens, list(model["vocab"].values()), merges


@given(documents())
@settings(max_examples=EXAMPLES, deadline=None)
def test_scan_with_raw_merges_is_json_loads(document: tuple[str, list[tuple[bytes, bytes]]]) -> None:
    text, merges = document
    scanned = scan_tokenizer_json(text.encode("utf-8"))
    expected = _expected(text)
    if expected is None:
        assert scanned is None
        return
    assert scanned is not None, "the scanner refused a valid document"
    assert (scanned.tokens, scanned.ids, scanned.merges.pairs()) == expected
    if merges and "\\u" not in text:  # every merge makes its token: the merges are those tokens
        assert scanned.merges.parts is not None and all(p is t for p, t in zip(scanned.merges.parts, scanned.tokens[256:]))


def _merge_cursor(text: str) -> tuple[Cursor, bytes, list[bytes]]:
    """A cursor at the first merge of ``text``, its vocabulary read."""
    data = text.encode("utf-8")
    cur = Cursor(data)
    tokens: list[bytes] = []
    ids: list[int] = []
    cur.pos = data.index(b"{", data.index(b'"vocab"'))
    assert vocab_entries(cur, tokens, ids)
    cur.pos = data.index(b"[", data.index(b'"merges"'))
    assert cur.enter(data, 93) == 1
    return cur, data, tokens


@given(layouts(), st.sampled_from([None, 1, 2, 4]), st.booleans(), st.booleans())
@settings(max_examples=EXAMPLES, deadline=None)
def test_json_dumps_merges_take_the_raw_path(
    layout: tuple[list[bytes], list[tuple[bytes, bytes]]], indent: int | None, ascii_only: bool, string_form: bool
) -> None:
    """Merges written like their keys (json.dumps, any indent) are all read raw, up to one with a backslash."""
    tokens, merges = layout
    if not merges:
        return
    doc = {
        "model": {
            "vocab": {printable(t): i for i, t in enumerate(tokens)},
            "merges": [printable(a) + " " + printable(b) if string_form else [printable(a), printable(b)] for a, b in merges],
        }
    }
    text = json.dumps(doc, indent=indent, ensure_ascii=ascii_only)
    cur, data, scanned = _merge_cursor(text)
    done = raw_merges(cur, data, scanned, 0)
    escaped = [k for k, (a, b) in enumerate(merges) if "\\" in json.dumps(printable(a + b), ensure_ascii=ascii_only)]
    assert done == (escaped[0] if escaped else len(merges))
    assert scanned == tokens and list(cur.splits) == [len(a) for a, _ in merges[:done]]
    if done == len(merges):
        assert cur.more == 0  # past the array
    else:
        assert cur.more == 1 and data[cur.pos] in b'["'  # at the merge it left to the caller
    assert cur.key_at == -1 if len(tokens) == 256 else data[cur.key_at - 1 : cur.key_at] == b'"'


def test_a_changed_gap_is_read_again() -> None:
    """Indentation that changes between merges: each merge is still read (the gap learned again)."""
    vocab = {printable(bytes([b])): b for b in range(256)} | {"ab": 256, "abc": 257, "ba": 258}
    merges = '[\n  ["a", "b"],\n  ["ab", "c"],\n    [ "b",\t"a" ]\n]'
    text = '{"model": {"vocab": ' + json.dumps(vocab) + ', "merges": ' + merges + "}}"
    cur, data, tokens = _merge_cursor(text)
    assert raw_merges(cur, data, tokens, 0) == 3 and cur.more == 0
    assert list(cur.splits) == [1, 2, 1]


def testkey_after() -> None:
    data = b'{"a\\"b": 1, "c": 2, "\\\\": 3}'
    first = data.index(b"a")
    second = key_after(data, first)
    assert data[second : second + 1] == b"c"
    assert data[key_after(data, second) : key_after(data, second) + 2] == b"\\\\"


def test_a_special_among_the_merge_tokens_keeps_the_merges() -> None:
    """An added token that is also merge 0's token (in the vocabulary, where the merges' tokens
    lie): leaving it out of the BPE shifts the list, so the merges are kept first; the answer is
    the general loader's."""
    from alignkit.bpe._vocab import bpe_order
    from alignkit.bpe.loaders import hf_json
    from alignkit.errors import TokenizerFileError

    vocab = {printable(bytes([b])): b for b in range(256)} | {"ab": 256, "abc": 257, "xy": 258}
    doc = {"added_tokens": [{"id": 256, "content": "ab"}], "model": {"vocab": vocab, "merges": [["a", "b"], ["ab", "c"]]}}
    text = json.dumps(doc, indent=2)
    scanned = hf_json.scan_json(text.encode())
    assert scanned is not None and scanned[1].merges.source is not None  # every merge matched its token
    fast = hf_json._fast_scanned(scanned[0], scanned[1], "x", None)
    parsed = json.loads(text)
    try:
        general = bpe_order(*hf_json._general(parsed, parsed["model"], "x", None))
    except TokenizerFileError:
        assert fast is None
        return
    assert fast is None or fast[0][:2] == ([t for t, _ in general[0]], [i for _, i in general[0]])
