"""The Tokenizer facade: specials, round trips, streaming, batches, pickling, hashing."""

from __future__ import annotations

import itertools
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.bpe import Tokenizer, default_tokenizer, load_tokenizer
from alignkit.bpe import _parallel, _stream
from alignkit.bpe._specials import SpecialSplitter
from alignkit.bpe.loaders import BUNDLED_HASH
from alignkit.errors import SpecialTokenError, TokenizerFileError

EOT = "<|endoftext|>"


@pytest.fixture(scope="module")
def gpt2() -> Tokenizer:
    return default_tokenizer()


def tiny(specials: list[str] | None = None, **kw: object) -> Tokenizer:
    vocab = {i: bytes([i]) for i in range(256)}
    merges = [(b"a", b"b"), (b"ab", b"c"), (b" ", b"x")]
    for n, (a, b) in enumerate(merges):
        vocab[256 + n] = a + b
    return Tokenizer(vocab, merges, specials, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- construction


def test_tiny_tokenizer_merges_and_new_special_ids() -> None:
    tok = tiny(["<|end|>"])
    assert tok.encode("abc ab x") == [257, 32, 256, 258]
    assert tok.special_tokens == {"<|end|>": 259}
    assert tok.encode("abc<|end|>") == [257, 259]
    assert tok.n_vocab == 260


def test_missing_byte_and_bad_merge_are_refused() -> None:
    vocab = {i: bytes([i]) for i in range(255)}
    with pytest.raises(TokenizerFileError, match="no token for byte 255"):
        Tokenizer(vocab, [])
    vocab = {i: bytes([i]) for i in range(256)}
    with pytest.raises(TokenizerFileError, match="merge 0"):
        Tokenizer(vocab, [(b"a", b"b")])
    with pytest.raises(TokenizerFileError, match="normalizer"):
        Tokenizer(vocab, [], normalizer="NFX")


def test_id_clashes_are_refused() -> None:
    ranks = {bytes([i]): i for i in range(256)}
    with pytest.raises(TokenizerFileError, match="also ids of ordinary tokens"):
        Tokenizer.from_ranks(ranks, {"<|end|>": 5})
    with pytest.raises(TokenizerFileError, match="share an id"):
        Tokenizer.from_ranks(ranks | {b"ab": 5})


def test_ids_not_in_merge_order_are_remapped() -> None:
    """A vocabulary whose merged ids are not increasing in merge order gives the same tokens."""
    base = tiny()
    vocab = base.vocab
    # Reverse the ids of the three merged tokens: merge priority no longer equals id order.
    perm = {256: 258, 257: 257, 258: 256}
    shuffled = {perm.get(i, i): t for i, t in vocab.items()}
    tok = Tokenizer(shuffled, [(b"a", b"b"), (b"ab", b"c"), (b" ", b"x")])
    for text in ["abc ab x", "ababab  xx", "cab xabc"]:
        assert tok.encode(text) == [perm.get(i, i) for i in base.encode(text)]
        assert tok.decode(tok.encode(text)) == text


# --------------------------------------------------------------------------- specials


def test_longest_overlapping_special_wins(gpt2: Tokenizer) -> None:
    vocab, specials = gpt2.vocab, [EOT, EOT + EOT]
    del vocab[50256]
    tok = Tokenizer(vocab, [], specials)  # no merges needed for this check
    double = tok.special_tokens[EOT + EOT]
    ids = tok.encode(f"a{EOT}{EOT}b{EOT}")
    assert ids.count(double) == 1 and ids.count(tok.special_tokens[EOT]) == 1
    assert tok.decode(ids) == f"a{EOT}{EOT}b{EOT}"


def test_splitter_is_leftmost_then_longest() -> None:
    s = SpecialSplitter({"ab": 1, "bcd": 2, "abc": 3})
    assert s.split("xabcd") == [("x", -1), ("abc", 3), ("d", -1)]
    assert SpecialSplitter({}).split("") == []


def test_encode_defaults_allow_specials_and_options_follow_tiktoken(gpt2: Tokenizer) -> None:
    text = f"hi{EOT}there"
    assert gpt2.encode(text) == [5303, 50256, 8117]
    with pytest.raises(SpecialTokenError, match="encode_ordinary"):
        gpt2.encode(text, allowed_special=set())
    as_text = gpt2.encode(text, allowed_special=set(), disallowed_special=())
    assert as_text == gpt2.encode_ordinary(text) and 50256 not in as_text
    with pytest.raises(SpecialTokenError, match="does not have"):
        gpt2.encode(text, allowed_special={"<|nope|>"})


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["<|", "endoftext", "|>", EOT, "a", " ", "\n", "<|im_end|>"]), max_size=20))
def test_encode_ordinary_never_yields_a_special(parts: list[str]) -> None:
    tok = default_tokenizer()
    text = "".join(parts)
    ids = tok.encode_ordinary(text)
    assert 50256 not in ids
    assert tok.decode(ids) == text


# --------------------------------------------------------------------------- round trips


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_round_trip_any_valid_str(text: str) -> None:
    tok = default_tokenizer()
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert tok.decode_bytes(ids) == text.encode("utf-8")


def test_every_single_id_decodes_to_its_vocab_bytes(gpt2: Tokenizer) -> None:
    vocab = gpt2.vocab
    assert len(vocab) == gpt2.n_vocab == 50257
    for i in range(gpt2.n_vocab):
        assert gpt2.decode_bytes([i]) == vocab[i] == gpt2.id_to_token_bytes(i)
        if i != 50256:
            assert gpt2.token_to_id(vocab[i]) == i
        b = vocab[i]
        try:
            text = b.decode("utf-8")
        except UnicodeDecodeError:
            continue
        assert gpt2.decode_bytes(gpt2.encode(text)) == b


def test_lone_surrogates_are_replaced_like_tiktoken(gpt2: Tokenizer) -> None:
    assert gpt2.encode("a\ud800b") == gpt2.encode("a\ufffdb")
    assert gpt2.encode_ordinary("\udfff") == gpt2.encode("\ufffd")
    assert gpt2.encode("\ud83d\ude00") == gpt2.encode("\U0001f600")  # a pair written as two code points


def test_decode_errors(gpt2: Tokenizer) -> None:
    assert gpt2.decode([447]) == "\ufffd"  # a lone UTF-8 lead byte
    with pytest.raises(ValueError, match="not in this tokenizer"):
        gpt2.decode([50257])
    with pytest.raises(ValueError, match="not in this tokenizer"):
        gpt2.decode([-1])
    with pytest.raises(KeyError):
        gpt2.id_to_token_bytes(10**6)
    with pytest.raises(KeyError):
        gpt2.token_to_id("not a token at all")


def test_normalizer_and_prefix_space_are_applied_in_the_facade(gpt2: Tokenizer) -> None:
    vocab = gpt2.vocab
    del vocab[50256]
    nfc = Tokenizer.from_ranks({t: i for i, t in vocab.items()}, normalizer="NFC")
    assert nfc.encode("e\u0301") == nfc.encode("\u00e9") != gpt2.encode("e\u0301")
    spaced = Tokenizer.from_ranks({t: i for i, t in vocab.items()}, {EOT: 50256}, add_prefix_space=True)
    assert spaced.encode("hello") == gpt2.encode(" hello")
    assert spaced.encode(f"hi{EOT}there") == gpt2.encode(f" hi{EOT} there")


# --------------------------------------------------------------------------- streaming


def test_last_cut() -> None:
    assert _stream.last_cut("ab\ncd\n  x") == 3
    assert _stream.last_cut("no newline") == 0
    assert _stream.last_cut("a\n\n\n") == 0
    # A newline run before a letter: after the run (one piece in cl100k-style patterns),
    # or before its last newline (GPT-2: the run splits into n-1 newlines and one).
    assert _stream.last_cut("a\n\nb") == 3
    assert _stream.last_cut("a\n\nb", before_last_newline=True) == 2
    assert _stream.last_cut("a \n\nb") == 0  # whitespace before the run: no cut
    assert _stream.last_cut("a\r\nb") == 0
    assert _stream.last_cut("\nb") == 0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(["Hello", " world", "\n", "\n\n", "  ", "x1", "9", EOT, "<|end", "oftext|>", "é", "'s"]), max_size=40),
    st.randoms(use_true_random=False),
)
def test_encode_iterable_does_not_depend_on_chunking(parts: list[str], rnd: random.Random) -> None:
    tok = default_tokenizer()
    text = "".join(parts)
    cuts = sorted(rnd.sample(range(len(text) + 1), min(len(text) + 1, rnd.randint(0, 8))))
    chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    old = _stream.CHUNK
    _stream.CHUNK = rnd.choice([1, 4, 16])
    try:
        assert list(tok.encode_iterable(chunks)) == tok.encode(text)
    finally:
        _stream.CHUNK = old


def test_encode_iterable_streams(gpt2: Tokenizer) -> None:
    consumed = 0

    def lines() -> object:
        nonlocal consumed
        for _ in range(10**6):
            consumed += 1
            yield "The quick brown fox jumps over the lazy dog.\n"

    first = list(itertools.islice(gpt2.encode_iterable(lines()), 10))  # type: ignore[arg-type]
    assert first == gpt2.encode("The quick brown fox jumps over the lazy dog.\nThe")[:10]
    assert consumed < 10_000  # ids came out long before the input ended


# --------------------------------------------------------------------------- batches, pickling, hash


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_encode_batch_parallel_equals_sequential(gpt2: Tokenizer, monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    import multiprocessing

    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    texts = ["", *(f"text number {i}: {'é' * (i % 5)} {EOT}" for i in range(40)), ""]
    expected = [gpt2.encode(t) for t in texts]
    assert gpt2.encode_batch(texts) == expected
    monkeypatch.setattr(_parallel, "MIN_PARALLEL_CHARS", 0)
    monkeypatch.setattr(_parallel, "start_method", lambda: method)
    assert gpt2.encode_batch(texts, num_proc=2) == expected
    with pytest.raises(ValueError, match="num_proc"):
        gpt2.encode_batch(texts, num_proc=0)
    for n in (1, 2):
        ids, offsets = gpt2.encode_batch_arrays(texts, num_proc=n)
        assert ids.dtype == np.uint16 and offsets.tolist()[0] == 0 and len(offsets) == len(texts) + 1
        assert [ids[offsets[k] : offsets[k + 1]].tolist() for k in range(len(texts))] == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=6))
def test_encode_into_equals_encode(gpt2: Tokenizer, parts: list[str]) -> None:
    from librt.vecs import vec
    from mypy_extensions import i32

    text = EOT.join(parts)
    assert list(gpt2.encode_into(text, vec[i32]())) == gpt2.encode(text)
    plain = " ".join(parts)  # no special: appended after what the vector already holds
    if EOT not in plain:
        got = gpt2.encode_into(plain, vec[i32]([7]), allowed_special=set())
        assert list(got) == [7, *gpt2.encode(plain, allowed_special=set())]


def test_encode_into_refuses_disallowed_specials(gpt2: Tokenizer) -> None:
    from librt.vecs import vec
    from mypy_extensions import i32

    with pytest.raises(SpecialTokenError):
        gpt2.encode_into(f"a {EOT}", vec[i32](), allowed_special=set())


def test_encode_batch_arrays_dtype(gpt2: Tokenizer) -> None:
    ids, offsets = gpt2.encode_batch_arrays([], dtype="uint32")
    assert ids.dtype == np.uint32 and ids.size == 0 and offsets.tolist() == [0]
    ids, _ = gpt2.encode_batch_arrays(["hello world"], dtype="int64")
    assert ids.tolist() == gpt2.encode("hello world")
    with pytest.raises(ValueError, match="do not fit dtype uint8"):
        gpt2.encode_batch_arrays(["hello world"], dtype="uint8")
    with pytest.raises(ValueError, match="num_proc"):
        gpt2.encode_batch_arrays(["a"], num_proc=0)


def test_pickle_by_source_is_small_and_lazy(gpt2: Tokenizer) -> None:
    blob = pickle.dumps(gpt2)
    assert len(blob) < 500
    back = pickle.loads(blob)
    assert "_core" not in back.__dict__  # rebuilt on first use
    assert back.encode("hello world") == [31373, 995] and back.hash == gpt2.hash


def test_pickle_without_source_carries_the_model() -> None:
    tok = tiny(["<|end|>"])
    back = pickle.loads(pickle.dumps(tok))
    assert back.encode("abc<|end|>") == tok.encode("abc<|end|>") and back.hash == tok.hash


def test_hash_is_stable_and_content_sensitive(gpt2: Tokenizer) -> None:
    assert gpt2.hash == BUNDLED_HASH == load_tokenizer("gpt2").hash
    assert tiny().hash == tiny().hash
    assert tiny().hash != tiny(["<|end|>"]).hash
    assert tiny().hash != tiny(normalizer="NFC").hash
    assert tiny().hash != tiny(pattern=r"\S+|\s+").hash


def test_decode_mixes_ordinary_special_and_decode_only_ids() -> None:
    vocab = {i: bytes([i]) for i in range(256)} | {256: b"ab", 300: b"zz"}  # 300: in no merge
    tok = Tokenizer(vocab, [(b"a", b"b")], ["<|end|>"])
    assert tok.decode([256, 301, 300, 97]) == "ab<|end|>zza"
    assert tok.decode((256, 97)) == "aba"  # any iterable
    with pytest.raises(ValueError, match="not in this tokenizer"):
        tok.decode([256, 299])
    with pytest.raises(ValueError, match="not in this tokenizer"):
        tok.decode([256, "x"])  # type: ignore[list-item]


def test_cs336_api_round_trip_through_training(tmp_path: Path) -> None:
    """train_bpe -> Tokenizer(vocab, merges, specials) -> save -> load_tokenizer, CS336 shape."""
    from alignkit.bpe import train_bpe

    corpus = tmp_path / "c.txt"
    corpus.write_text("low lower lowest<|endoftext|>newer newest wider\n" * 20, encoding="utf-8")
    vocab, merges = train_bpe(str(corpus), 270, ["<|endoftext|>"])
    tok = Tokenizer(vocab, merges, ["<|endoftext|>"])
    assert tok.special_tokens == {"<|endoftext|>": next(i for i, t in vocab.items() if t == b"<|endoftext|>")}
    tok.save(tmp_path / "t.json.gz")
    back = load_tokenizer(tmp_path / "t.json.gz")
    text = "the lowest newer<|endoftext|>wider"
    assert back.encode(text) == tok.encode(text) and back.decode(tok.encode(text)) == text
