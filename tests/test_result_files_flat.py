"""result_files: Flat pieces cross the in-memory file as Flat pieces, without numpy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from librt.vecs import vec
from mypy_extensions import i32, i64

from alignkit.bpe._fd import memory_file
from alignkit.io.flat import Flat
from alignkit.manifest import RunStats
from alignkit.result_files import Ref, restore, stash
from alignkit.worker import ChunkResult


def test_flat_pieces_come_back_as_flat_pieces() -> None:
    ids = Flat(vec[i32]([5, 6, 7]), "uint32")
    lengths = Flat(vec[i64]([1, 2]), "int64")
    roles = Flat(b"\x01\x02\x02", "uint8")
    empty = Flat(b"", "int32")
    results = [ChunkResult([(ids, lengths), (roles, lengths), (empty, Flat(b"", "int64"))], [], RunStats())]
    fd = memory_file()
    stash(results, fd)
    assert all(isinstance(v, Ref) and v.flat for pair in results[0].columns for v in pair)
    restore(results, fd)
    got = results[0].columns
    assert [(type(v).__name__, v.dtype, v.tolist()) for pair in got for v in pair] == [
        ("Flat", "uint32", [5, 6, 7]), ("Flat", "int64", [1, 2]),
        ("Flat", "uint8", [1, 2, 2]), ("Flat", "int64", [1, 2]),
        ("Flat", "int32", []), ("Flat", "int64", []),
    ]


_CHILD = """
import sys
from librt.vecs import vec
from mypy_extensions import i32
from alignkit.bpe._fd import memory_file
from alignkit.io.flat import Flat
from alignkit.manifest import RunStats
from alignkit.result_files import restore, stash
from alignkit.worker import ChunkResult
results = [ChunkResult([(Flat(vec[i32]([1, 2]), "int32"), Flat(b"\\x02" + bytes(7), "int64"))], [], RunStats())]
fd = memory_file()
stash(results, fd)
restore(results, fd)
print(results[0].columns[0][0].tolist(), "numpy" in sys.modules)
"""


def test_flat_pieces_cross_without_numpy(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", _CHILD], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[1, 2] False"
