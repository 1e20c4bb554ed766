"""Writers: dtype from the vocabulary (F12), exact read-back, deterministic bytes; atomic folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.errors import OutputError
from alignkit.io.atomic import MANIFEST_NAME, AtomicOutputDir
from alignkit.io.writers import Column, flat_values, token_dtype, write_columns


def _write(target: Path, columns: list[Column], fmt: str) -> Path:
    with AtomicOutputDir(target) as out:
        write_columns(out, columns, fmt)
        out.commit(json.dumps(sorted(out.files)).encode())
    return target


def _read(folder: Path, fmt: str, names: list[str]) -> dict[str, list[list[int]]]:
    if fmt == "arrow":
        import datasets

        ds = datasets.load_from_disk(str(folder))
        return {n: ds[n] for n in names}
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(folder / "data.parquet")
        return {n: table.column(n).to_pylist() for n in names}
    if fmt == "jsonl":
        rows = [json.loads(x) for x in (folder / "data.jsonl").read_text().splitlines()]
        return {n: [r[n] for r in rows] for n in names}
    out = {}
    for n in names:
        values = np.load(folder / f"{n}.npy", mmap_mode="r")
        offsets = np.load(folder / f"{n}.offsets.npy")
        out[n] = [values[offsets[i] : offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]
    return out


@pytest.mark.parametrize("n_vocab", [65_536, 65_537])
@pytest.mark.parametrize("fmt", ["arrow", "npy", "parquet", "jsonl"])
def test_dtype_boundary_read_back(tmp_path: Path, n_vocab: int, fmt: str) -> None:
    dtype = token_dtype(n_vocab)
    assert dtype == ("uint16" if n_vocab == 65_536 else "uint32")
    top = n_vocab - 1
    ids = [[top, 0, 1], [], [top]]
    labels = [[-100, 0, top], [], [-100]]
    cols = [Column("input_ids", dtype, ids), Column("labels", "int32", labels)]
    folder = _write(tmp_path / "o", cols, fmt)
    back = _read(folder, fmt, ["input_ids", "labels"])
    assert back == {"input_ids": ids, "labels": labels}
    if fmt == "npy":
        assert np.load(folder / "input_ids.npy").dtype == np.dtype(dtype)


def test_values_are_checked_before_casting() -> None:
    with pytest.raises(OutputError, match="65536 does not fit uint16"):
        flat_values(Column("input_ids", "uint16", [[1, 65_536]]))
    with pytest.raises(OutputError, match="-100 does not fit"):
        flat_values(Column("labels", "uint32", [[-100]]))


@pytest.mark.parametrize("fmt", ["arrow", "npy", "parquet", "jsonl"])
def test_same_columns_same_bytes(tmp_path: Path, fmt: str) -> None:
    cols = [Column("input_ids", "uint32", [[i, i + 1] for i in range(2500)])]
    a, b = _write(tmp_path / "a", cols, fmt), _write(tmp_path / "b", cols, fmt)
    files_a = {p.name: p.read_bytes() for p in a.iterdir()}
    assert files_a == {p.name: p.read_bytes() for p in b.iterdir()}


def test_bad_format_and_ragged_columns(tmp_path: Path) -> None:
    with AtomicOutputDir(tmp_path / "o") as out:
        with pytest.raises(OutputError, match="arrow, npy, parquet, jsonl"):
            write_columns(out, [], "csv")
        with pytest.raises(OutputError, match="row counts"):
            write_columns(out, [Column("a", "int32", [[1]]), Column("b", "int32", [])], "npy")


def test_atomic_folder_is_all_or_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        with AtomicOutputDir(target) as out:
            out.write_bytes("a.bin", b"x")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []  # no target, no partial folder
    with AtomicOutputDir(target) as out:
        out.write_bytes("a.bin", b"x")
        out.commit(b"{}")
    assert sorted(p.name for p in target.iterdir()) == ["a.bin", MANIFEST_NAME]
    with AtomicOutputDir(target) as out:  # an alignkit output is replaced whole
        out.write_bytes("b.bin", b"y")
        out.commit(b"{}")
    assert sorted(p.name for p in target.iterdir()) == ["b.bin", MANIFEST_NAME]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_never_replaces_a_foreign_folder(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="not an alignkit output"):
        with AtomicOutputDir(target):
            pass
    assert (target / "notes.txt").read_text() == "keep me"
    with pytest.raises(OutputError, match="bad output file name"):
        with AtomicOutputDir(tmp_path / "x") as out:
            out.file(MANIFEST_NAME)


def test_hashed_file_records_what_a_reread_hashes(tmp_path: Path) -> None:
    """The Arrow file is hashed while written: its recorded sha256 and size match the file."""
    from alignkit.io.atomic import sha256_file
    from alignkit.io.writers import ARROW_FILE

    cols = [Column("input_ids", "uint32", [[1, 2, 3], [4]] * 1500),
            Column("role_ids", "uint8", [[1, 2, 2], [3]] * 1500)]
    with AtomicOutputDir(tmp_path / "o") as out:
        write_columns(out, cols, "arrow")
        out.commit(b"{}")
    for name, (size, digest) in out.files.items():
        assert (size, digest) == ((tmp_path / "o" / name).stat().st_size, sha256_file(tmp_path / "o" / name))
    assert ARROW_FILE in out.files


def test_same_width_cast_is_a_checked_view() -> None:
    from alignkit.io.writers import checked_cast

    ids = np.array([0, 5, 2**31 - 1], dtype=np.int32)
    view = checked_cast("input_ids", ids, "uint32")
    assert view.dtype == np.uint32 and view.tolist() == [0, 5, 2**31 - 1] and np.shares_memory(view, ids)
    with pytest.raises(OutputError, match="-1 does not fit uint32"):
        checked_cast("input_ids", np.array([3, -1], dtype=np.int32), "uint32")
    swapped = np.array([1, 2], dtype=">i4")  # not native byte order: converted, not viewed
    assert checked_cast("x", swapped, "uint32").tolist() == [1, 2]


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 50), max_size=6), dtype=st.sampled_from(["uint8", "int32", "uint32", "int64"]),
       odd=st.booleans())
def test_concat_flat_equals_numpy_concatenate(sizes: list[int], dtype: str, odd: bool) -> None:
    """Same values and dtype as numpy.concatenate, also when an input has another dtype."""
    import numpy as np

    from alignkit.io.writers import concat_flat

    arrays = [np.arange(n, dtype=dtype) for n in sizes] or [np.zeros(0, dtype=dtype)]
    if odd:
        arrays.append(np.arange(3, dtype="int16"))
    got, want = concat_flat(arrays, dtype), np.concatenate(arrays)
    assert got.dtype == want.dtype and np.array_equal(got, want)
    assert got.flags.writeable
