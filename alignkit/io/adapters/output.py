"""Writing converted records as JSONL, atomically.

:func:`record_json` is the one serialization of a record on a line: compact,
``ensure_ascii=False``, keys in the models' field order, fields at their default
value left out (so a line is exactly what was in the data). :class:`AtomicTextFile`
writes into a temporary file in the target's folder, fsyncs it and renames it over
the target with ``os.replace``; on any exception the temporary file is removed and
the target is left untouched.

Example::

    >>> from alignkit.records import ChatExample, Turn
    >>> record_json(ChatExample(turns=[Turn(role="user", content="é"),
    ...                                Turn(role="assistant", content="ok")]))
    '{"turns":[{"role":"user","content":"é"},{"role":"assistant","content":"ok"}]}'
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from types import TracebackType
from typing import TextIO

from alignkit.errors import OutputError
from alignkit.records import ChatExample, PreferenceExample


def record_json(record: ChatExample | PreferenceExample) -> str:
    """One record as a compact JSON line (no newline)."""
    data = record.model_dump(mode="json", exclude_defaults=True)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class AtomicTextFile:
    """A UTF-8 text file that appears complete, at ``target``, or not at all.

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out.jsonl"
    >>> with AtomicTextFile(target) as out:
    ...     _ = out.write("{}\\n")
    ...     out.commit()
    >>> target.read_text()
    '{}\\n'
    """

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self.target = Path(target)
        self.temp = self.target.parent / f".{self.target.name}.partial-{uuid.uuid4().hex}"
        self._handle: TextIO | None = None
        self._committed = False

    def __enter__(self) -> AtomicTextFile:
        if self.target.is_dir():
            raise OutputError(f"{self.target} is a folder; give a file name for the output")
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.temp, "x", encoding="utf-8", newline="\n")  # noqa: SIM115
        except OSError as err:
            raise OutputError(f"cannot write next to {self.target}: {err}") from err
        return self

    def write(self, text: str) -> int:
        """Append ``text`` to the temporary file."""
        if self._handle is None:
            raise OutputError("the output file is not open (use it in a `with` block)")
        return self._handle.write(text)

    def commit(self) -> None:
        """Flush, fsync and move the file into place."""
        if self._handle is None:
            raise OutputError("the output file is not open (use it in a `with` block)")
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            os.replace(self.temp, self.target)
            self._committed = True
            fd = os.open(self.target.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as err:
            raise OutputError(f"cannot write {self.target}: {err}") from err

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._handle is not None and not self._handle.closed:
            self._handle.close()
        if not self._committed:
            try:
                self.temp.unlink()
            except FileNotFoundError:
                pass
