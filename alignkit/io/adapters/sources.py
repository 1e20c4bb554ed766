"""Input files as numbered rows: JSONL (and ``.jsonl.gz``), JSON arrays, Parquet
and ``save_to_disk`` folders.

Each source says what its numbers count: ``line`` (1-based, JSONL), ``item``
(0-based index in a JSON array) or ``row`` (0-based, Hugging Face datasets and
Parquet). A JSONL line that is blank, not UTF-8, not JSON or not an object is
yielded as an :class:`~alignkit.errors.InputError` so that it is reported, never
dropped.

Example::

    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.json"
    >>> _ = p.write_text('[{"question": "q", "answer": "a"}]')
    >>> src = open_source(p)
    >>> src.unit, list(src.rows())
    ('item', [(0, {'question': 'q', 'answer': 'a'})])
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from alignkit.errors import InputError, UsageError
from alignkit.io.adapters._common import ConvertError, type_name
from alignkit.io import hf_input
from alignkit.io.jsonl import open_binary, read_lines

#: One numbered row, or the error that stands for an unreadable one.
NumberedRow = tuple[int, "Mapping[str, object] | InputError"]


@dataclass(frozen=True)
class RowSource:
    """A re-readable input.

    Attributes:
        path: the input as the user named it (for messages).
        unit: what the numbers count: ``line``, ``item`` or ``row``.
        rows: a function returning a fresh iterator of ``(number, row or InputError)``.
    """

    path: str
    unit: str
    rows: Callable[[], Iterator[NumberedRow]]


def parse_line(path: str, number: int, raw: bytes) -> Mapping[str, object] | InputError:
    """One JSONL line as a JSON object, or the :class:`InputError` that says why not.

    >>> parse_line("a.jsonl", 3, b'[1]').format()
    'a.jsonl:3: expected a JSON object, got array [not_an_object]'
    """
    if not raw.strip():
        return InputError(path, number, "", "blank line; remove it", "blank_line")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return InputError(
            path,
            number,
            "",
            f"invalid UTF-8 at byte {err.start}; re-encode the file as UTF-8",
            "invalid_utf8",
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        return InputError(
            path, number, "", f"invalid JSON: {err.msg} at column {err.colno}", "json_invalid"
        )
    except RecursionError:
        return InputError(path, number, "", "JSON nested too deeply", "nesting_too_deep")
    if not isinstance(value, dict):
        return InputError(path, number, "", f"expected a JSON object, got {type_name(value)}",
                          "not_an_object")
    if "\\ud" in text.lower():
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return InputError(
                path,
                number,
                "",
                "a string holds a lone surrogate escape (\\ud800-\\udfff); fix the text",
                "lone_surrogate",
            )
    return value


def _jsonl_rows(path: str) -> Iterator[NumberedRow]:
    for item in read_lines(path):
        if isinstance(item, InputError):
            yield item.line, item
        else:
            yield item.number, parse_line(path, item.number, item.raw)


def _json_array_rows(path: str) -> Iterator[NumberedRow]:
    handle = open_binary(path)
    try:
        data = handle.read()
    finally:
        handle.close()
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UsageError(f"{path}: not a valid UTF-8 JSON file: {err}") from None
    if not isinstance(value, list):
        raise UsageError(f"{path}: expected a JSON array of objects (or JSON Lines), got an object")
    for index, item in enumerate(value):
        if isinstance(item, dict):
            yield index, item
        else:
            error = ConvertError(
                path, index, "", f"expected a JSON object, got {type_name(item)}", "not_an_object", "item"
            )
            yield index, error


def _first_byte(path: str) -> bytes:
    handle = open_binary(path)
    try:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    finally:
        handle.close()
    return head[:1]


def open_source(path: str | os.PathLike[str], split: str | None = None) -> RowSource:
    """The :class:`RowSource` for a file or folder, chosen by its kind.

    Folders are ``save_to_disk`` datasets (``split`` picks a split of a
    ``DatasetDict``); ``.parquet`` files are Parquet; ``.json`` files starting with
    ``[`` are JSON arrays; everything else is JSON Lines (gzip is detected).

    Raises:
        UsageError: the path is missing or of an unusable kind.
    """
    name = os.fspath(path)
    if Path(name).is_dir():
        hf_input.load_folder(name, split)  # fail early on a bad folder or split
        return RowSource(name, "row", lambda: hf_input.folder_rows(name, split))
    if split is not None:
        raise UsageError(f"{name}: --split only applies to dataset folders")
    if name.endswith(".parquet"):
        return RowSource(name, "row", lambda: hf_input.parquet_rows(name))
    if name.endswith((".json", ".json.gz")) and _first_byte(name) == b"[":
        return RowSource(name, "item", lambda: _json_array_rows(name))
    return RowSource(name, "line", lambda: _jsonl_rows(name))
