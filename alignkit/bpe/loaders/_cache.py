"""A cache of loaded tokenizers: a source is parsed once, later loads read the result back.

Parsing a large tokenizer is most of a short run's start-up: Qwen3's 11 MB
``tokenizer.json`` takes about 58 ms to parse and hash in a fresh process, on every run.
Read back from this cache the same tokenizer takes about 30 ms (the compiled core still
builds its tables; the parsing and the content hash are saved).

Where: ``$ALIGNKIT_CACHE_DIR/tokenizers/``, else ``$XDG_CACHE_HOME/alignkit/tokenizers/``,
else ``~/.cache/alignkit/tokenizers/``. ``ALIGNKIT_CACHE_DIR=`` (set, empty) turns it off.

One entry per source: its file name is a hash of the source's resolved path (and the
``#NAME`` of a rank file), so a changed source replaces its entry instead of adding one.
An entry is used only when all that could change the result is as it was when the entry
was written: each file the loaders may read (present or absent) with its inode, size,
mtime and ctime (rewriting a file changes its ctime, which no program can set back; the
stamps are taken before the source is parsed, so a file changed during a load only makes
the entry miss), alignkit's version, the Python version (an entry is ``marshal`` data)
and this format's version. The payload is checked against its CRC-32 before it is read:
a truncated or damaged entry is ignored and replaced.

An entry holds the tokenizer's canonical content (BPE tokens in merge-priority order
with their ids, added and special tokens, pattern, normalizer, prefix-space flag), its
name and source, and its content hash (the hash the manifest records, computed when the
source was parsed). The tokenizer is rebuilt from them as the loaders build one.

The cache is never an error: an unreadable, unwritable or damaged cache only means the
source is parsed again. Entries are written to a temporary file and renamed into place,
so concurrent runs never read half an entry. The folder keeps at most :data:`MAX_ENTRIES`
entries: writing one removes the least recently used beyond that (an entry read is marked
used by its modification time).
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib  # (CRC-32 checks, not hashlib: a process that loads one rank file imports no OpenSSL)
from typing import Any

from alignkit.bpe.tokenizer import Tokenizer

#: Version of the entry layout (part of every key). Also bumped when what a key names changes:
#: 2, since ``PATH#llama3.1`` loads Llama 3.1's special tokens (under 1 it was an alias of llama3).
FORMAT = 2
_MAGIC = b"alignkit-tokenizer-cache\n"
_DIGEST = 4  # CRC-32 of the payload (big-endian), after the magic

#: Entries kept (about 0.3-2 MB each); the least recently used beyond this are removed.
MAX_ENTRIES = 64

#: The files a model folder's loaders may read (:func:`alignkit.bpe.loaders.folder.load_folder`).
FOLDER_FILES = ("tokenizer.json", "tokenizer.json.gz", "tokenizer_config.json", "tokenizer.model",
                "vocab.json", "merges.txt")


def cache_dir() -> str | None:
    """The folder of tokenizer entries; None when ``ALIGNKIT_CACHE_DIR`` is set empty (or
    neither it, ``XDG_CACHE_HOME`` nor a home folder is known).

        >>> import os
        >>> os.environ["ALIGNKIT_CACHE_DIR"] = "/var/cache/ak"; cache_dir()
        '/var/cache/ak/tokenizers'
        >>> os.environ["ALIGNKIT_CACHE_DIR"] = ""; cache_dir() is None
        True
        >>> del os.environ["ALIGNKIT_CACHE_DIR"]
    """
    env = os.environ.get("ALIGNKIT_CACHE_DIR")
    if env is not None:
        return os.path.join(env, "tokenizers") if env else None
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        home = os.path.expanduser("~")
        if not os.path.isabs(home):  # no home folder known: no cache (never a "~" folder here)
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "alignkit", "tokenizers")


def _stamp(path: str) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class Entry:
    """The cache entry of one source: where it lies and the key it must carry to be used."""

    __slots__ = ("file", "key")

    def __init__(self, file: str, key: str) -> None:
        self.file = file
        self.key = key


def entry_for(source: str, name: str | None, files: list[str]) -> Entry | None:
    """The entry of ``source`` (a file or folder; ``name``: a rank file's ``#NAME``) whose
    loaders may read ``files``; None when the cache is off.

    Call it before loading: the files' stamps are taken now.
    """
    from alignkit._version import __version__

    folder = cache_dir()
    if folder is None:
        return None
    real = os.path.realpath(source)
    stamps = [(os.path.basename(f), _stamp(f)) for f in files]
    key = repr((FORMAT, __version__, sys.implementation.cache_tag, real, name, stamps))
    # (the entry's key, not its file name, says whose entry it is)
    ident = (real + "#" + (name or "")).encode("utf-8", "surrogateescape")
    stem = f"{zlib.crc32(ident):08x}{zlib.adler32(ident):08x}"
    return Entry(os.path.join(folder, stem + ".bin"), key)


def read(entry: Entry) -> Tokenizer | None:
    """The tokenizer of ``entry`` when it is present, intact and current, else None."""
    try:
        with open(entry.file, "rb") as f:
            data = f.read()
    except OSError:
        return None
    start = len(_MAGIC) + _DIGEST
    if len(data) <= start or not data.startswith(_MAGIC):
        return None
    payload = memoryview(data)[start:]
    if zlib.crc32(payload).to_bytes(4, "big") != data[len(_MAGIC):start]:
        return None
    try:
        key, state = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    if key != entry.key:
        return None
    try:
        os.utime(entry.file)  # used now (what the pruning in write() keeps)
    except OSError:
        pass
    try:
        return _rebuild(state)
    except Exception:  # noqa: BLE001 (an entry this code cannot rebuild: parse the source instead)
        return None


def write(entry: Entry, tok: Tokenizer) -> None:
    """Store ``tok`` as ``entry`` (atomically); any failure is ignored."""
    tokens, ids = tok._tokens, tok._ids
    dense = ids == list(range(len(ids)))
    state = (tokens, None if dense else ids, tok._added, tok._specials, tok.pattern, tok.normalizer,
             tok.add_prefix_space, tok.name, tok.source, tok.hash)
    payload = marshal.dumps((entry.key, state))
    tmp = f"{entry.file}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(entry.file), mode=0o700, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(_MAGIC)
            f.write(zlib.crc32(payload).to_bytes(4, "big"))
            f.write(payload)
        os.replace(tmp, entry.file)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return
    _prune(os.path.dirname(entry.file))


def _prune(folder: str) -> None:
    """Remove the least recently used entries beyond :data:`MAX_ENTRIES` (errors ignored)."""
    try:
        names = [n for n in os.listdir(folder) if n.endswith(".bin")]
        if len(names) <= MAX_ENTRIES:
            return
        aged = sorted(names, key=lambda n: os.stat(os.path.join(folder, n)).st_mtime_ns)
        for name in aged[: len(names) - MAX_ENTRIES]:
            os.unlink(os.path.join(folder, name))
    except OSError:
        pass


def _rebuild(state: Any) -> Tokenizer:
    tokens, ids, added, specials, pattern, normalizer, prefix, name, source, digest = state
    if ids is None:
        tok = Tokenizer._from_merge_layout(tokens, None, added, specials, pattern, normalizer, prefix, name)
    else:
        tok = Tokenizer.__new__(Tokenizer)
        tok._setup(tokens, ids, added, specials, pattern, normalizer, prefix, name)
    tok.source = source
    tok._hash = digest
    return tok
