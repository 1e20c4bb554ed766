"""``alignkit recipe run RECIPE.toml``: select SFT data or build preference pairs.

Example::

    alignkit recipe run recipes/lima.toml -o lima.jsonl --report lima.report.json --dropped lima.dropped.jsonl
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("recipe", help="run a data recipe (recipes/*.toml)",
                            description="Run a declarative data recipe.")
    actions = parser.add_subparsers(dest="recipe_action", metavar="ACTION", required=True)
    run_p = actions.add_parser("run", help="run a recipe and write its output",
                               description="Read the recipe's inputs, apply its steps, write the output.")
    run_p.add_argument("recipe", help="the recipe file (TOML); its paths are relative to its folder")
    run_p.add_argument("-o", "--output", help="output JSONL (default: [output] path of the recipe)")
    run_p.add_argument("--report", help="write the JSON report here")
    run_p.add_argument("--dropped", help="write every dropped record with its reason here (JSONL)")
    run_p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summary")
    run_p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from alignkit.recipes import load_recipe, run_recipe, write_outputs
    from alignkit.recipes.engine import check_outputs

    recipe = load_recipe(args.recipe)
    base = Path(args.recipe).resolve().parent
    # before any input is read: no output may overwrite an input (or another output)
    check_outputs(recipe, base, args.output, report=args.report, dropped=args.dropped)
    result = run_recipe(recipe, base_dir=base, progress=not args.quiet)
    out = write_outputs(result, args.output, report=args.report, dropped=args.dropped)
    if not args.quiet:
        sys.stderr.write(result.report.summary())
        sys.stderr.write(f"wrote {len(result.records)} records to {os.path.normpath(out)}\n")
    return 0
