"""``alignkit schema export [--check] [--dir DIR]``: write or check the JSON Schema files.

Example::

    $ alignkit schema export --check
    schemas: 3 schema files are up to date
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "schema", help="export (or check) the JSON Schemas of the records",
        description="JSON Schema files generated from the record models.",
    )
    actions = p.add_subparsers(dest="schema_action", metavar="ACTION")
    e: argparse.ArgumentParser = actions.add_parser(
        "export", help="write the schema files (with --check: only check them)",
        description="Write schemas/*.schema.json from the record models. With --check, write"
        " nothing and exit 1 when a file is missing or stale.",
    )
    e.add_argument("--check", action="store_true",
                   help="exit 1 listing missing or stale files instead of writing them")
    e.add_argument("--dir", default="schemas", metavar="DIR",
                   help="folder of the schema files (default: schemas)")
    e.set_defaults(run=run)
    p.set_defaults(run=_usage(p))


def _usage(parser: argparse.ArgumentParser) -> Any:
    def show(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return show


def run(args: argparse.Namespace) -> int:
    from alignkit.schema import check, export, render_schemas

    if args.check:
        problems = check(args.dir)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            return 1
        print(f"{args.dir}: {len(render_schemas())} schema files are up to date")
        return 0
    changed = export(args.dir)
    for path in changed:
        print(f"wrote {path}")
    if not changed:
        print(f"{args.dir}: {len(render_schemas())} schema files already up to date")
    return 0
