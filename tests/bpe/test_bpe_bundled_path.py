"""The bundled GPT-2 file is found beside the package (no importlib.resources import), or through it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alignkit.bpe import loaders


def test_bundled_without_importlib_resources(tmp_path: Path) -> None:
    code = (
        "import sys; from alignkit.bpe.loaders import load_tokenizer; t = load_tokenizer(); "
        "print(t.hash, t.source, 'importlib.resources' in sys.modules)"
    )
    # (run elsewhere than the checkout: the child imports the alignkit this test imports)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path).stdout.split()
    assert out == [loaders.BUNDLED_HASH, "gpt2", "False"]


def test_bundled_through_importlib_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the package is not a folder of files (a zip import), importlib.resources finds the file."""
    real = os.path.isfile
    monkeypatch.setattr(os.path, "isfile", lambda p: False if str(p).endswith(loaders.BUNDLED_FILE) else real(p))
    tok = loaders.load_tokenizer("gpt2")
    assert tok.hash == loaders.BUNDLED_HASH and tok.source == "gpt2" and tok.encode("hello world") == [31373, 995]
