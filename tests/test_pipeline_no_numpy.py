"""A default ``alignkit tokenize`` run (Arrow, unpacked, one process) never imports numpy.

The fast chunk paths hand their columns over as :class:`alignkit.io.flat.Flat` buffers and
the Arrow stream writes them as they are; other formats, ``--pack`` and ``--num-proc > 1``
may import numpy (a control case shows the check can see it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLE_DATA, shared_path

_CHILD = """
import contextlib, io, sys
from alignkit.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["tokenize", *sys.argv[1:]])
print(code, "numpy" in sys.modules)
"""


def _run(tmp_path: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-c", _CHILD, *args, "-o", str(tmp_path / "o")],
                          cwd=tmp_path, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


@pytest.mark.parametrize("name", ["sft.jsonl", "preference.jsonl"])
@pytest.mark.parametrize(("extra", "imported"), [((), "False"), (("--format", "npy"), "True")])
def test_default_runs_import_no_numpy(tmp_path: Path, name: str, extra: tuple[str, ...], imported: str) -> None:
    """The bundled tokenizer: ``uint16`` ids (narrowed natively)."""
    assert _run(tmp_path, str(SAMPLE_DATA / name), *extra) == f"0 {imported}"


@pytest.mark.parametrize("name", ["sft.jsonl", "preference.jsonl"])
def test_qwen3_runs_import_no_numpy(tmp_path: Path, name: str) -> None:
    """A vocabulary over 65,536 ids: ``uint32`` ids, the buffer's own bits."""
    qwen3 = shared_path("data", "tokenizers", "qwen3")
    assert _run(tmp_path, str(SAMPLE_DATA / name), "--tokenizer", str(qwen3), "--template", "qwen3") == "0 False"


def test_num_proc_2_imports_no_numpy_in_the_parent(tmp_path: Path) -> None:
    """Workers hand their Flat columns back through the result files as Flat pieces
    (:mod:`alignkit.result_files`), so the parent needs no numpy either; same bytes as one process."""
    lines = (SAMPLE_DATA / "sft.jsonl").read_bytes().splitlines(keepends=True)
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(lines * 24))
    assert _run(tmp_path, str(src), "--num-proc", "2") == "0 False"
    (tmp_path / "o").rename(tmp_path / "two")
    assert _run(tmp_path, str(src)) == "0 False"
    for name in ("data-00000-of-00001.arrow", "dataset_info.json", "state.json"):
        assert (tmp_path / "o" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
