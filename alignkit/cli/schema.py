"""``alignkit schema export [--check]``: placeholder until the schema exporter lands."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("schema", help="export the JSON Schemas of the records")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return 0
