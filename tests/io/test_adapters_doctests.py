"""The worked examples in the adapters' docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "alignkit.io.adapters",
    "alignkit.io.adapters._common",
    "alignkit.io.adapters._turns",
    "alignkit.io.adapters.alpaca",
    "alignkit.io.adapters.detect",
    "alignkit.io.adapters.hh_rlhf",
    "alignkit.io.adapters.native",
    "alignkit.io.adapters.openai",
    "alignkit.io.adapters.output",
    "alignkit.io.adapters.pairs",
    "alignkit.io.adapters.pipeline",
    "alignkit.io.adapters.registry",
    "alignkit.io.adapters.sharegpt",
    "alignkit.io.adapters.sources",
    "alignkit.io.adapters.trl",
    "alignkit.io.hf_input",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no worked example"
    assert result.failed == 0
