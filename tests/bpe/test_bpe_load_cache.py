"""The tokenizer cache (``alignkit.bpe.loaders._cache``): a cached load is the same tokenizer.

The suite runs with the cache off (``conftest.py`` sets ``ALIGNKIT_CACHE_DIR`` empty, so
that loader tests exercise the parsers); these tests turn it on in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from alignkit.bpe.loaders import _cache, load_tokenizer
from alignkit.bpe.tokenizer import Tokenizer
from conftest import SAMPLE_DATA, shared_path

TEXTS = [
    "Hello, world! It's 2026 and we've got 12,345 tokens.\n\n  indented\tcode()  ",
    "Ünïcödé café naïve — 東京 你好 Привет мир ‽ 🤖🧪 e\u0301",
    "<|endoftext|><|im_start|>user\n<|im_end|><|eot_id|><|begin_of_text|> <s></s>",
    "   \n\n\n\r\n   x" * 3,
]

SOURCES = {
    "bundled gpt2": None,
    "qwen3 folder": ("tokenizers", "qwen3"),
    "llama3 folder": ("tokenizers", "llama3", "Meta-Llama-3-8B-Instruct"),  # + tokenizer.model
    "llama3 rank file": ("tokenizers", "llama3", "tokenizer.model"),
    "claude tokenizer.json": ("tokenizers", "claude-legacy", "tokenizer.json"),
    "gpt2 vocab.json": ("tokenizers", "gpt2", "vocab.json"),
    "cl100k": ("tokenizers", "tiktoken", "cl100k_base.tiktoken"),
    "o200k": ("tokenizers", "tiktoken", "o200k_base.tiktoken"),
}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ALIGNKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "tokenizers"


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[Tokenizer | None]:
    """What each cache read gives, recorded."""
    seen: list[Tokenizer | None] = []
    real = _cache.read

    def read(entry: _cache.Entry) -> Tokenizer | None:
        seen.append(real(entry))
        return seen[-1]

    monkeypatch.setattr(_cache, "read", read)
    return seen


def _same(a: Tokenizer, b: Tokenizer) -> None:
    """``b`` is ``a``: canonical content, recomputed content hash, names, ids, decoding."""
    assert (b.name, b.source, b.n_vocab, b.special_tokens) == (a.name, a.source, a.n_vocab, a.special_tokens)
    assert b.to_dict() == a.to_dict()
    assert b.hash == a.hash
    b._hash = None  # the cached hash, recomputed from the rebuilt content
    assert b.hash == a.hash
    for text in TEXTS:
        ids = a.encode(text, allowed_special="all")
        assert b.encode(text, allowed_special="all") == ids
        assert b.encode_ordinary(text) == a.encode_ordinary(text)
        assert b.decode(ids) == a.decode(ids)
    assert b.vocab == a.vocab


@pytest.mark.parametrize("label", list(SOURCES))
def test_a_cached_load_is_the_same_tokenizer(label: str, cache: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    parts = SOURCES[label]
    spec = None if parts is None else str(shared_path("data", *parts))
    if label == "llama3 folder":  # a hub snapshot: the config files and the rank file together
        folder = tmp_path / "Meta-Llama-3-8B-Instruct"
        shutil.copytree(spec, folder)
        shutil.copy(shared_path("data", "tokenizers", "llama3", "tokenizer.model"), folder)
        spec = str(folder)
    seen = _reads(monkeypatch)
    first = load_tokenizer(spec)
    assert seen == [None] and len(list(cache.iterdir())) == 1  # a miss, then one entry written
    second = load_tokenizer(spec)
    assert len(seen) == 2 and seen[1] is second  # read back from the entry
    monkeypatch.setenv("ALIGNKIT_CACHE_DIR", "")
    parsed = load_tokenizer(spec)  # the cache off: parsed again
    assert len(seen) == 2
    _same(parsed, first)
    _same(parsed, second)


def _copy_qwen(tmp_path: Path) -> Path:
    folder = tmp_path / "Qwen3-copy"
    shutil.copytree(shared_path("data", "tokenizers", "qwen3"), folder)
    return folder


def test_a_changed_source_is_parsed_again(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _copy_qwen(tmp_path)
    seen = _reads(monkeypatch)
    load_tokenizer(folder)
    assert load_tokenizer(folder).special_tokens["<|im_end|>"] == 151645
    config = folder / "tokenizer_config.json"
    st = config.stat()
    # the same size and mtime, other content: the ctime (and the stamps) differ
    text = config.read_text()
    config.write_text(text.replace('"<|im_end|>"', '"<|im_END|>"'))
    os.utime(config, ns=(st.st_atime_ns, st.st_mtime_ns))
    # a folder with tokenizer.json.gz reads only that; what counts is that no stale entry is used
    (folder / "tokenizer.json.gz").unlink()
    (folder / "vocab.json").rename(folder / "v.json")
    (folder / "v.json").rename(folder / "vocab.json")  # same content, other ctime
    changed = load_tokenizer(folder)
    assert seen[-1] is None  # the entry did not match: parsed
    assert "<|im_END|>" in changed.special_tokens and "<|im_end|>" not in changed.special_tokens
    again = load_tokenizer(folder)
    assert seen[-1] is again and again.special_tokens == changed.special_tokens
    assert len(list(cache.iterdir())) == 1  # the entry was replaced, not added to


def test_a_new_file_in_the_folder_is_seen(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder's entry also records the files it lacks: adding one the loaders prefer counts."""
    folder = tmp_path / "m"
    folder.mkdir()
    gpt2 = shared_path("data", "tokenizers", "gpt2")
    shutil.copy(gpt2 / "vocab.json", folder)
    shutil.copy(gpt2 / "merges.txt", folder)
    (folder / "tokenizer_config.json").write_text('{"tokenizer_class": "GPT2Tokenizer"}')
    seen = _reads(monkeypatch)
    before = load_tokenizer(folder)
    assert load_tokenizer(folder).hash == before.hash and seen[-1] is not None
    shutil.copy(shared_path("data", "tokenizers", "claude-legacy", "tokenizer.json"), folder)  # preferred
    after = load_tokenizer(folder)
    assert seen[-1] is None and after.hash != before.hash
    assert after.hash == load_tokenizer(shared_path("data", "tokenizers", "claude-legacy", "tokenizer.json")).hash


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "empty", "not an entry", "other key"])
def test_a_damaged_entry_is_ignored_and_replaced(damage: str, tmp_path: Path, cache: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    spec = shared_path("data", "tokenizers", "tiktoken", "r50k_base.tiktoken")
    good = load_tokenizer(spec)
    (entry,) = cache.iterdir()
    data = entry.read_bytes()
    if damage == "truncated":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "flipped byte":
        entry.write_bytes(data[:-100] + bytes([data[-100] ^ 1]) + data[-99:])
    elif damage == "empty":
        entry.write_bytes(b"")
    elif damage == "not an entry":
        entry.write_bytes(b"\x00" * 4096)
    else:  # an intact entry written for other stamps (the file was replaced since)
        other = tmp_path / "other.tiktoken"
        shutil.copy(spec, other)
        load_tokenizer(other)
        moved = [p for p in cache.iterdir() if p != entry]
        os.replace(moved[0], entry)
    seen = _reads(monkeypatch)
    tok = load_tokenizer(spec)
    assert seen == [None]
    _same(good, tok)
    assert load_tokenizer(spec) is seen[-1]  # replaced by a good entry: read back


def test_an_unusable_cache_folder_is_no_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ALIGNKIT_CACHE_DIR", str(blocker / "cache"))  # cannot be made
    seen = _reads(monkeypatch)
    first, second = load_tokenizer(), load_tokenizer()
    assert seen == [None, None] and first.hash == second.hash
    assert list(tmp_path.iterdir()) == [blocker]  # no temporary file left behind


def test_an_empty_setting_turns_the_cache_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIGNKIT_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    seen = _reads(monkeypatch)
    load_tokenizer()
    assert seen == [] and list(tmp_path.iterdir()) == []


def test_the_default_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALIGNKIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _cache.cache_dir() == str(tmp_path / "xdg" / "alignkit" / "tokenizers")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _cache.cache_dir() == str(tmp_path / "home" / ".cache" / "alignkit" / "tokenizers")
    load_tokenizer()
    assert len(list((tmp_path / "home" / ".cache" / "alignkit" / "tokenizers").iterdir())) == 1
    monkeypatch.setattr(os.path, "expanduser", lambda path: path)  # no home folder known
    assert _cache.cache_dir() is None


def test_errors_are_not_cached(tmp_path: Path, cache: Path) -> None:
    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"model": {"type": "Unigram"}}')
    for _ in range(2):
        with pytest.raises(Exception, match="Unigram"):
            load_tokenizer(bad)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_a_pickled_tokenizer_is_rebuilt_through_the_cache(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    spec = shared_path("data", "tokenizers", "tiktoken", "p50k_base.tiktoken")
    tok = load_tokenizer(spec)
    seen = _reads(monkeypatch)
    for _ in range(2):  # (its source may name it otherwise than the spec loaded: a miss first)
        copy = pickle.loads(pickle.dumps(tok))
        assert copy.encode(TEXTS[0]) == tok.encode(TEXTS[0])
        assert copy.hash == tok.hash
    assert seen[-1] is not None


def test_the_command_line_writes_the_same_output_with_the_cache_cold_warm_or_off(tmp_path: Path) -> None:
    """Three real runs of ``alignkit tokenize`` on a model folder: the manifests (with the
    tokenizer's content hash) and every output file are byte-identical."""
    import hashlib
    import subprocess
    import sys

    folder = _copy_qwen(tmp_path)
    outputs = []
    for setting in (str(tmp_path / "cache"), str(tmp_path / "cache"), ""):
        out = tmp_path / f"out{len(outputs)}"
        env = dict(os.environ, ALIGNKIT_CACHE_DIR=setting)
        subprocess.run([sys.executable, "-m", "alignkit", "tokenize", str(SAMPLE_DATA / "sft.jsonl"), "-o", str(out),
                        "--tokenizer", str(folder), "--template", "qwen3"], check=True, env=env, capture_output=True, cwd=tmp_path)
        outputs.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())})
    assert len(list((tmp_path / "cache" / "tokenizers").iterdir())) == 1
    assert outputs[0] == outputs[1] == outputs[2] and "manifest.json" in outputs[0]


def test_the_least_recently_used_entries_beyond_the_limit_are_removed(cache: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_cache, "MAX_ENTRIES", 2)
    path = {name: str(shared_path("data", "tokenizers", "tiktoken", f"{name}.tiktoken"))
            for name in ("r50k_base", "p50k_base", "cl100k_base")}
    load_tokenizer(path["r50k_base"])
    load_tokenizer(path["p50k_base"])
    assert len(list(cache.iterdir())) == 2
    for entry in cache.iterdir():
        os.utime(entry, ns=(1, 1))  # both long unused
    seen = _reads(monkeypatch)
    assert load_tokenizer(path["r50k_base"]) is seen[-1]  # read back: r50k's entry is used now
    load_tokenizer(path["cl100k_base"])  # a third entry: the least recently used one (p50k's) goes
    assert len(list(cache.iterdir())) == 2
    assert load_tokenizer(path["r50k_base"]) is seen[-1]  # kept
    load_tokenizer(path["p50k_base"])
    assert seen[-1] is None  # removed: parsed again


def test_processes_filling_the_cache_at_once_leave_one_good_entry(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Four processes load the same source into an empty cache together: each gets the right
    tokenizer, one intact entry is left (read back here) and no temporary file."""
    import subprocess
    import sys

    spec = str(shared_path("data", "tokenizers", "tiktoken", "cl100k_base.tiktoken"))
    code = "import sys\nfrom alignkit.bpe.loaders import load_tokenizer\nprint(load_tokenizer(sys.argv[1]).hash)\n"
    env = dict(os.environ, ALIGNKIT_CACHE_DIR=str(tmp_path / "cache"))
    procs = [subprocess.Popen([sys.executable, "-c", code, spec], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                              text=True) for _ in range(4)]
    hashes = {p.communicate()[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    expected = load_tokenizer(spec).hash  # (the suite's cache is off: parsed)
    assert hashes == {expected}
    entries = list((tmp_path / "cache" / "tokenizers").iterdir())
    assert len(entries) == 1 and entries[0].suffix == ".bin"
    monkeypatch.setenv("ALIGNKIT_CACHE_DIR", str(tmp_path / "cache"))
    seen = _reads(monkeypatch)
    assert load_tokenizer(spec) is seen[-1] and seen[-1].hash == expected
