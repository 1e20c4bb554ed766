"""The worked examples in the docstrings of the reading/validation modules run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["alignkit.io.jsonl", "alignkit.io.reader", "alignkit.io.diagnostics",
           "alignkit.io.validate", "alignkit.schema", "alignkit.records"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0, f"{name} has no worked example"
    assert result.failed == 0
