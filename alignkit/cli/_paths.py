"""The check that no output of a command overwrites one of its inputs, or another output.

``convert`` (``-o``, ``--rejects``), ``tokenize`` (``-o``, a folder) and ``recipe run``
(``-o`` or ``[output] path``, ``--report``, ``--dropped``) call :func:`refuse_overwrites`
before they read anything; :func:`alignkit.recipes.write_outputs` calls it too, for
callers of the Python API.

Two paths name the same file when :func:`os.path.samefile` says so (the same inode:
symlinks and hard links included) or, when either does not exist yet, when their resolved
paths are equal. An output folder (``tokenize -o``) also holds every file under it: the run
replaces the folder, so an input inside it would be lost. An input folder (a dataset
folder, a ``vicuna_reviews`` folder) likewise holds the existing files under it.

    >>> refuse_overwrites([("input", "a.jsonl")], [("-o", "b.jsonl")])
    >>> refuse_overwrites([("input", "a.jsonl")], [("-o", "./a.jsonl")])
    Traceback (most recent call last):
    ...
    alignkit.errors.UsageError: -o ./a.jsonl names the same file as input a.jsonl: writing it would overwrite that input; give -o another file
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from alignkit.errors import UsageError

#: ``(what, path)``: what names the path in a message (``-o``, ``input``, ``--rejects``), and the path.
Named = tuple[str, str | os.PathLike[str]]


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` name the same file (see the module doc).

        >>> same_file("x/../a.jsonl", "a.jsonl"), same_file("a.jsonl", "b.jsonl")
        (True, False)
    """
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # one of them does not exist (yet)
        return Path(a).resolve() == Path(b).resolve()


def _inside(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an existing file under the existing folder ``folder``."""
    if not os.path.isdir(folder) or not os.path.exists(path):
        return False
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


def refuse_overwrites(inputs: Sequence[Named], outputs: Sequence[Named], *,
                      output_folders: Sequence[Named] = ()) -> None:
    """Raise :class:`UsageError` when an output names an input (or a file in an input
    folder), an input lies in an output folder, or two outputs name the same file.

    Reads nothing but the file system's metadata: call it before reading any input.
    """
    for what, out in [*outputs, *output_folders]:
        for name, path in inputs:
            if same_file(out, path) or _inside(out, path):
                raise UsageError(
                    f"{what} {os.fspath(out)} names the same file as {name} {os.fspath(path)}:"
                    f" writing it would overwrite that input; give {what} another file"
                )
    for what, folder in output_folders:
        for name, path in inputs:
            if _inside(path, folder):
                raise UsageError(
                    f"{name} {os.fspath(path)} is in the output folder {what} {os.fspath(folder)},"
                    " which the run replaces: move the input out of it, or give another folder"
                )
    everything = [*outputs, *output_folders]
    for i, (what, out) in enumerate(everything):
        for other, path in everything[:i]:
            if same_file(out, path):
                raise UsageError(f"{other} and {what} name the same file ({os.fspath(out)}); give each"
                                 " its own file")
