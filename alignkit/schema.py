"""JSON Schema files generated from the record models (``alignkit schema export``).

The files in ``schemas/`` let other tools (editors, ``jsonschema``, CI of other
repositories) check records without alignkit. They describe the structure: keys,
types, roles, non-empty lists, no unknown keys. The cross-field rules (an
assistant turn present, system first, non-empty content, history ending on a
user turn, differing responses) are checked by ``alignkit validate`` only.

The output is stable: keys sorted, two-space indent, one final newline, no
absolute paths; so ``alignkit schema export --check`` can tell stale files.

Example::

    >>> texts = render_schemas()
    >>> sorted(texts)
    ['chat_example.schema.json', 'preference_example.schema.json', 'record.schema.json']
    >>> import json; json.loads(texts["record.schema.json"])["title"]
    'Record'
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

from pydantic import TypeAdapter

from alignkit.errors import UsageError
from alignkit.io.atomic import atomic_write
from alignkit.records import ChatExample, PreferenceExample, Record

#: Default folder, relative to the working directory (the repository root in CI).
DEFAULT_DIR: Final = "schemas"
_DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"
_FIX: Final = "run `alignkit schema export` and commit the result"


def _schemas() -> dict[str, dict[str, Any]]:
    record = TypeAdapter(Record).json_schema()
    record["title"] = "Record"
    record["description"] = (
        "An alignkit record: an SFT conversation (ChatExample, with 'turns') or a"
        " preference pair (PreferenceExample, with 'history', 'response_a', 'response_b',"
        " 'chosen')."
    )
    return {
        "chat_example.schema.json": TypeAdapter(ChatExample).json_schema(),
        "preference_example.schema.json": TypeAdapter(PreferenceExample).json_schema(),
        "record.schema.json": record,
    }


def render_schemas() -> dict[str, str]:
    """File name → file text of every schema alignkit publishes."""
    out: dict[str, str] = {}
    for name, schema in _schemas().items():
        doc = {"$schema": _DRAFT, "$id": name, **schema}
        out[name] = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return out


def export(directory: str | os.PathLike[str] = DEFAULT_DIR) -> list[str]:
    """Write the schemas into ``directory`` (created if needed); return the files changed.

    Example::

        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> len(export(d)), export(d)
        (3, [])
    """
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"{folder}: cannot create the schema folder: {err.strerror}") from None
    changed: list[str] = []
    for name, text in render_schemas().items():
        path = folder / name
        if _read(path) == text:
            continue
        atomic_write(path, text)
        changed.append(str(path))
    return changed


def check(directory: str | os.PathLike[str] = DEFAULT_DIR) -> list[str]:
    """Problems with the schema files in ``directory``: one line per missing or stale file.

    An empty list means the files are current.
    """
    folder = Path(directory)
    problems: list[str] = []
    for name, text in render_schemas().items():
        current = _read(folder / name)
        if current is None:
            problems.append(f"{folder / name}: missing; {_FIX}")
        elif current != text:
            problems.append(f"{folder / name}: stale (the models changed); {_FIX}")
    return problems


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as err:
        raise UsageError(f"{path}: cannot read: {err.strerror}") from None
