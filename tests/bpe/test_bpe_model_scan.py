"""The compiled reader of alignkit's own file's token lists (alignkit.bpe.loaders._model_scan).

Whenever it answers, its answer is ``json.loads`` + ``model_file._pairs``'s; anything
it cannot read exactly (non-canonical base64, odd ids, odd keys) it leaves to them.
"""

from __future__ import annotations

import base64
import json
from importlib import resources

from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.bpe._fileio import read_bytes
from alignkit.bpe.loaders._model_scan import model_doc
from alignkit.bpe.model_file import _pairs
from alignkit.errors import TokenizerFileError

B64 = st.one_of(
    st.binary(min_size=1, max_size=7).map(lambda b: base64.b64encode(b).decode()),
    st.text(alphabet="ABCDQRYZab09+/=", max_size=9),  # anything base64-looking: padding, spare bits, lengths
    st.sampled_from(["", "YQ", "YR==", "Y Q==", "YQ==\\n", "\\u0059Q==", "YQ=", "=YQ="]),
)
IDS = st.one_of(st.integers(0, 10**6).map(str), st.sampled_from(["-1", "1.0", "1e2", "true", "01", "null", '"3"']))


@st.composite
def model_files(draw: st.DrawFn) -> str:
    """An alignkit tokenizer file's text, perhaps spoilt."""
    ws = draw(st.sampled_from(["", " ", "\n  "]))

    def pairs() -> str:
        items = [f"[{ws}\"{draw(B64)}\",{ws}{draw(IDS)}{ws}]" for _ in range(draw(st.integers(0, 5)))]
        if items and draw(st.integers(0, 6)) == 0:
            items[0] = draw(st.sampled_from(['["YQ=="]', '["YQ==", 1, 2]', '"YQ=="', "[1, 1]"]))
        return "[" + ",".join(ws + i for i in items) + ws + "]"

    members = [
        '"format": "alignkit-bpe"',
        '"version": 1',
        '"specials": [["<|x|>", 9], ["a\\"b", 10]]',
        f'"tokens": {pairs()}',
        f'"added": {pairs()}',
        '"decoy": {"tokens": [["YQ==", 1]], "s": "\\"added\\": []"}',
        '"hash": "ab"',
    ]
    extra = draw(st.sampled_from(["", '"tokens": []', '"added": []', '"tok\\u0065ns": []']))
    if extra:
        members.append(extra)
    if draw(st.booleans()):
        members = draw(st.permutations(members))
    return "{" + ",".join(ws + m for m in members) + ws + "}" + draw(st.sampled_from(["", "\n", " x"]))


def _json_path(text: str) -> tuple[dict[str, object], dict[str, tuple[list[bytes], list[int]]]] | None:
    """What load_model_file reads without the scanner (None: it raises)."""
    try:
        doc = json.loads(text)
        return doc, {key: _pairs(doc, key, "x") for key in ("tokens", "added")}
    except (ValueError, TokenizerFileError):
        return None


@given(model_files())
@settings(max_examples=400, deadline=None)
def test_model_scan_answers_only_what_json_reads(text: str) -> None:
    scanned = model_doc(text.encode("utf-8"))
    expected = _json_path(text)
    if scanned is None:
        return
    assert expected is not None, "the scanner accepted what the json path refuses"
    doc, lists = scanned
    assert lists == expected[1]
    assert {k: v for k, v in doc.items() if k not in ("tokens", "added")} == {
        k: v for k, v in expected[0].items() if k not in ("tokens", "added")
    }


@given(st.lists(st.tuples(st.binary(min_size=1, max_size=12), st.integers(0, 2**40)), max_size=30), st.booleans())
@settings(max_examples=200, deadline=None)
def test_files_alignkit_writes_take_the_scanner_path(pairs: list[tuple[bytes, int]], indent: bool) -> None:
    doc = {"format": "alignkit-bpe", "tokens": [[base64.b64encode(t).decode(), i] for t, i in pairs], "added": []}
    scanned = model_doc(json.dumps(doc, indent=2 if indent else None).encode())
    assert scanned is not None
    assert scanned[1]["tokens"] == ([t for t, _ in pairs], [i for _, i in pairs])


def test_bundled_file_scans_to_the_json_path() -> None:
    path = resources.files("alignkit.bpe").joinpath("data", "gpt2.alignkit.json.gz")
    with resources.as_file(path) as real:
        data = read_bytes(real)
    scanned, expected = model_doc(data), _json_path(data.decode())
    assert scanned is not None and expected is not None
    assert scanned[1] == expected[1] and len(scanned[1]["tokens"][0]) == 50256
    assert {k: v for k, v in scanned[0].items() if k not in ("tokens", "added")} == {
        k: v for k, v in expected[0].items() if k not in ("tokens", "added")
    }
