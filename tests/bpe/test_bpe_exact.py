"""Exactness against the reference libraries, on real tokenizer files and real text.

tiktoken (built by hand from the shared rank files: ``get_encoding`` needs the
network) for r50k/gpt2, p50k, cl100k, o200k and Llama 3; Hugging Face
``tokenizers`` for the tokenizer.json files (Qwen3, legacy Claude, GPT-2).
"""

from __future__ import annotations

import gzip
import json
import unicodedata
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alignkit.bpe import Tokenizer, load_tokenizer
from alignkit.bpe.loaders.tiktoken_file import ENCODINGS
from conftest import shared_path

tiktoken = pytest.importorskip("tiktoken")
tokenizers = pytest.importorskip("tokenizers")

TIKTOKEN_FILES = {
    "r50k_base": ("tokenizers", "tiktoken", "r50k_base.tiktoken"),
    "p50k_base": ("tokenizers", "tiktoken", "p50k_base.tiktoken"),
    "cl100k_base": ("tokenizers", "tiktoken", "cl100k_base.tiktoken"),
    "o200k_base": ("tokenizers", "tiktoken", "o200k_base.tiktoken"),
    "llama3": ("tokenizers", "llama3", "tokenizer.model"),
}
HF_FILES = {
    "qwen3": ("tokenizers", "qwen3", "tokenizer.json.gz"),
    "claude-legacy": ("tokenizers", "claude-legacy", "tokenizer.json"),
    "gpt2-resaved": ("tokenizers", "gpt2", "tokenizer.resaved-truncation50.json"),
}
ALL = [*TIKTOKEN_FILES, *HF_FILES]

# --------------------------------------------------------------------------- tokenizer pairs


@lru_cache(maxsize=None)
def _ours(name: str) -> Tokenizer:
    parts = TIKTOKEN_FILES.get(name) or HF_FILES[name]
    return load_tokenizer(shared_path("data", *parts))


@lru_cache(maxsize=None)
def _reference(name: str) -> object:
    if name in TIKTOKEN_FILES:
        from tiktoken.load import load_tiktoken_bpe

        enc = ENCODINGS[name]
        ranks = load_tiktoken_bpe(str(shared_path("data", *TIKTOKEN_FILES[name])))
        return tiktoken.Encoding(name, pat_str=enc.pattern, mergeable_ranks=ranks, special_tokens=enc.specials)
    path = shared_path("data", *HF_FILES[name])
    blob = path.read_bytes()
    if path.name.endswith(".gz"):
        blob = gzip.decompress(blob)
    ref = tokenizers.Tokenizer.from_str(blob.decode("utf-8"))
    ref.no_truncation()
    return ref


def ref_encode(name: str, text: str, *, specials: bool) -> list[int]:
    ref = _reference(name)
    if name in TIKTOKEN_FILES:
        if specials:
            return list(ref.encode(text, allowed_special="all"))  # type: ignore[attr-defined]
        return list(ref.encode_ordinary(text))  # type: ignore[attr-defined]
    ref.encode_special_tokens = not specials  # type: ignore[attr-defined]  # added tokens as plain text
    try:
        return list(ref.encode(text, add_special_tokens=False).ids)  # type: ignore[attr-defined]
    finally:
        ref.encode_special_tokens = False  # type: ignore[attr-defined]


def _nonspecial_added(name: str) -> list[str]:
    """HF added tokens with special=false: HF matches them even with encode_special_tokens."""
    if name not in HF_FILES:
        return []
    ref = _reference(name)
    return [t.content for t in ref.get_added_tokens_decoder().values() if not t.special]  # type: ignore[attr-defined]


def normalizers_agree(name: str, text: str) -> bool:
    """Whether Python's unicodedata and HF's normalizer give the same text.

    HF normalizes with older Unicode tables than Python's: e.g. NFKC of U+32FF (SQUARE ERA
    NAME REIWA, Unicode 12.1) is "令和" for Python and unchanged for HF (72 code points for the
    legacy Claude tokenizer). alignkit follows Python; there is no common reference there.
    """
    if name not in HF_FILES or _ours(name).normalizer is None:
        return True
    ours = _ours(name).normalizer or ""
    mine = text
    for form in ours.split(","):
        mine = unicodedata.normalize(form, mine)  # type: ignore[arg-type]
    return bool(_reference(name).normalizer.normalize_str(text) == mine)  # type: ignore[attr-defined]


def assert_same(name: str, text: str, *, specials: bool = True) -> None:
    ours = _ours(name)
    if not normalizers_agree(name, text):
        return
    if not specials and any(t in text for t in _nonspecial_added(name)):
        # alignkit's encode_ordinary never yields an added token (the role-spoofing guarantee);
        # HF cannot be told to treat non-special added tokens as text, so there is no reference.
        assert not set(ours.special_tokens.values()) & set(ours.encode_ordinary(text))
        return
    got = ours.encode(text) if specials else ours.encode_ordinary(text)
    want = ref_encode(name, text, specials=specials)
    if got != want:
        i = next((k for k, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        pytest.fail(
            f"{name}: ids differ at token {i}: ours {got[max(0, i - 3) : i + 4]} vs "
            f"reference {want[max(0, i - 3) : i + 4]} near {ours.decode(got[max(0, i - 3) : i + 4])!r}"
        )
    assert ours.decode(got) == text if ours.normalizer is None else True


# --------------------------------------------------------------------------- real text


def _strings(value: object, out: list[str]) -> None:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def _jsonl_text(path: Path, limit: int) -> str:
    opener = gzip.open if path.name.endswith(".gz") else open
    out: list[str] = []
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        if path.name.endswith(".json"):
            _strings(json.load(f), out)
        else:
            for line in f:
                _strings(json.loads(line), out)
                if sum(map(len, out)) > limit:
                    break
    return "\n\n".join(out)[:limit]


CORPORA = ["corpus.en", "tinystories_sample.txt", "german.txt", "address.txt"]
ALIGNMENT = [
    ("sft", "super_ni", "super_ni_data_1000.jsonl"),
    ("sft", "gsm8k", "test.jsonl"),
    ("sft", "self-instruct", "seed_tasks.jsonl"),
    ("sft", "fastchat", "dummy_conversation.json"),
    ("eval", "mt_bench", "question.jsonl"),
    ("eval", "mt_bench", "reference_answer_gpt-4.jsonl"),
    ("preference", "hh-rlhf", "harmless-base", "test.jsonl.gz"),
    ("cs336", "sft_sample.jsonl"),
]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("corpus", CORPORA)
def test_cs336_corpora(name: str, corpus: str) -> None:
    text = shared_path("data", "corpora", "cs336", corpus).read_text(encoding="utf-8")
    assert_same(name, text)
    assert_same(name, text, specials=False)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("parts", ALIGNMENT, ids=lambda p: "/".join(p[-2:]))
def test_alignment_text_fields(name: str, parts: tuple[str, ...]) -> None:
    text = _jsonl_text(shared_path("data", "alignment", *parts), limit=200_000)
    assert_same(name, text)


def _bench(file: str, size: int) -> str:
    with gzip.open(shared_path("bench", file), "rb") as f:
        blob = f.read(size)
    return blob.decode("utf-8", "ignore")


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("file", ["en_novels.txt.gz", "multi_novels.txt.gz"])
def test_bench_slice_small(name: str, file: str) -> None:
    assert_same(name, _bench(file, 150_000), specials=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("file", ["en_novels.txt.gz", "multi_novels.txt.gz"])
def test_bench_slice_2mb(name: str, file: str) -> None:
    assert_same(name, _bench(file, 2_000_000), specials=False)


# --------------------------------------------------------------------------- generated text

PIECES = [
    "hello", " world", "Hello", "WORLD", "don't", "I'LL", "we've", "'s", "'re", "naïve", "café", "e\u0301",
    "Ǆ", "ﬁ", "①", "½", "٣", "123", "4567890", " 42", "3.14", "$", "!!", "...", "—", "«", "»", "/",
    "\n", "\r\n", "\r", "\n\n\n", "  ", "   ", "\t", "\u00a0", "\u3000", " \n ", "\u2028",
    "日本語", "中文字符", "한국어", "Привет", "مرحبا", "שלום", "हिन्दी", "ไทย", "Ελληνικά",
    "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "\u200d", "\ufeff", "\x00", "\x7f",
    "<|endoftext|>", "<|endoftext", "|>", "<|", "<|endoftext|><|endoftext|>", "<|end<|endoftext|>oftext|>",
    "<|im_start|>", "<|im_end|>", "<think>", "<|eot_id|>", "<|begin_of_text|>", "<EOT>", "<|fim_prefix|>",
]
# Code points unassigned in Python's Unicode database (14.0) are left out: the reference
# libraries and the `regex` module classify some of them differently (their Unicode versions
# differ; e.g. U+3D000 is a letter for `regex`, unassigned for tiktoken), so no id is "right".
assigned = st.characters(blacklist_categories=("Cn", "Cs"))
texts = st.lists(
    st.one_of(st.sampled_from(PIECES), st.text(assigned, max_size=8)), max_size=30
).map("".join)


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_generated_strings(name: str, text: str) -> None:
    text = text.encode("utf-8", "replace").decode("utf-8")  # no lone surrogates (tested elsewhere)
    assert_same(name, text)
    assert_same(name, text, specials=False)


@pytest.mark.parametrize("name", ALL)
def test_encode_ordinary_never_yields_special_ids(name: str) -> None:
    tok = _ours(name)
    specials = set(tok.special_tokens.values())
    text = "x".join(tok.special_tokens) + "<|endoftext|><|im_end|>"
    assert not specials & set(tok.encode_ordinary(text))
    assert tok.decode(tok.encode_ordinary(text)) == text


def test_llama3_chat_ids_match_sources() -> None:
    """The hand-rendered Llama-3-Instruct chat from SOURCES.md encodes to the verified ids."""
    tok = _ours("llama3")
    text = (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi there!<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello! How can I help?<|eot_id|>"
    )
    assert tok.encode(text) == [
        128000, 128006, 9125, 128007, 271, 2675, 527, 11190, 13, 128009, 128006, 882, 128007, 271,
        13347, 1070, 0, 128009, 128006, 78191, 128007, 271, 9906, 0, 2650, 649, 358, 1520, 30, 128009,
    ]


@pytest.mark.parametrize(
    ("name", "ids"),
    [("r50k_base", [31373, 995]), ("p50k_base", [31373, 995]), ("cl100k_base", [15339, 1917]),
     ("o200k_base", [24912, 2375]), ("llama3", [15339, 1917]), ("qwen3", [14990, 1879]),
     ("claude-legacy", [9381, 2253]), ("gpt2-resaved", [31373, 995])],
)
def test_hello_world_ids_from_sources(name: str, ids: list[int]) -> None:
    assert _ours(name).encode("hello world") == ids


# --------------------------------------------------------------------------- streaming, every pattern

STREAM_PIECES = ["Hello", " world", "\n", "\n\n", "\r\n", "  ", " \n", "x1", "1234", "!\n", "'s", "é", "e\u0301",
                 "日本", "😀", "<|endoftext|>", "<|im_end|>", "<EOT>", "<|eot_id|>", "<|end", "oftext|>", "\t"]


@pytest.mark.parametrize("name", ["r50k_base", "cl100k_base", "o200k_base", "llama3", "qwen3", "claude-legacy"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.sampled_from(STREAM_PIECES), max_size=40), data=st.data())
def test_encode_iterable_chunking_every_pattern(name: str, parts: list[str], data: st.DataObject) -> None:
    from alignkit.bpe import _stream

    tok = _ours(name)
    text = "".join(parts)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), max_size=8)))
    chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    old = _stream.CHUNK
    _stream.CHUNK = data.draw(st.sampled_from([1, 3, 16]))
    try:
        assert list(tok.encode_iterable(chunks)) == tok.encode(text)
    finally:
        _stream.CHUNK = old


@pytest.mark.parametrize("name", ALL)
def test_encode_iterable_over_file_lines(name: str) -> None:
    from alignkit.bpe import _stream

    path = shared_path("data", "corpora", "cs336", "corpus.en")
    tok = _ours(name)
    old = _stream.CHUNK
    _stream.CHUNK = 512
    try:
        with open(path, encoding="utf-8") as f:
            streamed = list(tok.encode_iterable(f))
    finally:
        _stream.CHUNK = old
    assert streamed == tok.encode(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- vocabularies, surrogates


@pytest.mark.parametrize("name", ALL)
def test_every_id_has_the_reference_bytes(name: str) -> None:
    from alignkit.bpe._fileio import UNICODE_TO_BYTE

    ours, ref = _ours(name), _reference(name)
    vocab = ours.vocab
    if name in TIKTOKEN_FILES:
        assert ours.n_vocab == ref.n_vocab  # type: ignore[attr-defined]
        for i in vocab:
            assert ref.decode_single_token_bytes(i) == vocab[i], i  # type: ignore[attr-defined]
    else:
        assert ours.n_vocab == ref.get_vocab_size()  # type: ignore[attr-defined]
        specials = set(ours.special_tokens.values())
        for i in range(ours.n_vocab):
            token = ref.id_to_token(i)  # type: ignore[attr-defined]
            want = token.encode("utf-8") if i in specials else bytes([UNICODE_TO_BYTE[c] for c in token])
            assert ours.decode_bytes([i]) == want, i


@pytest.mark.parametrize("name", list(TIKTOKEN_FILES))
def test_lone_surrogates_like_tiktoken(name: str) -> None:
    for text in ["a\ud800b", "\udfff", "x\ud83d\ude00y", "\ud83d", "ok\udc00\ud800"]:
        assert _ours(name).encode(text) == ref_encode(name, text, specials=True)
        assert _ours(name).encode_ordinary(text) == ref_encode(name, text, specials=False)


# --------------------------------------------------------------------------- merges semantics, differential


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    corpus=st.text(st.sampled_from("abcab  \nxyzé😀'sl"), min_size=20, max_size=400),
    probe=st.text(st.sampled_from("abcab  \nxyzé😀'sl"), max_size=60),
    vocab_size=st.integers(260, 330),
    shuffle=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_hf_trained_vocabularies_match_hf(
    tmp_path_factory: pytest.TempPathFactory, corpus: str, probe: str, vocab_size: int, shuffle: bool, seed: int
) -> None:
    """Vocabularies trained by HF's BpeTrainer, ids optionally shuffled (so ranks != ids): same ids as HF.

    The core merges by rank of the concatenated bytes, HF by rank of the pair; this checks that
    building ranks from the merges order (and remapping ids) reproduces HF on small vocabularies
    where many tokens can be split in several ways.
    """
    import random

    from tokenizers import decoders, models, pre_tokenizers, trainers

    from alignkit.bpe.loaders.hf_json import load_hf_json

    hf = tokenizers.Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<|s|>"], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    hf.train_from_iterator([corpus], trainer)
    doc = json.loads(hf.to_str())
    if shuffle:
        vocab = doc["model"]["vocab"]
        tokens = sorted(t for t, i in vocab.items() if i != 0)
        ids = sorted(vocab[t] for t in tokens)
        random.Random(seed).shuffle(ids)
        doc["model"]["vocab"] = {"<|s|>": 0, **dict(zip(tokens, ids))}
    path = tmp_path_factory.mktemp("hf") / "tokenizer.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    ref = tokenizers.Tokenizer.from_file(str(path))
    ours = load_hf_json(path)
    for text in (probe, corpus, probe + "<|s|>" + corpus[:50]):
        assert ours.encode(text) == ref.encode(text, add_special_tokens=False).ids


def test_nfkc_follows_python_unicodedata() -> None:
    """Documented divergence: NFKC uses Python's Unicode tables, newer than HF's."""
    tok = _ours("claude-legacy")
    assert tok.encode("\u32ff") == tok.encode("令和")
    assert not normalizers_agree("claude-legacy", "\u32ff")
    assert normalizers_agree("claude-legacy", "ﬁ ① ½ Ǆ e\u0301")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["r50k_base", "cl100k_base", "o200k_base", "llama3", "qwen3", "claude-legacy"])
def test_every_unicode14_character_in_context(name: str) -> None:
    """Each code point assigned in Python's Unicode database, in letter/digit/punct/space contexts."""
    chars = [chr(c) for c in range(0x80, 0x110000) if not 0xD800 <= c <= 0xDFFF and unicodedata.category(chr(c)) != "Cn"]
    for k in range(0, len(chars), 4000):
        block = [c for c in chars[k : k + 4000] if normalizers_agree(name, c)]
        text = "\n".join(f"x{c}<a {c}1'S{c}{c}A" for c in block)
        assert_same(name, text, specials=False)


@pytest.mark.parametrize("name", ["r50k_base", "cl100k_base", "o200k_base", "llama3", "qwen3", "claude-legacy"])
def test_stream_cut_points_are_exact_in_every_context(name: str) -> None:
    """Encoding the two sides of every cut ``last_cut`` picks equals encoding the whole."""
    from alignkit.bpe import _stream

    tok = _ours(name)
    before_last = tok.pattern in _stream._CUT_BEFORE_LAST_NEWLINE
    heads = ["x", "x.", "word,", "9", "a'", "é.", "é", "...", "x)", "<|endoftext|>x", "  x"]
    runs = ["\n", "\n\n", "\n\n\n", " \n\n", "\r\n\n", "\t\n", "\n \n"]
    tails = ["Next", "9a", "ll", "s", "A'LL", "x\u0301", "a b", "1234"]
    checked = 0
    for head in heads:
        for run in runs:
            for tail in tails:
                text = head + run + tail
                cut = _stream.last_cut(text, before_last_newline=before_last)
                if cut:
                    checked += 1
                    assert tok.encode(text[:cut]) + tok.encode(text[cut:]) == tok.encode(text), (text, cut)
    assert checked > 100
