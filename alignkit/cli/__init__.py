"""The ``alignkit`` command line.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``
and ``run(args) -> int``. Modules import their heavy dependencies inside
``run`` so that ``alignkit --help`` stays fast.

Exit codes: 0 success, 1 invalid records (or a check that failed), 2 usage or
I/O error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from alignkit.errors import AlignkitError

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


def _version() -> str:
    from alignkit import COMPILED, __version__

    return f"alignkit {__version__} (compiled: {'yes' if COMPILED else 'no'})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alignkit",
        description="Chat and preference data to validated, training-ready token tensors.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.run(args)
    except AlignkitError as err:
        print(f"alignkit: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("alignkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head`: not an error of ours.
        return 0
    return code
