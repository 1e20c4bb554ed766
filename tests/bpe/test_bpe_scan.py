"""The compiled scanners split exactly like ``regex.findall`` with the known patterns.

Differential tests: hypothesis strings over a rich alphabet, hand-picked hard
cases, real text (shared corpora, novel slices, Python stdlib source) and, in a
slow test, every code point in a few contexts. The Unicode class tables are
re-derived from the installed ``regex`` and compared with the committed ones.
"""

from __future__ import annotations

import gzip
import sysconfig
from pathlib import Path

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.bpe import _gen_unicode, _scan, _unicode, patterns
from conftest import shared_path

KINDS: dict[str, int] = {
    "gpt2": _scan.KIND_GPT2,
    "cl100k": _scan.KIND_CL100K,
    "o200k": _scan.KIND_O200K,
    "llama3": _scan.KIND_LLAMA3,
    "qwen": _scan.KIND_QWEN,
}
NAMES = sorted(KINDS)
COMPILED_RE = {name: regex.compile(patterns.KNOWN_PATTERNS[name]) for name in NAMES}


def scan_split(name: str, text: str) -> list[str]:
    data = text.encode("utf-8", "surrogatepass")
    ends = _scan.piece_ends(KINDS[name], data)
    return [data[a:b].decode("utf-8", "surrogatepass") for a, b in zip([0, *ends], ends)]


def assert_same_split(name: str, text: str) -> None:
    expected = COMPILED_RE[name].findall(text)
    got = scan_split(name, text)
    if got != expected:
        k = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
        raise AssertionError(
            f"{name}: first difference at piece {k}: scanner {got[k - 1 : k + 2]!r} "
            f"regex {expected[k - 1 : k + 2]!r}"
        )


# --- the Unicode tables -------------------------------------------------------


def test_tables_match_the_installed_regex() -> None:
    derived = _gen_unicode.derive_classes()
    stage1, stage2 = _gen_unicode.build_tables(derived)
    assert _unicode.STAGE1 == stage1, "regenerate with: python -m alignkit.bpe._gen_unicode"
    assert _unicode.STAGE2 == stage2, "regenerate with: python -m alignkit.bpe._gen_unicode"
    for cp in (0x41, 0x61, 0x85, 0xA0, 0x301, 0x1C, 0x3000, 0x1F600, 0xD800, 0x10FFFF, 0x2160):
        assert _scan.code_point_class(cp) == derived[cp]


def test_case_folds_match_the_installed_regex() -> None:
    assert _unicode.FOLDS == {cp: ord(letter) for cp, letter in _gen_unicode.derive_folds().items()}
    assert _unicode.FOLDS[0x17F] == ord("s")  # LATIN SMALL LETTER LONG S: (?i:s) matches it
    assert 0x212A not in _unicode.FOLDS  # KELVIN SIGN folds to k, which no contraction uses


def test_whitespace_is_regex_whitespace_not_str_isspace() -> None:
    # \x1c..\x1f are str.isspace() but not \s in regex: the table follows regex.
    for cp in (0x1C, 0x1D, 0x1E, 0x1F):
        assert chr(cp).isspace() and _scan.code_point_class(cp) & 4 == 0
    for cp in (0x85, 0xA0, 0x2028, 0x3000):
        assert _scan.code_point_class(cp) & 4


# --- pattern recognition ------------------------------------------------------


def test_known_patterns_have_scanners_and_others_fall_back() -> None:
    for name in NAMES:
        assert _scan.pattern_kind(patterns.KNOWN_PATTERNS[name]) == KINDS[name]
    assert _scan.pattern_kind(patterns.GPT2_ORIGINAL) == _scan.KIND_GPT2
    assert _scan.pattern_kind(r"\w+|\s+") == _scan.KIND_REGEX
    with pytest.raises(ValueError, match="regex fallback"):
        _scan.next_end(_scan.KIND_REGEX, b"a", b"\x11", 0)


# --- hand-picked hard cases -----------------------------------------------------

HARD_CASES = [
    "",
    " ",
    "a",
    "Hello world",
    "  leading and trailing  ",
    "x  \n\n  y\r\n  \n z\n",
    "tabs\t\tand\u00a0nbsp\u3000ideographic",
    "end with spaces   ",
    "end with newline \n",
    "end with newlines \n \n ",
    "\n\n\n",
    "\r\n\r\n",
    "I'm you're he'll we've they'd it's O'Neil rock'n'roll",
    "I'M YOU'RE HE'LL WE'VE THEY'D IT'S 'S 'T 'Re 'vE",
    "\u017f'\u017f '\u017f '\u017fx 'S 'LL 'lL 'Ll",
    "'\u212a 'K 'k",  # KELVIN SIGN
    "'",
    "''s",
    "x's'",
    "HELLOworld ÀBc\u0301 ABC abc Abc aBC ǅungla",
    "e\u0301 \u0301 a\u0301\u0301b !\u0301 \u0301\u0301",
    "12345 1234567 ١٢٣٤٥ ⅠⅡⅢⅣ ½¼ ①②③ 𝟙𝟚𝟛",
    "a/b\n/c//\n\n/",
    "!!!\n\n   ???\r\n",
    "😀😀 👍🏽 👨‍👩‍👧 🇫🇷",
    "中文字符 日本語テキスト 한국어",
    "Привет, мир! Ёлка",
    "line\u2028sep\u2029para\x85nel",
    "\x1c\x1d\x1e\x1f unit separators",
    "a\ud800b \udfff \ud83d",  # lone surrogates
    " \x00 \x7f \x80",
    "   a",
    "   1",
    "   !",
    " \n a",
    "\t\ta",
    "words\r\n\r\n\r\nmore",
]


@pytest.mark.parametrize("name", NAMES)
def test_hard_cases(name: str) -> None:
    for text in HARD_CASES:
        assert_same_split(name, text)


def test_documented_splits() -> None:
    # \s+(?!\S) gives back the last space; \s++$ keeps a trailing run whole.
    assert scan_split("gpt2", "a   b  ") == ["a", "  ", " b", "  "]
    # cl100k checks \s++$ before \s*[\r\n]; Llama 3 has no \s++$.
    assert scan_split("cl100k", "a \n ") == ["a", " \n "]
    assert scan_split("llama3", "a \n ") == ["a", " \n", " "]
    # digits: 1-3 per piece except Qwen (one)
    assert scan_split("cl100k", "12345") == ["123", "45"]
    assert scan_split("qwen", "123") == ["1", "2", "3"]
    # o200k splits a case change inside a word and keeps contractions on the word
    assert scan_split("o200k", "HELLOworld I'M") == ["HELLOworld", " I'M"]
    assert scan_split("o200k", "helloWORLD") == ["hello", "WORLD"]
    assert scan_split("cl100k", "\u017f'\u017f") == ["\u017f", "'\u017f"]


def test_gpt2_original_pattern_splits_like_gpt2() -> None:
    original = regex.compile(patterns.GPT2_ORIGINAL)
    for text in HARD_CASES:
        assert original.findall(text) == COMPILED_RE["gpt2"].findall(text)


# --- hypothesis ---------------------------------------------------------------

_ALPHABET = (
    "abcdeslmtvrxyzSDLMTVRE'' \t\n\r\x0b\x0c"
    "0123456789"
    "éÀçÑßǅ"
    "\u017f\u212a"
    "Привет"
    "中文日本語한"
    "\u0301\u0308\u20dd"
    "\u0085\u00a0\u1680\u2000\u2028\u2029\u202f\u3000"
    "١٢٣४५৬Ⅳ½①𝟙"
    "!?.,;:/\\-_()[]{}<|>@#$%^&*+=~`\"\x00\x1c"
)
_PIECES = st.sampled_from(
    [*_ALPHABET, "😀", "👍🏽", "\r\n", "'s", "'LL", "'ve", "<|endoftext|>", "   ", "\n\n", "\ud800"]
)
TEXTS = st.lists(_PIECES, max_size=40).map("".join)
RANDOM_TEXTS = st.text(max_size=40)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=300, deadline=None)
@given(text=TEXTS)
def test_scanner_equals_regex_on_rich_strings(name: str, text: str) -> None:
    assert_same_split(name, text)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=150, deadline=None)
@given(text=RANDOM_TEXTS)
def test_scanner_equals_regex_on_arbitrary_unicode(name: str, text: str) -> None:
    assert_same_split(name, text)


@settings(max_examples=200, deadline=None)
@given(text=TEXTS)
def test_gpt2_original_equals_gpt2_on_rich_strings(text: str) -> None:
    assert regex.findall(patterns.GPT2_ORIGINAL, text) == COMPILED_RE["gpt2"].findall(text)


def test_classify_marks_every_byte_of_a_code_point() -> None:
    data = "aé中😀\u0301 ".encode()
    assert list(_scan.classify(data)) == [17, 17, 17, 25, 25, 25, 0, 0, 0, 0, 24, 24, 4]
    # invalid UTF-8 is "other", byte by byte, and never raises
    assert list(_scan.classify(b"\xff\xc3(\xe2\x82")) == [0, 0, 0, 0, 0]


def _classify_reference(data: bytes) -> list[int]:
    """One code point at a time: its class on each of its bytes; invalid bytes are 0."""
    out: list[int] = []
    i = 0
    while i < len(data):
        size = next((k for k in (4, 3, 2, 1) if i + k <= len(data) and _valid_sequence(data[i : i + k])), 1)
        if size == 1 and data[i] >= 0x80:
            out.append(0)
        else:
            cp = ord(data[i : i + size].decode("utf-8", "surrogatepass"))
            out.extend([_scan.code_point_class(cp)] * size)
        i += size
    return out


def _valid_sequence(seq: bytes) -> bool:
    try:
        return len(seq.decode("utf-8", "surrogatepass")) == 1
    except UnicodeDecodeError:
        return False


@settings(max_examples=300, deadline=None)
@given(
    # (no raw binary: overlong sequences, which str.encode never makes, are classed by
    # their code point, not as invalid)
    data=st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass"))
    | st.lists(st.sampled_from([b"a", b" ", b"\xc3\xa9", b"\xd0\x96", b"\xe2\x80\xa8", b"\xf0\x9f\x98\x80",
                                b"\xed\xa0\x80", b"\xc3", b"\x80", b"\xc2\xa0", b"\xcc\x81"]), max_size=30).map(b"".join)
)
def test_classify_equals_a_per_code_point_reference(data: bytes) -> None:
    assert list(_scan.classify(data)) == _classify_reference(data)


def test_classify_every_code_point_gets_its_class() -> None:
    # All of U+0000..U+FFFF (the two-byte direct table and the three-byte path, surrogates
    # included) and every 7th supplementary code point, each between ASCII letters.
    cps = [*range(0x10000), *range(0x10000, 0x110000, 7)]
    text = "".join("a" + chr(cp) for cp in cps)
    data = text.encode("utf-8", "surrogatepass")
    expected = bytearray()
    for cp in cps:
        expected.append(17)
        expected.extend(bytes([_scan.code_point_class(cp)]) * len(chr(cp).encode("utf-8", "surrogatepass")))
    assert _scan.classify(data) == bytes(expected)


@pytest.mark.parametrize(
    ("data", "classes"),
    [
        (b"\xc3", [0]),  # truncated two-byte sequence at the end
        (b"\xc3A", [0, 9]),  # lead byte followed by ASCII
        (b"\xc3\xc3\xa9", [0, 17, 17]),  # lead byte followed by a whole sequence
        (b"\xc2\x80\xdf\xba", [0, 0, 25, 25]),  # U+0080 (control), U+07FA (modifier letter)
        (b"\xc0\x80\xc1\xbf", [0, 0, 0, 0]),  # overlong two-byte forms are invalid
        (b"\x80\xbf", [0, 0]),  # lone continuation bytes
        (b"\xe4\xb8", [0, 0]),  # truncated three-byte sequence
        (b"\xf0\x9f\x98", [0, 0, 0]),  # truncated four-byte sequence
        (b"\xf4\x90\x80\x80", [0, 0, 0, 0]),  # above U+10FFFF
        (b"\xf5\x80\x80\x80", [0, 0, 0, 0]),  # no such lead byte
    ],
)
def test_classify_invalid_and_edge_sequences(data: bytes, classes: list[int]) -> None:
    assert list(_scan.classify(data)) == classes == _classify_reference(data)


# Invalid UTF-8 (never made by str.encode) has no regex to compare with: these pin the
# scanners' behaviour on it (a stray continuation byte stays with the code point before it),
# as the scanner of 2396c2b split them; kinds in the order gpt2, cl100k, o200k, llama3, qwen.
INVALID_SPLITS = {
    b" \xa9\xa9A\xa9": [[3, 4, 5], [4, 5], [4, 5], [4, 5], [4, 5]],
    b" \x80s ": [[2, 3, 4], [3, 4], [3, 4], [3, 4], [3, 4]],
    b"A\xc3 \xa9\xa9s": [[1, 2, 5, 6], [1, 2, 6], [1, 2, 6], [1, 2, 6], [1, 2, 6]],
    b"1\x80\x802": [[1, 3, 4], [4], [4], [4], [3, 4]],
    b"'\x80s x\xff": [[2, 3, 5, 6], [3, 5, 6], [3, 5, 6], [3, 5, 6], [3, 5, 6]],
    b"  \x80\n\n": [[1, 3, 5], [1, 5], [1, 5], [1, 5], [1, 5]],
}


@pytest.mark.parametrize("data", list(INVALID_SPLITS))
def test_invalid_utf8_splits_are_pinned(data: bytes) -> None:
    kinds = [_scan.KIND_GPT2, _scan.KIND_CL100K, _scan.KIND_O200K, _scan.KIND_LLAMA3, _scan.KIND_QWEN]
    assert [_scan.piece_ends(kind, data) for kind in kinds] == INVALID_SPLITS[data]


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=40))
def test_any_bytes_split_into_a_partition(data: bytes) -> None:
    for kind in KINDS.values():
        ends = _scan.piece_ends(kind, data)
        assert all(a < b for a, b in zip([0, *ends], ends)) and ends[-1:] == ([len(data)] if data else [])


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=100, deadline=None)
@given(text=TEXTS)
def test_piece_count_is_the_number_of_pieces(name: str, text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    assert _scan.piece_count(KINDS[name], data) == len(_scan.piece_ends(KINDS[name], data))


# --- real text ----------------------------------------------------------------


def _novel_slice(path: Path, size: int) -> str:
    with gzip.open(path, "rb") as f:
        data = f.read(size)
    return data.decode("utf-8", "ignore")


def _stdlib_source(limit: int) -> str:
    root = Path(sysconfig.get_paths()["stdlib"])
    parts: list[str] = []
    total = 0
    for path in sorted(root.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        parts.append(text)
        total += len(text)
        if total >= limit:
            break
    return "".join(parts)


@pytest.mark.parametrize("name", NAMES)
def test_scanner_equals_regex_on_shared_corpora(name: str) -> None:
    folder = shared_path("data", "corpora", "cs336")
    for path in sorted(folder.glob("*.txt")) + [folder / "corpus.en"]:
        assert_same_split(name, path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", NAMES)
def test_scanner_equals_regex_on_novel_slices_and_source(name: str) -> None:
    for novel in ("en_novels.txt.gz", "multi_novels.txt.gz"):
        assert_same_split(name, _novel_slice(shared_path("bench", novel), 100_000))
    assert_same_split(name, _stdlib_source(150_000))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_scanner_equals_regex_on_large_real_text(name: str) -> None:
    for novel in ("en_novels.txt.gz", "multi_novels.txt.gz"):
        assert_same_split(name, _novel_slice(shared_path("bench", novel), 3_000_000))
    assert_same_split(name, _stdlib_source(3_000_000))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_every_code_point_in_context(name: str) -> None:
    # Each context is joined over all code points (surrogates included, which
    # regex sees as \p{Cs}); any disagreement on any code point shows up in the split.
    for context in ("a{c}b", " {c}{c}", "'{c}", "{c}'s ", "\n{c}1"):
        for start in range(0, 0x110000, 0x10000):
            text = "".join(context.format(c=chr(cp)) for cp in range(start, start + 0x10000))
            assert_same_split(name, text)
