"""Shared test fixtures.

Real data lives in ``../shared`` beside the repository (CI has it). Tests that
need it use the ``shared_data`` / ``shared_bench`` fixtures, which skip with a
clear reason where it is absent, so the suite passes on a fresh clone too.
Set ``ALIGNKIT_SHARED_DIR`` to point elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("ALIGNKIT_SHARED_DIR", REPO_ROOT.parent / "shared"))
SAMPLE_DATA = REPO_ROOT / "sample_data"


def shared_path(*parts: str) -> Path:
    """A path under ``../shared``; skips the calling test where it does not exist."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {Path(*parts)} (set ALIGNKIT_SHARED_DIR to the shared folder)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return shared_path("data")


@pytest.fixture(scope="session")
def shared_bench() -> Path:
    return shared_path("bench")


# The tokenizer cache (alignkit.bpe.loaders._cache) is off for the suite: loader tests must
# exercise the parsers, and no test may write to the user's cache folder. Subprocesses
# inherit the setting. tests/bpe/test_bpe_load_cache.py turns it on in temporary folders.
os.environ["ALIGNKIT_CACHE_DIR"] = ""
# tiktoken copies every file it loads into a cache folder (by default one in the system temp
# folder), keyed by path; tests load from fresh temp paths, so each run would add megabytes
# there for good. An empty value turns that cache off.
os.environ["TIKTOKEN_CACHE_DIR"] = ""


def hh_rlhf_pairs(tmp_path: Path, per_subset: int) -> Path:
    """The first ``per_subset`` test rows of every HH-RLHF subset, converted to preference
    records by ``alignkit convert --from hh_rlhf --on-error skip`` (skips without the data)."""
    import gzip

    from alignkit.cli import main

    folder = shared_path("data", "alignment", "preference", "hh-rlhf")
    rows = tmp_path / "hh_rows.jsonl"
    with open(rows, "w", encoding="utf-8") as out:
        for subset in sorted(p for p in folder.iterdir() if p.is_dir()):
            with gzip.open(subset / "test.jsonl.gz", "rt", encoding="utf-8") as f:
                out.writelines(line for _, line in zip(range(per_subset), f))
    pairs = tmp_path / "hh_pairs.jsonl"
    assert main(["convert", "--from", "hh_rlhf", "--on-error", "skip", "-o", str(pairs), str(rows)]) in (0, 1)
    return pairs
