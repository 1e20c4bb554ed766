"""``alignkit.io.jsonl.json_parser``: pydantic_core's ``from_json`` without its package's ``__init__``.

Each case runs in a fresh interpreter: what matters is what gets imported, and the parser
is cached per process.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_CHILD = """
import json, sys
{before}
from alignkit.io.jsonl import json_parser
parse = json_parser()
value = parse(b'{{"turns": [{{"role": "user", "content": "h\\\\u00e9"}}], "n": [1, 2.5, null]}}', cache_strings="keys")
loaded = sorted(m for m in ("pydantic_core", "pydantic", "typing_extensions", "pydantic_core.core_schema")
                if m in sys.modules)
{after}
print(json.dumps({{"value": value, "loaded": loaded, "extra": extra}}))
"""

_THEN_PYDANTIC = """
import pydantic_core
import pydantic_core._pydantic_core as core
from pydantic_core import _pydantic_core as core2
assert core2 is core
from alignkit.records import ChatExample
example = ChatExample.model_validate_json(
    b'{"turns": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}')
try:
    ChatExample.model_validate_json(b'{"turns": []}')
    error = None
except pydantic_core.ValidationError as err:
    error = err.errors()[0]["type"]
extra = [pydantic_core.from_json is parse, core.from_json is parse, len(example.turns), error]
"""


def _child(before: str = "", after: str = "extra = None") -> dict[str, object]:
    code = _CHILD.format(before=before, after=after)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_parses_like_from_json_without_importing_the_package() -> None:
    got = _child()
    assert got["value"] == {"turns": [{"role": "user", "content": "hé"}], "n": [1, 2.5, None]}
    assert got["loaded"] == []


def test_control_the_package_import_is_seen() -> None:
    """The check above can fail: importing the package first is visible (and then used)."""
    got = _child(before="from pydantic_core import from_json",
                 after="extra = json_parser() is from_json")
    loaded = got["loaded"]
    assert isinstance(loaded, list) and "pydantic_core" in loaded and "pydantic_core.core_schema" in loaded
    assert got["extra"] is True


def test_pydantic_imported_later_uses_the_same_extension() -> None:
    """Validation (the reject path) still works after the parser was loaded on its own,
    with the one extension module: no second initialisation."""
    got = _child(after=_THEN_PYDANTIC)
    assert got["loaded"] == []
    assert got["extra"] == [True, True, 2, "too_short"]


@pytest.mark.parametrize("raw", [b"{", b'{"a": 1} x', b"\xff"])
def test_bad_json_raises_value_error_as_from_json_does(raw: bytes) -> None:
    from alignkit.io.jsonl import json_parser

    with pytest.raises(ValueError):
        json_parser()(raw, cache_strings="keys")
