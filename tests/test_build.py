"""The installation knows whether its core is compiled, and says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import alignkit


def test_compiled_flag_matches_the_build() -> None:
    # CI sets ALIGNKIT_EXPECT_COMPILED for each of its two builds.
    expected = os.environ.get("ALIGNKIT_EXPECT_COMPILED")
    if expected is not None:
        assert alignkit.COMPILED is (expected == "1")


def test_version_reports_compiled_state(tmp_path: Path) -> None:
    # Run outside the repository: `python -m` puts the working directory first on
    # sys.path, which would shadow the installed (possibly compiled) package.
    out = subprocess.run(
        [sys.executable, "-m", "alignkit", "--version"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert out.startswith(f"alignkit {alignkit.__version__} ")
    assert f"compiled: {'yes' if alignkit.COMPILED else 'no'}" in out
