"""Recipes: turn a large, messy pool into a small clean SFT set or preference pairs.

A recipe is a TOML file (see ``recipes/`` and ``recipes/README.md``) validated by
:class:`~alignkit.recipes.config.Recipe`; :func:`run_recipe` runs it and
:func:`write_outputs` writes the records, the report and the dropped records.

    >>> from alignkit.recipes import run_recipe, write_outputs  # doctest: +SKIP
    >>> result = run_recipe("recipes/lima.toml")                  # doctest: +SKIP
    >>> print(result.report.summary())                            # doctest: +SKIP
"""

from alignkit.recipes.config import Recipe, load_recipe, parse_recipe
from alignkit.recipes.engine import RecipeResult, run_recipe, write_outputs

__all__ = ["Recipe", "RecipeResult", "load_recipe", "parse_recipe", "run_recipe", "write_outputs"]
