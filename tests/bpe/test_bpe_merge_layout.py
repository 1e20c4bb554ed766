"""The merge-layout fast path of the tokenizer.json loader: no rank dict when the BPE ids are 0..n-1.

:func:`alignkit.bpe.loaders.byte_level.scanned_rank_order` with ``dense=True`` hands the
tokens to :meth:`Tokenizer._from_merge_layout`, whose core index finds a token written
twice. Whatever it builds must be what the ``json.loads`` path builds, and every file it
steps aside from (a repeated merge result, a key twice, ids that are not 0..n-1...) must
end as the general loader ends it: the same tokenizer or the same error message.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.bpe._fileio import bytes_to_unicode
from alignkit.bpe.loaders import hf_json
from alignkit.bpe.loaders._json_scan import NATIVE, Merges, scan_merges_text, scan_tokenizer_json
from alignkit.bpe.loaders.byte_level import scanned_rank_order
from alignkit.bpe.patterns import GPT2
from alignkit.bpe.tokenizer import Tokenizer
from alignkit.errors import TokenizerFileError

_CHAR = bytes_to_unicode()
_BYTE = {c: b for b, c in _CHAR.items()}
EXAMPLES = 200 if NATIVE else 40


def printable(data: bytes) -> str:
    return "".join(_CHAR[b] for b in data)


@st.composite
def layout_documents(draw: st.DrawFn) -> dict[str, object]:
    """A tokenizer.json document in merge layout (ids 0..n-1), sometimes spoilt in one way."""
    tokens = [bytes([b]) for b in draw(st.permutations(range(256)))]
    merges: list[tuple[bytes, bytes]] = []
    repeat = draw(st.integers(0, 4)) == 0  # allow a merge whose result is already a token
    for _ in range(draw(st.integers(0, 10))):
        a, b = draw(st.sampled_from(tokens)), draw(st.sampled_from(tokens))
        if repeat and merges and draw(st.booleans()):
            a, b = draw(st.sampled_from(merges))  # a merge result made twice
        if repeat or a + b not in tokens:
            tokens.append(a + b)
            merges.append((a, b))
    vocab: list[tuple[str, int]] = [(printable(t), i) for i, t in enumerate(tokens)]
    specials: list[tuple[str, int]] = []
    for k in range(draw(st.integers(0, 3))):  # specials after the BPE, in the vocabulary or not
        sid = len(tokens) + k + draw(st.integers(0, 1))
        specials.append((f"<s{k}>", sid))
        if draw(st.booleans()):
            vocab.append((printable(f"<s{k}>".encode()), sid))
    for k in range(draw(st.integers(0, 2))):  # decode-only entries (perhaps a BPE token's text again)
        text = draw(st.sampled_from([printable(b"zq" * (k + 1)), vocab[draw(st.integers(0, len(vocab) - 1))][0]]))
        vocab.append((text, 1000 + k))
    spoil = draw(st.sampled_from(["none"] * 5 + ["gap", "shift", "shuffle", "special_clash", "byte_twice"]))
    if spoil == "gap" and len(vocab) > 257:
        vocab[-1] = (vocab[-1][0], vocab[-1][1] + 5)
    elif spoil == "shift":
        vocab = [(t, i + 1) for t, i in vocab]
    elif spoil == "shuffle":
        vocab = draw(st.permutations(vocab))
    elif spoil == "special_clash" and specials:
        specials[0] = (specials[0][0], draw(st.integers(0, len(tokens) - 1)))
    elif spoil == "byte_twice":
        vocab[3] = (vocab[4][0], 3)
    items: list[object] = [f"{printable(a)} {printable(b)}" for a, b in merges]
    if draw(st.booleans()):
        items = [[printable(a), printable(b)] for a, b in merges]
    return {
        "added_tokens": [{"id": i, "content": s, "special": True} for s, i in specials],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "vocab": vocab, "merges": items},
    }


def _text(doc: dict[str, object]) -> str:
    """JSON text of ``doc`` whose vocabulary is a list of (key, id): written as an object, keys repeated as given."""
    model = dict(doc["model"])  # type: ignore[call-overload]
    vocab = model.pop("vocab")
    body = json.dumps({**doc, "model": {**model, "vocab": "\0"}}, ensure_ascii=False, indent=2)
    members = ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {i}" for k, i in vocab)
    return body.replace('"\\u0000"', "{" + members + "}")


def _outcome(path: Path, scanner: bool) -> tuple[str, object]:
    """What the loader gives with the scanner path on or off: the tokenizer's parts, or its error."""
    saved = getattr(hf_json, "NATIVE")
    setattr(hf_json, "NATIVE", scanner)
    try:
        tok = hf_json.load_hf_json(path)
    except (TokenizerFileError, ValueError) as err:
        return "error", f"{type(err).__name__}: {err}"
    finally:
        setattr(hf_json, "NATIVE", saved)
    parts = (tok._tokens, tok._ids, tok._added, tok.special_tokens, tok.n_vocab, tok.normalizer, tok.pattern)
    return "ok", (parts, tok.hash, tok.encode("zq<s0> ab\u00e9", allowed_special="all"))


@given(layout_documents())
@settings(max_examples=EXAMPLES, deadline=None)
def test_dense_path_is_the_json_path(doc: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tokenizer.json"
        path.write_text(_text(doc), encoding="utf-8")
        assert _outcome(path, True) == _outcome(path, False)


def test_plain_layout_takes_the_dense_path() -> None:
    """A file in merge layout builds no rank dict: the core holds the token list itself."""
    tokens = [bytes([b]) for b in range(256)] + [b"ab", b"abc"]
    doc: dict[str, object] = {
        "added_tokens": [{"id": 258, "content": "<|end|>", "special": True}],
        "model": {"vocab": [(printable(t), i) for i, t in enumerate(tokens)], "merges": ["a b", "ab c"]},
    }
    scanned = hf_json.scan_json(_text(doc).encode())
    assert scanned is not None
    tok = hf_json._scanned_tokenizer(scanned[0], scanned[1], "x", None, GPT2, False, None)
    assert tok is not None and tok._core._ranks is None and tok._core.decoder is tok._tokens
    assert tok.encode("abc<|end|>ab") == [257, 258, 256] and tok.n_vocab == 259


def test_a_repeated_merge_result_leaves_the_dense_path() -> None:
    """Two merges making one token: the core's index finds it, the json path names the fault."""
    tokens = [bytes([b]) for b in range(256)]
    scanned = hf_json.scan_json(
        _text({"model": {"vocab": [(printable(t), i) for i, t in enumerate(tokens)] + [("ab", 256), ("bc", 257), ("abc", 258), ("abc", 259)], "merges": ["a b", "b c", "ab c", "a bc"]}}).encode()
    )
    assert scanned is not None
    assert hf_json._scanned_tokenizer(scanned[0], scanned[1], "x", None, GPT2, False, None) is None


def test_from_merge_layout_equals_setup() -> None:
    tokens = [bytes([b]) for b in range(256)] + [b"ab", b"abc"]
    fast = Tokenizer._from_merge_layout(list(tokens), None, {300: b"\xff\xfe"}, {"<s>": 258}, GPT2, "NFC,NFKC", True, "t")
    slow = Tokenizer.__new__(Tokenizer)
    slow._setup(list(tokens), list(range(258)), {300: b"\xff\xfe"}, {"<s>": 258}, GPT2, "NFC,NFKC", True, "t")
    assert fast.encode("abc<s>") == slow.encode("abc<s>") == [32, 257, 258]  # add_prefix_space
    assert fast.hash == slow.hash and fast.n_vocab == slow.n_vocab == 301
    assert (fast.normalizer, fast.add_prefix_space, fast.name) == (slow.normalizer, True, "t") == ("NFC,NFKC", True, "t")
    assert fast.vocab == slow.vocab and fast.encode("x abc\u00e9") == slow.encode("x abc\u00e9")
    with pytest.raises(ValueError, match="twice"):
        Tokenizer._from_merge_layout(tokens + [b"ab"], None, {}, {}, GPT2, None, False, None)
    with pytest.raises(TokenizerFileError, match="special-token ids \\[300\\]"):
        Tokenizer._from_merge_layout(list(tokens), None, {300: b"x"}, {"<s>": 300}, GPT2, None, False, None)


def _merges(text: bytes) -> Merges:
    merges = scan_merges_text(text, 0)
    assert merges is not None
    return merges


def test_scanned_rank_order_dense_answers() -> None:
    vocab = [bytes([b]) for b in range(256)] + [b"ab", b"<s>", b"zz"]
    ids = list(range(258)) + [900]
    tokens, got_ids, added, ranks = scanned_rank_order(  # type: ignore[misc]
        list(vocab), list(ids), True, _merges(b"a b"), {257}, dense=True
    )
    assert ranks is None and tokens == vocab[:257] and got_ids == list(range(257)) and added == {900: b"zz"}
    # ids not 0..n-1: the rank dict as before
    answer = scanned_rank_order([b"<s>"] + vocab[:257], list(range(258)), True, _merges(b"a b"), {0}, dense=True)
    assert answer is not None and answer[3] == dict(zip(vocab[:257], range(1, 258)))
    # a decode-only entry that is also a BPE token: None, with or without dense
    for dense in (False, True):
        twice = vocab[:257] + [b"ab"]
        assert scanned_rank_order(twice, list(range(257)) + [900], True, _merges(b"a b"), set(), dense=dense) is None


def _scan_merges(merges: list[object], vocab_first: bool = True) -> tuple[Merges, list[bytes]]:
    tokens = [bytes([b]) for b in range(256)] + [b"ab", b"abc", b' "\\', b"zz"]
    vocab = "{" + ", ".join(f"{json.dumps(printable(t), ensure_ascii=False)}: {i}" for i, t in enumerate(tokens)) + "}"
    members = [f'"vocab": {vocab}', f'"merges": {json.dumps(merges, ensure_ascii=False)}']
    text = '{"model": {' + ", ".join(members if vocab_first else members[::-1]) + "}}"
    scanned = scan_tokenizer_json(text.encode("utf-8"))
    assert scanned is not None
    return scanned.merges, scanned.tokens


@pytest.mark.parametrize("form", ["string", "list"])
def test_merges_that_make_their_tokens_are_only_compared(form: str) -> None:
    """Merge k joined equal to token 256 + k: the merges are those tokens (no byte copy), split where they were."""
    pairs = [("a", "b"), ("ab", "c"), ("Ġ", '"\\'), ("z", "z")]
    merges, tokens = _scan_merges([f"{a} {b}" if form == "string" else [a, b] for a, b in pairs])
    assert merges.parts is not None and all(p is t for p, t in zip(merges.parts, tokens[256:]))
    assert merges.pairs() == [(b"a", b"b"), (b"ab", b"c"), (b" ", b'"\\'), (b"z", b"z")]
    assert merges.made(tokens, 256) and not merges.made(tokens[:256] + [b"ab", b"abc", b"x", b"zz"], 256)


@pytest.mark.parametrize(
    "merges",
    [
        ["a b", "ab c", "x y", "z z"],  # merge 2 is not token 258: bytes from there on
        ["a b", "ab c", "\u0120 \"\\", "z z", "a b"],  # one merge more than tokens
        ["b a", "ab c", "\u0120 \"\\", "z z"],  # the first differs
        [["a", "b"], ["a", "bc"], ["\u0120", '"\\'], ["z", "z"]],  # same token, another split: compared, split kept
    ],
)
def test_a_merge_that_is_not_its_token_reads_the_rest_as_bytes(merges: list[str | list[str]]) -> None:
    got, tokens = _scan_merges(list(merges))
    expected = [tuple(bytes(_BYTE[c] for c in part) for part in (m.split(" ") if isinstance(m, str) else m)) for m in merges]
    assert got.pairs() == expected
    fits = len(expected) <= len(tokens) - 256
    assert got.made(tokens, 256) == (fits and all(a + b == t for (a, b), t in zip(expected, tokens[256:])))


def test_merges_before_the_vocabulary_are_read_as_bytes() -> None:
    merges, tokens = _scan_merges(["a b", "ab c", "\u0120 \"\\", "z z"], vocab_first=False)
    assert merges.parts is None and merges.made(tokens, 256)
    assert merges.pairs()[2] == (b" ", b'"\\')


@st.composite
def pair_folders(draw: st.DrawFn) -> tuple[str, str, dict[str, int] | list[str]]:
    """vocab.json text (keys perhaps repeated) and merges.txt text in merge layout, perhaps spoilt; specials."""
    doc = draw(layout_documents())
    model = doc["model"]
    assert isinstance(model, dict)
    vocab: list[tuple[str, int]] = model["vocab"]
    members = ", ".join(f"{json.dumps(k, ensure_ascii=draw(st.booleans()))}: {i}" for k, i in vocab)
    lines = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    added = doc["added_tokens"]
    assert isinstance(added, list)
    specials: dict[str, int] | list[str] = {a["content"]: a["id"] for a in added}
    if draw(st.booleans()):
        specials = [printable(b"<s0>"), "<s0>", "<|x|>"][: draw(st.integers(0, 3))]
    return "{" + members + "}", "#version: 0.2\n" + "\n".join(lines) + "\n", specials


def _pair_outcome(folder: Path, specials: dict[str, int] | list[str], scanner: bool) -> tuple[str, object]:
    from alignkit.bpe.loaders import gpt2_files

    saved = getattr(gpt2_files, "NATIVE")
    setattr(gpt2_files, "NATIVE", scanner)
    try:
        tok = gpt2_files.pair_tokenizer(folder / "vocab.json", folder / "merges.txt", specials, GPT2, "NFC", "p")
    except (TokenizerFileError, ValueError) as err:
        return "error", f"{type(err).__name__}: {err}"
    finally:
        setattr(gpt2_files, "NATIVE", saved)
    if tok is None:
        return "none", None
    parts = (tok._tokens, tok._ids, tok._added, tok.special_tokens, tok.n_vocab, tok.normalizer, tok.name)
    return "ok", (parts, tok.hash, tok.encode("zq<s0> ab\u00e9", allowed_special="all"))


@given(pair_folders())
@settings(max_examples=EXAMPLES, deadline=None)
def test_pair_dense_path_is_the_json_path(files: tuple[str, str, dict[str, int] | list[str]]) -> None:
    vocab, merges, specials = files
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "vocab.json").write_text(vocab, encoding="utf-8")
        (folder / "merges.txt").write_text(merges, encoding="utf-8")
        assert _pair_outcome(folder, specials, True) == _pair_outcome(folder, specials, False)
