"""``alignkit tokenize`` asks numpy's OpenBLAS for one thread (it does no linear algebra)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alignkit.cli.tokenize import BLAS_THREADS_ENV, one_blas_thread

REPO = Path(__file__).resolve().parents[2]

_CHILD = """
import contextlib, io, os, sys
from alignkit.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["tokenize", sys.argv[1], "-o", sys.argv[2]])
print(code, os.environ.get("OPENBLAS_NUM_THREADS"), len(os.listdir("/proc/self/task")))
"""


def test_one_blas_thread_keeps_the_users_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BLAS_THREADS_ENV, raising=False)
    one_blas_thread()
    assert os.environ[BLAS_THREADS_ENV] == "1"
    monkeypatch.setenv(BLAS_THREADS_ENV, "3")
    one_blas_thread()
    assert os.environ[BLAS_THREADS_ENV] == "3"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_tokenize_starts_no_blas_threads(tmp_path: Path) -> None:
    """A run with the variable unset ends with as many threads as one where the user set it to 1."""

    def threads(env: dict[str, str], out: str) -> tuple[str, str]:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(REPO / "sample_data" / "sft.jsonl"), str(tmp_path / out)],
            env=env, cwd=tmp_path, capture_output=True, text=True, check=True,
        )
        code, setting, count = proc.stdout.split()
        assert code == "0"
        return setting, count

    base = {k: v for k, v in os.environ.items() if k not in (BLAS_THREADS_ENV, "OMP_NUM_THREADS")}
    unset = threads(base, "a")
    chosen = threads({**base, BLAS_THREADS_ENV: "1"}, "b")
    assert unset == chosen == ("1", chosen[1])
