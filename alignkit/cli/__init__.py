"""The ``alignkit`` command line.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``
and ``run(args) -> int``. Modules import their heavy dependencies inside
``run`` so that ``alignkit --help`` stays fast.

Exit codes: 0 success, 1 invalid records (or a check that failed), 2 usage or
I/O error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from alignkit.cli._args import Parser
from alignkit.errors import AlignkitError, InputError

#: Commands that end the process at once when run from the command line (see :func:`quick_exit`).
QUICK_EXIT: frozenset[str] = frozenset({"tokenize"})

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "alignkit.cli.validate",
    "alignkit.cli.schema",
    "alignkit.cli.convert",
    "alignkit.cli.tokenize",
    "alignkit.cli.inspect",
    "alignkit.cli.recipe",
    "alignkit.cli.train_tokenizer",
)
_QUICK_MODULES = frozenset(f"alignkit.cli.{name}" for name in QUICK_EXIT)


def _version() -> str:
    from alignkit import COMPILED, __version__

    return f"alignkit {__version__} (compiled: {'yes' if COMPILED else 'no'})"


def _command_module(argv: Sequence[str]) -> str | None:
    """The module of the command ``argv`` names (its first word that is not an option), if any.

        >>> _command_module(["train-tokenizer", "corpus.txt"]), _command_module(["--help"])
        ('alignkit.cli.train_tokenizer', None)
    """
    word = next((a for a in argv if not a.startswith("-")), None)
    module = f"alignkit.cli.{word.replace('-', '_')}" if word else None
    return module if module in COMMANDS else None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command-line parser: every subcommand, or only module ``only``'s (see :func:`main`)."""
    parser = Parser(
        prog="alignkit",
        description="Chat and preference data to validated, training-ready token tensors.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command of ``argv`` (default: ``sys.argv``) and return its exit code.

    Read from ``sys.argv`` (the ``alignkit`` program, ``python -m alignkit``), a command of
    :data:`QUICK_EXIT` runs without the cyclic garbage collector and, when it succeeds, ends
    the process itself (:func:`quick_exit`); called with a list (tests, other programs) it
    always returns and leaves the collector alone.

        >>> main(["--version"])  # doctest: +SKIP
    """
    words = sys.argv[1:] if argv is None else argv
    command = _command_module(words)
    if argv is None and command in _QUICK_MODULES:
        gc.disable()  # see quick_exit
    # a named command needs only its own parser: the others' imports (e.g. convert's adapter
    # registry) are skipped; no command, or an unknown one, gets them all (help, suggestions)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.run(args)
    except AlignkitError as err:
        print(f"alignkit: error: {err}", file=sys.stderr)
        _json_failure(args, err.exit_code, err)
        return err.exit_code
    except KeyboardInterrupt:
        print("alignkit: interrupted", file=sys.stderr)
        _json_failure(args, 130, None)
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head`: not an error of ours.
        return 0
    if argv is None and code == 0 and args.command in QUICK_EXIT:
        quick_exit(code)
    return code


def failure_report(code: int, err: AlignkitError | None) -> dict[str, object]:
    """What ``--report json`` prints on stdout when a command fails instead of its report,
    so that a CI job parsing stdout always gets one JSON object.

        >>> from alignkit.errors import InputError
        >>> failure_report(1, InputError("a.jsonl", 3, "turns.0.role", "bad role", "literal_error"))["error"]
        {'type': 'InputError', 'message': 'a.jsonl:3: turns.0.role: bad role [literal_error]', 'path': 'a.jsonl', 'line': 3, 'loc': 'turns.0.role', 'reason': 'literal_error'}
        >>> failure_report(130, None)
        {'ok': False, 'exit_code': 130, 'error': {'type': 'interrupted', 'message': 'interrupted'}}
    """
    if err is None:
        error: dict[str, object] = {"type": "interrupted", "message": "interrupted"}
    else:
        error = {"type": type(err).__name__, "message": str(err)}
        if isinstance(err, InputError):
            error.update(path=err.path, line=err.line, loc=err.loc, reason=err.error_type)
    return {"ok": False, "exit_code": code, "error": error}


def _json_failure(args: argparse.Namespace, code: int, err: AlignkitError | None) -> None:
    """Print :func:`failure_report` on stdout for a command run with ``--report json``."""
    if getattr(args, "report", None) != "json" or args.command not in ("tokenize", "validate", "convert"):
        return  # (recipe's --report names a file)
    import json

    print(json.dumps(failure_report(code, err)))


def quick_exit(code: int) -> NoReturn:
    """Flush stdout and stderr and end the process now, without tearing down its objects.

    For the command line only, once a command's work is complete (``tokenize``: the output
    folder committed, fsync-ed and renamed, the workers stopped and their result files
    closed). Interpreter shutdown would free every object one by one (the loaded tokenizer:
    hundreds of thousands; about 0.06 s of CPU on the tokenize benchmark) and gain nothing.

    For the same reason such a command runs with the cyclic garbage collector off
    (:func:`main`): its objects are freed by reference counting as usual, and the process
    ends here, so a collection could only walk the imported modules and the loaded tokenizer
    again and again. ``tokenize`` pauses the collector for every chunk of records anyway
    (:func:`alignkit.sft_chunk.paused_gc`); what is left are the collections started by
    the imports, the tokenizer load and the content hash: about 7 ms of the 0.16 s of CPU
    of a one-line run. Peak memory is the same on the 48 MB benchmark input and at most
    1-2 MB more on others, whatever their size (start-up garbage, not the records': 2,000
    and 12,645 records through the Jinja path, 20,000 rejected lines, measured).
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed stream, or a reader gone (``| head``)
            pass
    os._exit(code)
