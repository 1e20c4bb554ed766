"""Load a tokenizer from a name, a file or a model folder: :func:`load_tokenizer`.

Each loader is imported when a file of its kind is loaded (a process that loads one
tiktoken file never imports the JSON, folder or model-file loaders, nor what they import).
"""

from __future__ import annotations

import gc
import os
from typing import TYPE_CHECKING

from alignkit.bpe.loaders import _cache
from alignkit.bpe.loaders.tiktoken_file import ALIASES, ENCODINGS, load_tiktoken
from alignkit.bpe.tokenizer import Tokenizer
from alignkit.errors import TokenizerFileError

if TYPE_CHECKING:
    from pathlib import Path

#: The bundled default (GPT-2, MIT licence; see ``alignkit/bpe/data/``).
DEFAULT = "gpt2"
BUNDLED_FILE = "gpt2.alignkit.json.gz"
#: sha256 content hash of the bundled GPT-2 tokenizer (checked on every load).
BUNDLED_HASH = "6381a46b64417db4d8aa51a4084e06246c9661b4d6222f59078212ceb9f40854"
#: sha256 of the bundled file's (gunzipped) bytes: when they match, its content hash needs no recomputing.
BUNDLED_FILE_SHA256 = "78f54ccc5f8c787516e42c0d258356e3ec92414f59f0084e3140d9b0e2c4a70d"
_BUNDLED_NAMES = {"gpt2", "r50k_base", "r50k"}


def _bundled_path() -> str:
    """Where the bundled file lies beside the package's files (an installed wheel, a checkout)."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", BUNDLED_FILE)


def _bundled() -> Tokenizer:
    from alignkit.bpe.model_file import load_model_file

    # A plain path; only a package that is not in a folder (a zip import) needs
    # importlib.resources (7 ms of imports).
    beside = _bundled_path()
    if os.path.isfile(beside):
        tok = load_model_file(beside, file_sha256=BUNDLED_FILE_SHA256)
    else:
        from importlib import resources

        path = resources.files("alignkit.bpe").joinpath("data", BUNDLED_FILE)
        with resources.as_file(path) as real:
            tok = load_model_file(real, file_sha256=BUNDLED_FILE_SHA256)
    if tok.hash != BUNDLED_HASH:
        raise TokenizerFileError(f"the bundled {BUNDLED_FILE} has hash {tok.hash[:12]}, expected {BUNDLED_HASH[:12]}: reinstall alignkit")
    tok.name = DEFAULT
    tok.source = DEFAULT
    return tok


def _load_file(file: str, name: str | None) -> Tokenizer:
    lower = os.path.basename(file).lower()
    if lower.endswith((".tiktoken", ".model")) or name:
        return load_tiktoken(file, name)
    from pathlib import Path

    from alignkit.bpe._fileio import peek
    from alignkit.bpe.loaders.folder import load_folder
    from alignkit.bpe.loaders.hf_json import load_hf_json
    from alignkit.bpe.model_file import load_model_file

    path = Path(file)
    if lower in ("vocab.json", "merges.txt"):
        vocab_path, merges_path = path.with_name("vocab.json"), path.with_name("merges.txt")
        if not (vocab_path.exists() and merges_path.exists()):
            raise TokenizerFileError(f"{path}: a GPT-2 vocab.json needs merges.txt beside it (and vice versa)")
        return load_folder(path.parent) if (path.parent / "tokenizer_config.json").exists() else _gpt2_pair(vocab_path, merges_path)
    head = peek(path).lstrip()
    if head.startswith(b"{") and b'"alignkit-bpe"' in head:
        return load_model_file(path)
    if head.startswith(b"{"):
        return load_hf_json(path)
    return load_tiktoken(path)


def _gpt2_pair(vocab_path: Path, merges_path: Path) -> Tokenizer:
    from alignkit.bpe.loaders.gpt2_files import load_vocab_merges, pair_tokenizer
    from alignkit.bpe.patterns import GPT2

    tok = pair_tokenizer(vocab_path, merges_path, ["<|endoftext|>"], GPT2, None, vocab_path.parent.name)
    if tok is None:
        vocab, merges = load_vocab_merges(vocab_path, merges_path)
        specials = [t.decode() for t in vocab.values() if t == b"<|endoftext|>"]
        tok = Tokenizer(vocab, merges, specials, name=vocab_path.parent.name)
    tok.source = str(vocab_path.resolve())
    return tok


def load_tokenizer(spec: str | os.PathLike[str] | None = None) -> Tokenizer:
    """The one entry point: a known name, a tokenizer file, or a model folder.

    ``None`` or ``"gpt2"`` gives the bundled GPT-2 tokenizer (offline). Other
    known names (``cl100k_base``, ``o200k_base``, ``llama3``…) need their
    file: pass its path. ``"PATH#NAME"`` loads a tiktoken rank file as
    encoding NAME. Files: alignkit's own (``.json``/``.json.gz``), Hugging
    Face ``tokenizer.json`` (``.gz`` too), tiktoken ``.tiktoken``/``.model``,
    GPT-2 ``vocab.json`` (with ``merges.txt`` beside it).

    Example:
        >>> tok = load_tokenizer()
        >>> tok.encode("hello world")
        [31373, 995]
    """
    # Loading allocates hundreds of thousands of containers that mostly live on (or die
    # together): the cyclic GC would scan them again and again (~5-10% of a load).
    enabled = gc.isenabled()
    gc.disable()
    try:
        sources = _sources(spec)
        entry = _cache.entry_for(*sources) if sources is not None else None
        if entry is not None:
            tok = _cache.read(entry)
            if tok is not None:
                return tok
        tok = _load(spec)
        if entry is not None:
            _cache.write(entry, tok)
        return tok
    finally:
        if enabled:
            gc.enable()


def _where(spec: str | os.PathLike[str] | None) -> tuple[str, str | None] | None:
    """``(path, #NAME or None)`` that ``spec`` names, or None for the bundled tokenizer.

    ``"PATH#NAME"`` is split only when no file is called that whole (a rank file's name).
    os.path, not pathlib: loading a rank file never imports pathlib.
    """
    if spec is None:
        return None
    text = os.fspath(spec)
    if text.lower() in _BUNDLED_NAMES:
        return None
    if not os.path.exists(text) and "#" in text:
        path, _, name = text.rpartition("#")
        return path, name
    return text, None


def _sources(spec: str | os.PathLike[str] | None) -> tuple[str, str | None, list[str]] | None:
    """``(source, #NAME, files its loaders may read)`` of a spec that names files (see :mod:`._cache`),
    None for one that names none (an error follows)."""
    where = _where(spec)
    if where is None:
        beside = _bundled_path()
        return (beside, None, [beside]) if os.path.isfile(beside) else None
    path, name = where
    if os.path.isdir(path):
        return path, None, [os.path.join(path, f) for f in _cache.FOLDER_FILES]
    if not os.path.isfile(path):
        return None
    if os.path.basename(path).lower() in ("vocab.json", "merges.txt"):
        folder = os.path.dirname(path)  # (loaded as the folder when it has a tokenizer_config.json)
        return path, name, [os.path.join(folder, f) for f in _cache.FOLDER_FILES]
    return path, name, [path]


def _load(spec: str | os.PathLike[str] | None) -> Tokenizer:
    where = _where(spec)
    if where is None:
        return _bundled()
    path, name = where
    assert spec is not None  # (None is the bundled tokenizer)
    text = os.fspath(spec)
    if os.path.isdir(path):
        from pathlib import Path

        from alignkit.bpe.loaders.folder import load_folder

        return load_folder(Path(path))
    if os.path.isfile(path):
        return _load_file(path, name)
    if text.lower() in ENCODINGS or text.lower() in ALIASES:
        raise TokenizerFileError(
            f"{text!r} is a known encoding but its rank file does not ship with alignkit (only gpt2 does); "
            f"pass the path to the file, e.g. load_tokenizer('path/to/{text}.tiktoken')"
        )
    raise TokenizerFileError(f"{text}: no such file, folder or known tokenizer name (the default is 'gpt2')")
