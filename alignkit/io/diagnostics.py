"""Pydantic's validation errors → alignkit's messages: what is wrong and how to fix it.

Pydantic reports every non-JSON line as one ``json_invalid`` error; :func:`json_error`
tells the common causes apart (invalid UTF-8, lone surrogates, NUL bytes, control
characters, deep nesting, a stray byte-order mark) so each gets its own error type.
:func:`explain` adds what was found and the fix to pydantic's field messages.

Example::

    >>> from alignkit.io.jsonl import Line
    >>> str(json_error("a.jsonl", Line(3, b'{"x": "caf\\xe9"}'), "invalid unicode code point"))
    'a.jsonl:3: invalid UTF-8 at byte 11 (e9); the file must be UTF-8: re-encode it (e.g. with iconv) [invalid_utf8]'
    >>> explain("extra_forbidden", "Extra inputs are not permitted", ("prompt",), "x")
    "unknown key 'prompt'; remove it (put extra information under 'metadata')"
"""

from __future__ import annotations

import re
from typing import Final

from alignkit.errors import InputError
from alignkit.io.jsonl import Line

_BOM: Final = b"\xef\xbb\xbf"
_POSITION: Final = re.compile(r" at line \d+ column (\d+)$")
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u([dD][89a-fA-F][0-9a-fA-F]{2})")
_JSON_TYPES: Final = {
    dict: "object", list: "array", str: "string", bool: "boolean",
    int: "number", float: "number", type(None): "null",
}


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type: ``object``, ``array``, ``string``…"""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _got(value: object) -> str:
    kind = json_type(value)
    if isinstance(value, (dict, list)) or value is None:
        return kind
    text = repr(value)
    return f"{kind} {text[:40] + '…' if len(text) > 40 else text}"


def explain(error_type: str, message: str, loc: tuple[int | str, ...], value: object) -> str:
    """Pydantic's message, with what was found and how to fix it."""
    name = str(loc[-1]) if loc else "record"
    if error_type == "missing":
        return f"required key {name!r} is missing; add it"
    if error_type == "extra_forbidden":
        where = "turns have role, content, train, reasoning" if len(loc) > 1 else (
            "put extra information under 'metadata'")
        return f"unknown key {name!r}; remove it ({where})"
    if error_type == "too_short" and name in ("turns", "history"):
        return "empty list; it needs at least one turn"
    if error_type.endswith("_type") or error_type in ("literal_error", "bool_parsing"):
        return f"{message} (got {_got(value)})"
    return message


def json_error(path: str, line: Line, detail: str) -> InputError:
    """Classify pydantic's ``json_invalid`` into the error types above."""
    match = _POSITION.search(detail)
    bare = detail[: match.start()] if match else detail
    at = f" at byte {match.group(1)}" if match else ""  # pydantic counts bytes, from 1
    raw = line.raw
    if "recursion limit" in bare:
        return InputError(path, line.number, "", f"JSON nested too deeply{at}; a record is only"
                          " a few levels deep, so this line is not one", "nesting_too_deep")
    try:  # not UTF-8 is the more basic problem, whatever the parser tripped on
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        bad = raw[err.start : err.end].hex(" ")
        return InputError(path, line.number, "", f"invalid UTF-8 at byte {err.start + 1}"
                          f" ({bad}); the file must be UTF-8: re-encode it (e.g. with iconv)",
                          "invalid_utf8")
    if line.number > 1 and raw.startswith(_BOM):
        return InputError(path, line.number, "", "byte-order mark (ef bb bf) at the start of the"
                          " line; only line 1 may have one (were files concatenated?): delete it",
                          "misplaced_bom")
    if ("surrogate" in bare or "escape" in bare) and has_lone_surrogate(raw):
        return InputError(path, line.number, "", f"lone UTF-16 surrogate escape{at}: a \\ud800-"
                          "\\udfff escape without its pair cannot be encoded as UTF-8; remove it or"
                          " write the character as a proper pair", "lone_surrogate")
    if "control character" in bare or b"\x00" in raw:
        if b"\x00" in raw:
            return InputError(path, line.number, "", f"raw NUL byte at byte {raw.index(0) + 1};"
                              " JSON text cannot hold one (write \\u0000 inside a string if you"
                              " mean it; often the file is UTF-16 or binary)", "nul_byte")
        return InputError(path, line.number, "", f"raw control character inside a string{at};"
                          " escape it (\\t, \\n, \\u001b…)", "control_character")
    return InputError(path, line.number, "", f"invalid JSON: {bare}{at}; each line must be one"
                      " complete JSON object", "json_invalid")


def has_lone_surrogate(raw: bytes) -> bool:
    """Whether ``raw`` holds a ``\\uD800``-``\\uDFFF`` escape that is not half of a pair.

        >>> has_lone_surrogate(rb'"\\ud83d\\ude00"'), has_lone_surrogate(rb'"\\ud83d x"')
        (False, True)
    """
    pending_high = -1  # end offset of a high-surrogate escape waiting for its low half
    for m in _SURROGATE_ESCAPE.finditer(raw):
        is_high = int(m.group(1), 16) < 0xDC00
        if pending_high >= 0:
            if is_high or m.start() != pending_high:
                return True
            pending_high = -1
            continue
        if not is_high:
            return True
        pending_high = m.end()
    return pending_high >= 0
