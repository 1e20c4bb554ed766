"""The parser class and the argument types shared by the subcommands (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

_FALLBACK_COLUMNS = 80


def terminal_columns() -> int:
    """The terminal's width, as ``shutil.get_terminal_size().columns`` gives it.

    ``$COLUMNS`` when it is a positive whole number, else the width of the terminal on
    ``sys.__stdout__``, else 80. (argparse asks ``shutil`` for it, and importing ``shutil``
    costs about 2 ms of CPU on every run; see :class:`Parser`.)

        >>> import shutil
        >>> terminal_columns() == shutil.get_terminal_size().columns
        True
    """
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    stream = sys.__stdout__
    try:
        columns = os.get_terminal_size(stream.fileno()).columns if stream is not None else 0
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns or _FALLBACK_COLUMNS


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help layout, with the width from :func:`terminal_columns` (the same one)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         terminal_columns() - 2 if width is None else width)


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose help is laid out by :class:`HelpFormatter` unless told
    otherwise; its subparsers are ``Parser`` too (argparse makes them of the parent's class).

    argparse makes a formatter for every ``add_argument`` (to check the metavar), and its own
    formatter imports ``shutil`` for the terminal width: ``Parser`` leaves that import out of
    every command, for the same help text.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None


def positive_int(text: str) -> int:
    """A whole number ≥ 1, e.g. ``--num-proc``."""
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative_int(text: str) -> int:
    """A whole number ≥ 0, where 0 means "no limit", e.g. ``--max-errors``."""
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no limit) or more, not {value}")
    return value
