"""The fast tiktoken load path: one-call base64, dense ranks handed to the core, lazy tables and imports."""

from __future__ import annotations

import base64
import binascii
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import shared_path
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.bpe import Tokenizer
from alignkit.bpe.loaders._rank_file import canonical_ranks, parse_canonical
from alignkit.bpe.loaders.tiktoken_file import ENCODINGS, load_tiktoken, parse_ranks
from alignkit.bpe.patterns import GPT2

_TOKENS = st.lists(st.binary(min_size=1, max_size=9), min_size=1, max_size=12, unique=True)


def _file(tokens: list[bytes], ranks: list[int]) -> bytes:
    return b"".join(base64.b64encode(t) + b" " + str(r).encode() + b"\n" for t, r in zip(tokens, ranks))


@given(_TOKENS, st.data())
@settings(max_examples=200, deadline=None)
def test_parse_canonical_equals_the_line_parser_and_tells_dense_ranks(tokens: list[bytes], data: st.DataObject) -> None:
    """Any token set, ranks dense or shuffled or with gaps: the ranks of the line-by-line
    parser, in file order, and ``dense`` exactly when they are 0, 1, 2, ... in order."""
    n = len(tokens)
    ranks = data.draw(st.one_of(st.just(list(range(n))), st.permutations(range(n)),
                                st.lists(st.integers(0, 3 * n), min_size=n, max_size=n, unique=True)))
    text = _file(tokens, ranks)
    got = parse_canonical(text)
    assert got is not None
    table, dense = got
    assert list(table.items()) == list(parse_ranks(text.decode(), "r.tiktoken").items())
    assert dense == (ranks == list(range(n)))


@given(_TOKENS, st.integers(0, 11), st.sampled_from([b"-", b"_", b"\x00", b"\xff", b".", b"=", b"A=", b"*"]))
@settings(max_examples=300, deadline=None)
def test_a_foreign_byte_in_any_field_is_never_decoded(tokens: list[bytes], where: int, junk: bytes) -> None:
    """librt's b64decode skips characters outside the alphabet: the parser must still refuse them
    (or, where the line parser accepts the field, agree with it)."""
    lines = [base64.b64encode(t) for t in tokens]
    k = where % len(lines)
    cut = where % (len(lines[k]) + 1)
    lines[k] = lines[k][:cut] + junk + lines[k][cut:]
    text = b"".join(line + b" " + str(r).encode() + b"\n" for r, line in enumerate(lines))
    got = canonical_ranks(text)
    try:
        want = [base64.b64decode(line, validate=True) for line in lines]
    except binascii.Error:
        assert got is None
        return
    if got is not None:
        assert list(got) == want


def test_duplicates_and_bad_layout_step_aside() -> None:
    assert canonical_ranks(b"YQ== 0\nYQ== 1\n") is None  # a token twice
    assert canonical_ranks(b"YQ== 1\nYg== 1\n") is None  # a rank twice (in order)
    assert canonical_ranks(b"YQ== 2\nYg== 0\nYw== 2\n") is None  # a rank twice (out of order)
    assert canonical_ranks(b"Y=== 0\n") is None and canonical_ranks(b"Y=Q= 0\n") is None
    assert canonical_ranks(b"YQ== " + b"9" * 16 + b"\n") is None  # more digits than a rank has
    assert parse_canonical(b"YQ== 0") == ({b"a": 0}, True)  # no final newline


def _tiny_file(tmp_path: Path) -> tuple[Path, dict[bytes, int]]:
    ranks = {bytes([b]): b for b in range(256)}
    for token in (b"ab", b"abc", b" t", b" th", b"\xe2\x82", b"\xe2\x82\xac"):
        ranks[token] = len(ranks)
    path = tmp_path / "tiny.tiktoken"
    path.write_bytes(_file(list(ranks), list(ranks.values())))
    return path, ranks


def test_dense_load_equals_from_ranks(tmp_path: Path) -> None:
    """The dense path (table handed to the core, lists made on first use) is the same tokenizer
    as ``from_ranks``: hash, saved form, vocabulary, encode, decode of every id, pickling."""
    path, ranks = _tiny_file(tmp_path)
    specials = {"<|endoftext|>": len(ranks), "<|x|>": len(ranks) + 3}
    parsed = parse_canonical(path.read_bytes())
    assert parsed is not None and parsed[1]
    dense = Tokenizer._from_dense_ranks(parsed[0], specials, GPT2, "r50k_base")
    assert dense._id_list is None and dense._token_list is None  # nothing built yet
    general = Tokenizer.from_ranks(ranks, specials, pattern=GPT2, name="r50k_base")
    text = "abc the €uro ab<|endoftext|>x<|x|>"
    assert dense.encode(text) == general.encode(text) and dense.encode_ordinary(text) == general.encode_ordinary(text)
    every = list(range(dense.n_vocab))
    known = [i for i in every if i in general.vocab]
    assert dense.decode_bytes(known) == general.decode_bytes(known)
    assert dense.n_vocab == general.n_vocab == len(ranks) + 4
    with pytest.raises(ValueError):
        dense.decode_bytes([len(ranks) + 1])  # a gap between specials: no token has it
    assert dense.vocab == general.vocab and dense.token_to_id(b" th") == general.token_to_id(b" th")
    assert dense.to_dict() == general.to_dict() and dense.hash == general.hash
    again = pickle.loads(pickle.dumps(dense))
    assert again.encode(text) == dense.encode(text) and again.hash == dense.hash
    saved = tmp_path / "tiny.json"
    dense.save(saved)
    from alignkit.bpe.model_file import load_model_file

    assert load_model_file(saved).hash == dense.hash


def test_dense_load_refuses_special_ids_inside_the_vocabulary(tmp_path: Path) -> None:
    from alignkit.errors import TokenizerFileError

    path = shared_path("data", "tokenizers", "tiktoken", "r50k_base.tiktoken")
    with pytest.raises(TokenizerFileError, match="special-token ids"):
        load_tiktoken(path, "r50k_base", special_tokens={"<|endoftext|>": 5})


def test_real_rank_file_takes_the_dense_path_and_matches_the_general_one() -> None:
    path = shared_path("data", "tokenizers", "tiktoken", "cl100k_base.tiktoken")
    tok = load_tiktoken(path)
    assert tok._id_list is None and tok._remap is None
    assert tok.special_tokens == ENCODINGS["cl100k_base"].specials
    assert tok.encode("hello world<|endoftext|>") == [15339, 1917, 100257]
    assert tok.decode([15339, 1917, 100257]) == "hello world<|endoftext|>"
    general = Tokenizer.from_ranks(parse_ranks(path.read_text(), str(path)), ENCODINGS["cl100k_base"].specials,
                                   pattern=ENCODINGS["cl100k_base"].pattern, name="cl100k_base")
    assert tok.hash == general.hash


def test_loading_a_rank_file_imports_only_what_it_needs(tmp_path: Path) -> None:
    """A fresh process that loads a tiktoken file and encodes imports neither the JSON/folder
    loaders nor regex, pathlib, hashlib or json (the whole-process cost of issue 3)."""
    path = shared_path("data", "tokenizers", "tiktoken", "r50k_base.tiktoken")
    code = (
        "import sys\n"
        "from alignkit.bpe import load_tokenizer\n"
        f"tok = load_tokenizer({str(path)!r} + '#r50k_base')\n"
        "tok.encode_ordinary('abc the')\n"
        "heavy = ['regex', 'pathlib', 'hashlib', 'json', 'importlib.resources', 'alignkit.bpe.loaders.hf_json',\n"
        "         'alignkit.bpe.loaders.folder', 'alignkit.bpe.model_file', 'alignkit.io.atomic']\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    import alignkit

    env = dict(os.environ)  # the child imports the alignkit this test runs against (editable, compiled, scratch)
    root = str(Path(alignkit.__file__ or "").resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in [root, env.get("PYTHONPATH", "")] if p)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.fixture(scope="module")
def small_core_ranks() -> dict[bytes, int]:
    ranks = {bytes([b]): b for b in range(256)}
    for token in (b"ab", b"abab", b" a", b" ab", b"\xe2\x82", b"\xe2\x82\xac", b"aa", b"aaaa", b"aaaaaaaa", b"  "):
        ranks[token] = len(ranks)
    return ranks


@given(st.text(alphabet="ab €\n", max_size=40), st.sampled_from([0, 1, 7, 8, 9, 15]))
@settings(max_examples=30, deadline=None)
def test_a_long_text_read_in_place_ends_like_the_reference(small_core_ranks: dict[bytes, int], tail: str, pad: int) -> None:
    """Texts past the in-place threshold are not copied with padding: the pieces in their
    last bytes (a long word, a multi-byte character, a run of spaces) still merge exactly."""
    from alignkit.bpe import _core, _reference_encode
    from alignkit.bpe.patterns import GPT2

    body = "ab " * ((_core._IN_PLACE_MIN // 3) + 1)
    text = body + "a" * pad + tail
    core = _core.BPECore(small_core_ranks, GPT2)
    memo: dict[str, list[int]] = {}
    want = []
    for piece in _reference_encode.split(GPT2, text):  # the reference, each distinct piece merged once
        if piece not in memo:
            memo[piece] = _reference_encode.merge_piece(small_core_ranks, piece.encode())
        want += memo[piece]
    assert len(text.encode()) >= _core._IN_PLACE_MIN
    assert core.encode_ordinary(text) == want
    assert core.encode_ordinary(text) == want  # warm: cached pieces


def test_model_file_loads_through_the_scanner_as_through_json(tmp_path: Path) -> None:
    """load_model_file reads the token lists with the compiled scanner where it runs compiled:
    the same tokenizer as the json.loads path (saved files and the bundled GPT-2)."""
    from alignkit.bpe._fileio import expect_dict, parse_json, read_bytes
    from alignkit.bpe.loaders import _model_scan
    from alignkit.bpe.loaders import load_tokenizer
    from alignkit.bpe.model_file import load_model_file, tokenizer_from_dict

    ranks = {bytes([b]): b for b in range(256)} | {b"ab": 256, b" th": 257}
    saved = tmp_path / "t.json.gz"
    Tokenizer.from_ranks(ranks, {"<|end|>": 300}, added={290: b"\xff\xfe"}, name="t").save(saved)
    from importlib import resources

    with resources.as_file(resources.files("alignkit.bpe").joinpath("data", "gpt2.alignkit.json.gz")) as real:
        bundled_path = Path(real)
        cases = ((saved, load_model_file(saved)), (bundled_path, load_model_file(bundled_path)))
        for path, tok in cases:
            data = read_bytes(path)
            assert (_model_scan.model_doc(data) is not None) or not _model_scan.NATIVE
            general = tokenizer_from_dict(expect_dict(parse_json(data, path), str(path)), str(path), require_hash=True)
            assert tok.hash == general.hash and tok.to_dict() == general.to_dict()
            assert tok.encode("ab the<|end|>") == general.encode("ab the<|end|>")
    assert load_tokenizer().hash == cases[1][1].hash
