"""An output folder that appears complete or not at all.

Everything is written into ``.<name>.partial-<random hex>/`` next to the target; each
file is flushed and ``fsync``-ed; ``manifest.json`` is written **last** (under a
temporary name, fsync-ed, then renamed), then the folder is renamed into place.
A run killed at any moment therefore leaves either no target folder or a complete
one; a visibly partial folder may remain, and if it holds a ``manifest.json``, that
manifest is whole and every file it lists is complete. A folder without
``manifest.json`` is by definition incomplete. On any exception, ``KeyboardInterrupt`` included, the partial
folder is removed.

An existing target is replaced only when it is an alignkit output (it has a
``manifest.json``) or empty: alignkit never deletes a folder it did not write.

    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out"
    >>> with AtomicOutputDir(target) as out:
    ...     _ = out.write_bytes("a.txt", b"hello")
    ...     out.commit(b"{}")
    >>> sorted(p.name for p in target.iterdir())
    ['a.txt', 'manifest.json']
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from types import TracebackType
from typing import TextIO

from alignkit.errors import OutputError
from alignkit.io.hashed_file import HashedFile as HashedFile

MANIFEST_NAME = "manifest.json"
#: Environment hook for tests: seconds to sleep after the data files are written and
#: before the manifest and the rename (a window to kill the process in).
PAUSE_ENV = "ALIGNKIT_TEST_PAUSE_BEFORE_COMMIT"


def _unique() -> str:
    """32 random hex digits, for a temporary name no other run picks.

    (``uuid.uuid4().hex`` would do the same, but ``uuid`` imports ``platform``: about 2 ms of
    CPU on every run.)

        >>> len(_unique()), _unique() != _unique()
        (32, True)
    """
    return os.urandom(16).hex()


def _remove_tree(path: Path) -> None:
    """Remove a folder and everything in it, ignoring errors (``shutil`` imported only then)."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_path(path: Path) -> None:
    """fsync a file or folder by path (a folder: so a rename in it is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicOutputDir:
    """A context manager for one output folder (see the module doc).

    Args:
        target: the folder the output should end up in.
    """

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self.target = Path(target)
        self.path = self.target.parent / f".{self.target.name}.partial-{_unique()}"
        #: File name → (size, sha256), for the manifest, in the order written.
        self.files: dict[str, tuple[int, str]] = {}
        self._committed = False

    def __enter__(self) -> AtomicOutputDir:
        if self.target.exists() and not self._replaceable(self.target):
            raise OutputError(
                f"{self.target} exists and is not an alignkit output (no {MANIFEST_NAME});"
                " choose another -o folder or remove it yourself"
            )
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            self.path.mkdir(mode=0o755)
        except OSError as err:
            raise OutputError(f"cannot create the output folder next to {self.target}: {err}") from err
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._committed:
            _remove_tree(self.path)

    @staticmethod
    def _replaceable(target: Path) -> bool:
        if not target.is_dir():
            return False
        return (target / MANIFEST_NAME).is_file() or not any(target.iterdir())

    def file(self, name: str) -> Path:
        """The path to write ``name`` to inside the partial folder; call :meth:`seal` after."""
        if "/" in name or name in ("", ".", "..", MANIFEST_NAME):
            raise OutputError(f"bad output file name {name!r}")
        return self.path / name

    def seal(self, name: str) -> None:
        """Fsync a file written at :meth:`file` and record its size and sha256."""
        path = self.path / name
        fsync_path(path)
        self.files[name] = (path.stat().st_size, sha256_file(path))

    def open_hashed(self, name: str) -> HashedFile:
        """A binary file ``name`` that hashes what is written to it (no re-read to hash it).

        Close it with :meth:`HashedFile.close` (it is fsync-ed and recorded then); on an
        error it is left to the folder's cleanup.

            >>> import pathlib, tempfile
            >>> with AtomicOutputDir(pathlib.Path(tempfile.mkdtemp()) / "o") as out:
            ...     f = out.open_hashed("a.bin"); _ = f.write(b"hi"); f.close()
            ...     out.files["a.bin"][0]
            2
        """
        return HashedFile(self, name, open(self.file(name), "wb"))  # noqa: SIM115 - closed by close()

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Write, fsync and record one file."""
        path = self.file(name)
        with open(path, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        self.files[name] = (len(data), hashlib.sha256(data).hexdigest())
        return path

    def commit(self, manifest: bytes) -> None:
        """Write ``manifest.json`` last and move the folder into place."""
        pause = os.environ.get(PAUSE_ENV)
        if pause:
            import time

            time.sleep(float(pause))
        atomic_write(self.path / MANIFEST_NAME, manifest)  # never a torn manifest.json
        old: Path | None = None
        try:
            if self.target.exists():
                if not self._replaceable(self.target):
                    raise OutputError(f"{self.target} appeared during the run; not replacing it")
                old = self.target.parent / f".{self.target.name}.old-{_unique()}"
                os.replace(self.target, old)
            os.replace(self.path, self.target)
            self._committed = True
            fsync_path(self.target.parent)
        except OSError as err:
            raise OutputError(f"cannot move the output into {self.target}: {err}") from err
        finally:
            if old is not None:
                _remove_tree(old)


def is_special_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` exists and is neither a regular file nor a folder (a device, a pipe).

    Such an output is written into as it is: renaming a finished file over it would replace
    the device or the pipe with a regular file (as root, ``-o /dev/null`` would replace
    ``/dev/null``).
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:  # does not exist (yet), or its folder cannot be read: writing says why
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def link_target(path: Path) -> Path:
    """The file a symbolic link names (replaced in its place, the link kept), else ``path``."""
    return Path(os.path.realpath(path)) if os.path.islink(path) else path


class AtomicTextFile:
    """A UTF-8 text file that appears complete, at ``target``, or not at all.

    An existing device or pipe (``/dev/null``, ``/dev/stdout``, a named pipe) is written into
    directly (:func:`is_special_file`); a symbolic link is followed (:func:`link_target`).

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out.jsonl"
    >>> with AtomicTextFile(target) as out:
    ...     _ = out.write("{}\\n")
    ...     out.commit()
    >>> target.read_text()
    '{}\\n'
    """

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self.direct = is_special_file(target)
        self.target = Path(target) if self.direct else link_target(Path(target))
        self.temp = self.target.parent / f".{self.target.name}.partial-{_unique()}"
        self._handle: TextIO | None = None
        self._committed = False

    def __enter__(self) -> AtomicTextFile:
        if self.target.is_dir():
            raise OutputError(f"{self.target} is a folder; give a file name for the output")
        try:
            if self.direct:
                self._handle = open(self.target, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
                return self
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
            if self.direct:  # a device or a pipe: nothing to move (and nothing to fsync)
                self._handle.close()
                self._committed = True
                return
            os.fsync(self._handle.fileno())
            self._handle.close()
            os.replace(self.temp, self.target)
            self._committed = True
            fsync_path(self.target.parent)
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
        if not self._committed and not self.direct:
            try:
                self.temp.unlink()
            except FileNotFoundError:
                pass


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write a whole file atomically: temp file in the same folder, fsync, rename, fsync folder.

    A killed run leaves the old file or none, never a half-written one.

        >>> import pathlib, tempfile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> atomic_write(p, "hi\\n"); p.read_text()
        'hi\\n'
    """
    blob = data.encode("utf-8") if isinstance(data, str) else data
    if is_special_file(path):  # a device or a pipe: written into, never replaced
        try:
            with open(path, "wb") as handle:
                handle.write(blob)
        except OSError as err:
            raise OutputError(f"cannot write {path}: {err.strerror or err}") from err
        return
    target = link_target(Path(path))
    temp = target.parent / f".{target.name}.partial-{_unique()}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(temp, "xb") as handle:
            handle.write(blob)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
        fsync_path(target.parent)
    except OSError as err:
        _discard(temp)
        raise OutputError(f"cannot write {target}: {err.strerror or err}") from err
    except BaseException:
        _discard(temp)
        raise


def _discard(path: Path) -> None:
    try:
        path.unlink()
    except OSError:  # never written, or its folder is not one
        pass
