"""An output folder that appears complete or not at all.

Everything is written into ``.<name>.partial-<uuid>/`` next to the target; each
file is flushed and ``fsync``-ed; ``manifest.json`` is written **last**, then the
folder is renamed into place. A run killed at any moment therefore leaves either
no target folder (a partial folder without a manifest may remain; it is visibly
partial) or a complete one. A folder without ``manifest.json`` is by definition
incomplete. On any exception, ``KeyboardInterrupt`` included, the partial
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
import shutil
import uuid
from pathlib import Path
from types import TracebackType

from alignkit.errors import OutputError

MANIFEST_NAME = "manifest.json"
#: Environment hook for tests: seconds to sleep after the data files are written and
#: before the manifest and the rename (a window to kill the process in).
PAUSE_ENV = "ALIGNKIT_TEST_PAUSE_BEFORE_COMMIT"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_path(path: Path) -> None:
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
        self.path = self.target.parent / f".{self.target.name}.partial-{uuid.uuid4().hex}"
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
            shutil.rmtree(self.path, ignore_errors=True)

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
        _fsync_path(path)
        self.files[name] = (path.stat().st_size, sha256_file(path))

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
        path = self.path / MANIFEST_NAME
        with open(path, "wb") as handle:
            handle.write(manifest)
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_path(self.path)
        old: Path | None = None
        try:
            if self.target.exists():
                if not self._replaceable(self.target):
                    raise OutputError(f"{self.target} appeared during the run; not replacing it")
                old = self.target.parent / f".{self.target.name}.old-{uuid.uuid4().hex}"
                os.replace(self.target, old)
            os.replace(self.path, self.target)
            self._committed = True
            _fsync_path(self.target.parent)
        except OSError as err:
            raise OutputError(f"cannot move the output into {self.target}: {err}") from err
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
