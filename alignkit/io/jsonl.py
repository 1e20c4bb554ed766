"""Reading JSON Lines files as numbered raw lines.

Files are read as bytes and split on ``b"\\n"`` only, so U+2028, U+2029 and NEL
(U+0085) inside JSON strings never split a record, as they do with
``str.splitlines()``. One ``\\r`` before the ``\\n`` is dropped (CRLF files work),
a UTF-8 byte-order mark on line 1 is dropped, and a last line without ``\\n`` is
read. A file whose first two bytes are the gzip magic ``1f 8b`` is decompressed
on the fly, whatever its name (``.jsonl.gz`` is the usual one).

Memory stays bounded by one line: the file is streamed, and a line longer than
``max_line_bytes`` (default 64 MiB, :data:`DEFAULT_MAX_LINE_BYTES`) is skipped
without being buffered and reported as an :class:`~alignkit.errors.InputError`
of type ``line_too_long``; reading goes on with the next line.

Example::

    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
    >>> _ = p.write_bytes(b'\\xef\\xbb\\xbf{"a": 1}\\r\\n{"b": "x\\xe2\\x80\\xa8y"}')
    >>> [(line.number, line.raw) for line in read_lines(p)]
    [(1, b'{"a": 1}'), (2, b'{"b": "x\\xe2\\x80\\xa8y"}')]
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterator
from io import BufferedIOBase
from typing import Any, Final

from alignkit.errors import InputError, UsageError

#: Longest line accepted, in bytes, line ending excluded (64 MiB).
DEFAULT_MAX_LINE_BYTES: Final = 64 * 1024 * 1024

_BOM: Final = b"\xef\xbb\xbf"
_GZIP_MAGIC: Final = b"\x1f\x8b"
_UTF16_BOMS: Final = (b"\xff\xfe", b"\xfe\xff")
_DRAIN_CHUNK: Final = 1024 * 1024
#: The compiled extension that holds pydantic_core's JSON parser.
_PARSER_MODULE: Final = "pydantic_core._pydantic_core"
_PARSER: list[Callable[..., Any]] = []  # [from_json], once loaded


class Line:
    """One line of a JSONL file (immutable; equal and hashed by its two fields).

    Attributes:
        number: 1-based line number in the (decompressed) file.
        raw: the line's bytes without its ``\\n`` / ``\\r\\n`` (and without a BOM on line 1).

    A plain class rather than a frozen dataclass: ``dataclasses`` imports ``inspect``
    (about 10 ms of CPU on every run).

        >>> line = Line(3, b'{"a": 1}')
        >>> line, line == Line(3, b'{"a": 1}'), line.is_blank
        (Line(number=3, raw=b'{"a": 1}'), True, False)
    """

    __slots__ = ("number", "raw")
    number: int
    raw: bytes

    def __init__(self, number: int, raw: bytes) -> None:
        object.__setattr__(self, "number", number)
        object.__setattr__(self, "raw", raw)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: a Line is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: a Line is immutable")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Line:
            return NotImplemented
        assert isinstance(other, Line)
        return self.number == other.number and self.raw == other.raw

    def __hash__(self) -> int:
        return hash((self.number, self.raw))

    def __repr__(self) -> str:
        return f"Line(number={self.number!r}, raw={self.raw!r})"

    def __reduce__(self) -> tuple[type[Line], tuple[int, bytes]]:
        return (Line, (self.number, self.raw))

    @property
    def is_blank(self) -> bool:
        """True when the line holds nothing but ASCII whitespace."""
        return not self.raw.strip()


def open_binary(path: str | os.PathLike[str]) -> BufferedIOBase:
    """Open ``path`` for binary reading, decompressing gzip transparently.

    Raises:
        UsageError: the path does not exist, is a directory or cannot be read.

    Example::

        >>> open_binary("no/such/file.jsonl")
        Traceback (most recent call last):
        ...
        alignkit.errors.UsageError: no/such/file.jsonl: no such file; check the path
    """
    name = os.fspath(path)
    try:
        handle = open(name, "rb")  # noqa: SIM115 - returned to the caller
    except FileNotFoundError:
        raise UsageError(f"{name}: no such file; check the path") from None
    except IsADirectoryError:
        raise UsageError(f"{name}: is a directory; pass the .jsonl files inside it") from None
    except PermissionError:
        raise UsageError(f"{name}: permission denied; make the file readable") from None
    except OSError as err:
        raise UsageError(f"{name}: cannot open: {err.strerror or err}") from None
    try:
        magic = handle.peek(2)[:2]
    except OSError as err:
        handle.close()
        raise UsageError(f"{name}: cannot read: {err.strerror or err}") from None
    if magic == _GZIP_MAGIC:
        import gzip  # only for gzipped input

        handle.close()
        return gzip.GzipFile(name, mode="rb")  # owns (and closes) its file
    return handle


def read_lines(
    path: str | os.PathLike[str], *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[Line | InputError]:
    """Stream the lines of a JSONL (or gzipped JSONL) file.

    Args:
        path: the file; the path is kept as given in error messages.
        max_line_bytes: longest line accepted (line ending excluded); a longer one
            yields an ``InputError`` of type ``line_too_long`` instead of a ``Line``.

    Yields:
        A :class:`Line` per line (blank lines included: deciding about them is the
        caller's job), or an ``InputError`` for a line over the limit.

    Raises:
        UsageError: the file cannot be opened, is UTF-16, or is a corrupt gzip.
    """
    if max_line_bytes < 1:
        raise UsageError(f"max_line_bytes must be at least 1, not {max_line_bytes}")
    name = os.fspath(path)
    handle = open_binary(path)
    try:
        number = 0
        limit = max_line_bytes + 2  # room for "\r\n"
        while True:
            try:
                chunk = handle.readline(limit)
            except (OSError, EOFError, zlib.error) as err:
                raise UsageError(
                    f"{name}: cannot read after line {number}: {err}; the file is truncated"
                    " or not valid gzip"
                ) from None
            if not chunk:
                return
            number += 1
            if number == 1:
                chunk = first_line_start(chunk, name)
            if chunk.endswith(b"\n"):
                raw = chunk[:-2] if chunk.endswith(b"\r\n") else chunk[:-1]
            elif len(chunk) == limit:
                size = len(chunk) + _drain(handle, name, number)
                yield _too_long(name, number, size, max_line_bytes)
                continue
            else:
                raw = chunk[:-1] if chunk.endswith(b"\r") else chunk
            if len(raw) > max_line_bytes:
                yield _too_long(name, number, len(raw), max_line_bytes)
                continue
            yield Line(number, raw)
    finally:
        handle.close()


def first_line_start(head: bytes, name: str) -> bytes:
    """``head`` (the start of a file) without its UTF-8 byte-order mark.

    Raises:
        UsageError: the file starts with a UTF-16 byte-order mark.
    """
    if head.startswith(_UTF16_BOMS):
        raise UsageError(
            f"{name}: the file is UTF-16; JSONL must be UTF-8:"
            f" convert it, e.g. `iconv -f UTF-16 -t UTF-8 {name}`"
        )
    return head[len(_BOM) :] if head.startswith(_BOM) else head


def _drain(handle: BufferedIOBase, name: str, number: int) -> int:
    """Skip to the end of the current line; return the bytes skipped (ending excluded)."""
    skipped = 0
    while True:
        try:
            chunk = handle.readline(_DRAIN_CHUNK)
        except (OSError, EOFError, zlib.error) as err:
            raise UsageError(f"{name}: cannot read line {number}: {err}") from None
        if not chunk:
            return skipped
        if chunk.endswith(b"\n"):
            return skipped + len(chunk) - 1
        skipped += len(chunk)


def _too_long(name: str, number: int, size: int, limit: int) -> InputError:
    return InputError(
        name,
        number,
        "",
        f"line is {size} bytes, over the limit of {limit} bytes; split the record"
        " or raise the limit (--max-line-bytes)",
        "line_too_long",
    )



def json_parser() -> Callable[..., Any]:
    """``pydantic_core.from_json`` (the parser pydantic's ``validate_json`` uses), loaded cheaply.

    ``import pydantic_core`` runs the package's ``__init__``, which builds the TypedDicts of
    ``pydantic_core.core_schema`` and imports ``typing_extensions``, ``decimal`` and
    ``fractions``: 15-20 ms of CPU, a tenth of a one-line ``alignkit tokenize``, none of
    it needed to parse JSON. The parser lives in the compiled extension
    ``pydantic_core._pydantic_core``; unless ``pydantic_core`` is already imported, that
    extension is loaded here on its own and registered in ``sys.modules`` under its own
    name, so a later ``import pydantic_core`` (pydantic's validation path) uses this same
    module rather than loading it a second time (the package then has no attribute
    ``_pydantic_core``, but every import form finds the module in ``sys.modules``). Where
    the package is laid out otherwise, it is imported as usual. Either way the function
    returned is the same ``from_json``.

        >>> json_parser()(b'{"turns": [1, 2]}', cache_strings="keys")
        {'turns': [1, 2]}
    """
    if not _PARSER:
        import sys

        module = sys.modules.get(_PARSER_MODULE)
        if module is None and "pydantic_core" not in sys.modules:
            module = _load_parser_module()
        if module is None or not hasattr(module, "from_json"):
            from pydantic_core import from_json

            _PARSER.append(from_json)
        else:
            _PARSER.append(module.from_json)
    return _PARSER[0]


def _load_parser_module() -> Any:
    """``pydantic_core._pydantic_core`` loaded without its package's ``__init__``, or ``None``."""
    import importlib.machinery
    import importlib.util
    import sys

    package = importlib.util.find_spec("pydantic_core")  # a top-level name: nothing is imported
    if package is None or not package.submodule_search_locations:
        return None
    spec = importlib.machinery.PathFinder.find_spec(_PARSER_MODULE, list(package.submodule_search_locations))
    if spec is None or not isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
        return None
    try:
        module = importlib.util.module_from_spec(spec)  # runs the extension's init
    except ImportError:
        return None  # the usual import says why, if it fails too
    sys.modules[_PARSER_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_PARSER_MODULE]
        raise
    return module
