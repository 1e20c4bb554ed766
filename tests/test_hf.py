"""``datasets.map`` integration: same rows as the CLI, num_proc, cache hits, fingerprints (F14)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

datasets = pytest.importorskip("datasets")

from conftest import REPO_ROOT, SAMPLE_DATA

from alignkit.errors import InputError
from alignkit.hf import PreferenceTokenize, SFTTokenize, tokenize_dataset
from alignkit.pipeline import tokenize_files
from alignkit.worker import TokenizeConfig


def _load(path: Path, cache: Path) -> object:
    return datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(cache))


@pytest.mark.parametrize(("name", "fn"), [
    ("sft.jsonl", SFTTokenize(max_seq_len=256, truncation="drop")),
    ("preference.jsonl", PreferenceTokenize(max_seq_len=512)),
])
def test_same_rows_as_the_cli(tmp_path: Path, name: str, fn: SFTTokenize) -> None:
    src = SAMPLE_DATA / name
    cfg = TokenizeConfig(max_seq_len=fn.config.max_seq_len, truncation=fn.config.truncation)
    tokenize_files([src], tmp_path / "cli", cfg)
    cli = datasets.load_from_disk(str(tmp_path / "cli"))
    ours = tokenize_dataset(_load(src, tmp_path / "cache"), fn)
    assert ours.column_names == cli.column_names
    assert ours.to_dict() == cli.to_dict()
    assert ours.features == cli.features


def test_num_proc_and_cache_hit(tmp_path: Path) -> None:
    ds = _load(SAMPLE_DATA / "sft.jsonl", tmp_path / "cache")
    fn = SFTTokenize(max_seq_len=128)
    one = tokenize_dataset(ds, fn, batch_size=8)
    two = tokenize_dataset(ds, SFTTokenize(max_seq_len=128), num_proc=2, batch_size=8)
    assert one.to_dict() == two.to_dict()
    files = [f["filename"] for f in one.cache_files]
    stamps = [os.stat(f).st_mtime_ns for f in files]
    again = tokenize_dataset(ds, SFTTokenize(max_seq_len=128), batch_size=8)
    assert [f["filename"] for f in again.cache_files] == files  # the cache was hit
    assert [os.stat(f).st_mtime_ns for f in files] == stamps
    # plain ds.map with a fresh but equal callable: datasets' own hash is stable too
    plain = ds.map(SFTTokenize(max_seq_len=128), batched=True, remove_columns=ds.column_names)
    plain2 = ds.map(SFTTokenize(max_seq_len=128), batched=True, remove_columns=ds.column_names)
    assert plain._fingerprint == plain2._fingerprint
    assert plain.to_dict() == one.to_dict()


def _tokenizer_file(path: Path, merge: tuple[bytes, bytes]) -> Path:
    from alignkit.bpe.tokenizer import Tokenizer

    vocab = {i: bytes([i]) for i in range(256)} | {256: merge[0] + merge[1]}
    Tokenizer(vocab, [merge], ["<|endoftext|>"]).save(str(path))
    return path


def test_fingerprint_changes_with_every_setting(tmp_path: Path) -> None:
    from datasets.fingerprint import Hasher

    tok_a = _tokenizer_file(tmp_path / "a.json", (b"a", b"b"))
    base = {"tokenizer": str(tok_a), "template": "plain", "max_seq_len": 64, "truncation": "truncate",
            "mask": "assistant"}
    prints = {SFTTokenize(**base).fingerprint("x")}  # type: ignore[arg-type]
    hashes = {Hasher.hash(SFTTokenize(**base))}  # type: ignore[arg-type]
    assert SFTTokenize(**base).fingerprint("x") in prints  # type: ignore[arg-type]
    mutations = [("template", "chatml"), ("max_seq_len", 65), ("truncation", "drop"), ("mask", "last")]
    for key, value in mutations:
        fn = SFTTokenize(**{**base, key: value})  # type: ignore[arg-type]
        prints.add(fn.fingerprint("x"))
        hashes.add(Hasher.hash(fn))
    # the same path, one byte of the file changed: a different tokenizer, a different print
    _tokenizer_file(tok_a, (b"b", b"a"))
    prints.add(SFTTokenize(**base).fingerprint("x"))  # type: ignore[arg-type]
    hashes.add(Hasher.hash(SFTTokenize(**base)))  # type: ignore[arg-type]
    prints.add(SFTTokenize(**base).fingerprint("y"))  # type: ignore[arg-type]
    prints.add(PreferenceTokenize(**base).fingerprint("y"))  # type: ignore[arg-type]
    assert len(prints) == 8 and len(hashes) == 6


def test_fingerprint_is_stable_across_processes() -> None:
    code = "from alignkit.hf import SFTTokenize; print(SFTTokenize(max_seq_len=77).fingerprint('in'))"
    outs = set()
    for seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outs.add(subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO_ROOT, check=True,
                                capture_output=True, text=True).stdout.strip())
    assert len(outs) == 1 and len(outs.pop()) == 16


def test_bad_rows_and_per_row_mode(tmp_path: Path) -> None:
    fn = SFTTokenize(max_seq_len=8, truncation="drop")
    good = {"turns": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    long = {"turns": [{"role": "user", "content": "hi " * 50}, {"role": "assistant", "content": "yo"}]}
    row = fn(good)
    assert set(row) == {"input_ids", "labels", "role_ids", "attention_mask"}
    assert isinstance(row["input_ids"][0], int)
    batch = fn({"turns": [good["turns"], long["turns"], good["turns"]]})
    assert len(batch["input_ids"]) == 2  # the long one is dropped
    with pytest.raises(InputError, match="batched=True"):
        fn(long)
    with pytest.raises(InputError, match="no_assistant_turn"):
        fn({"turns": [{"role": "user", "content": "no answer"}]})
    assert json.dumps(fn.identity())  # plain data


def _byte_text() -> dict[int, str]:
    """GPT-2's printable form of each byte (tokenizer.json writes tokens in it)."""
    keep = [*range(33, 127), *range(161, 173), *range(174, 256)]
    extra = iter(range(256, 512))
    return {b: chr(b) if b in keep else chr(next(extra)) for b in range(256)}


def _tokenizer_folder(folder: Path) -> Path:
    """A small Hugging Face tokenizer folder (byte-level BPE ``tokenizer.json``)."""
    text = _byte_text()
    vocab = {text[b]: b for b in range(256)} | {"ab": 256}
    doc = {
        "added_tokens": [{"id": 257, "content": "<|endoftext|>", "special": True},
                         {"id": 258, "content": "<|pad|>", "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "vocab": vocab, "merges": ["a b"]},
    }
    folder.mkdir(parents=True)
    (folder / "tokenizer.json").write_text(json.dumps(doc))
    return folder


def test_fingerprint_follows_content_not_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from datasets.fingerprint import Hasher

    folder = _tokenizer_folder(tmp_path / "tok")
    copy = Path(shutil.copytree(folder, tmp_path / "elsewhere" / "tok-copy"))
    monkeypatch.chdir(tmp_path)

    def both(tokenizer: str, **kw: object) -> tuple[str, str]:
        fn = SFTTokenize(tokenizer, max_seq_len=64, **kw)  # type: ignore[arg-type]
        return fn.fingerprint("in"), Hasher.hash(fn)

    base = both(str(folder))
    assert both("tok") == base  # relative vs absolute path
    assert both(str(copy)) == base  # a copy of the folder
    assert both(str(copy), template="plain") != both(str(copy), template="chatml")
    # the copy, one byte changed: a different tokenizer, a different fingerprint
    changed = tmp_path / "changed"
    shutil.copytree(folder, changed)
    data = (changed / "tokenizer.json").read_text()
    (changed / "tokenizer.json").write_text(data.replace("<|pad|>", "<|paD|>"))
    other = both(str(changed))
    assert other[0] != base[0] and other[1] != base[1]
    # a plain ds.map through the copy hits the cache of the original
    datasets.disable_progress_bars()
    ds = datasets.Dataset.from_list([{"turns": [{"role": "user", "content": "ab"},
                                                {"role": "assistant", "content": "abab"}]}])
    one = ds.map(SFTTokenize(str(folder)), batched=True, remove_columns=ds.column_names)
    two = ds.map(SFTTokenize(str(copy)), batched=True, remove_columns=ds.column_names)
    assert one._fingerprint == two._fingerprint
    # a worker process still finds the tokenizer: the pickle keeps the path
    import pickle

    fn = pickle.loads(pickle.dumps(SFTTokenize(str(copy))))
    assert fn.config.tokenizer == str(copy)
