"""The recipe TOML model: closed tables, errors that name the key, kind rules."""

from __future__ import annotations

import pytest

from alignkit.errors import RecipeError
from alignkit.recipes.config import LengthStep, load_recipe, parse_recipe

HEAD = 'name = "t"\nkind = "sft"\n[[inputs]]\npath = "a.jsonl"\nsource = "a"\n'


def test_minimal_recipe_has_defaults() -> None:
    r = parse_recipe(HEAD + '[[steps]]\ntype = "near_dedup"\n')
    assert r.seed == 0
    assert r.steps[0].type == "near_dedup"
    assert r.steps[0].threshold == 0.8  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ("colour = 1\n", "colour"),
        ('[[steps]]\ntype = "near_dedup"\ntreshold = 0.5\n', "steps.0.treshold"),
        ('[[steps]]\ntype = "near_dedup"\nthreshold = 1.5\n', "steps.0.threshold"),
        ('[[steps]]\ntype = "select"\nmethod = "best"\n', "steps.0.method"),
        ('[[steps]]\ntype = "frobnicate"\n', "steps.0"),
        ('[[steps]]\ntype = "length"\nmin = 10\nmax = 5\n', "steps.0"),
    ],
)
def test_errors_name_the_key(extra: str, where: str) -> None:
    text = HEAD.replace("[[inputs]]", extra + "[[inputs]]") if extra.startswith("colour") else HEAD + extra
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, "r.toml")
    assert str(info.value).startswith(f"r.toml: {where}")


def test_bad_toml_is_a_recipe_error() -> None:
    with pytest.raises(RecipeError, match="not valid TOML"):
        parse_recipe("name = ", "r.toml")


def test_step_must_fit_the_kind() -> None:
    with pytest.raises(RecipeError, match="does not apply to a 'sft' recipe"):
        parse_recipe(HEAD + '[[steps]]\ntype = "pairs"\n')
    pref = HEAD.replace('"sft"', '"preference"')
    with pytest.raises(RecipeError, match="exactly one 'pairs' step"):
        parse_recipe(pref + '[[steps]]\ntype = "length_bias"\n')
    assert parse_recipe(pref + '[[steps]]\ntype = "pairs"\n[[steps]]\ntype = "length_bias"\n').kind == "preference"


def test_score_selection_needs_a_field() -> None:
    with pytest.raises(RecipeError, match="score_field"):
        parse_recipe(HEAD + '[[steps]]\ntype = "select"\nmethod = "score"\n')


def test_length_window_needs_a_bound() -> None:
    with pytest.raises(ValueError, match="min"):
        LengthStep(type="length")


def test_missing_recipe_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RecipeError, match="cannot read"):
        load_recipe(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("extra", "where", "says"),
    [
        ('[[steps]]\ntype = "select"\nk = "100"\n', "steps.0.k", "valid integer"),
        ('[[steps]]\ntype = "normalize"\nstrip = 1\n', "steps.0.strip", "valid boolean"),
        ('[[steps]]\ntype = "near_dedup"\nthreshold = "0.8"\n', "steps.0.threshold", "valid number"),
        ('[[steps]]\ntype = "select"\nquotas = { a = -5 }\n', "steps.0.quotas.a", "greater than or equal to 0"),
        ('[[steps]]\ntype = "near_dedup"\nbands = 1000\n', "steps.0", "bands (1000) is larger than num_perm (128)"),
    ],
)
def test_wrong_types_and_values_are_errors_not_conversions(extra: str, where: str, says: str) -> None:
    with pytest.raises(RecipeError) as info:
        parse_recipe(HEAD + extra, "r.toml")
    assert str(info.value).startswith(f"r.toml: {where}:")
    assert says in str(info.value)


def test_an_integer_is_still_a_float() -> None:
    assert parse_recipe(HEAD + '[[steps]]\ntype = "near_dedup"\nthreshold = 1\n').steps[0].threshold == 1.0  # type: ignore[union-attr]
    seeded = parse_recipe(HEAD.replace('kind = "sft"', 'kind = "sft"\nseed = 7'))
    assert seeded.seed == 7


def test_a_quota_must_name_an_input_source() -> None:
    # a misspelt source used to get no record (only listed in the step's stats), its share
    # silently filled from the other sources
    with pytest.raises(RecipeError) as info:
        parse_recipe(HEAD + '[[steps]]\ntype = "select"\nquotas = { a = 2, gsm8 = 3 }\n', "r.toml")
    assert str(info.value).startswith("r.toml: steps.0.quotas: 'gsm8' is not the source of any input (sources: 'a')")
    assert parse_recipe(HEAD + '[[steps]]\ntype = "select"\nquotas = { a = 2 }\n').steps[0].quotas == {"a": 2}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("step", "says"),
    [
        ('type = "select"\nmethod = "longest"\nmin_score = 4.5\n',
         "steps.0: 'min_score' applies only with method = \"score\""),
        ('type = "select"\nmethod = "random"\ntheta = 0.3\n', "steps.0: 'theta' applies only with method = \"diverse\""),
        ('type = "select"\nmethod = "first"\nlength_unit = "words"\n', "steps.0: 'length_unit' applies only with"),
        ('type = "select"\nmethod = "first"\nfill = false\n', "steps.0: 'fill' applies only with 'quotas'"),
    ],
)
def test_a_key_that_does_nothing_for_the_method_is_an_error(step: str, says: str) -> None:
    """Such keys were silently ignored: min_score = 4.5 with method = "longest" filtered nothing."""
    with pytest.raises(RecipeError) as info:
        parse_recipe(HEAD + "[[steps]]\n" + step, "r.toml")
    assert str(info.value).startswith(f"r.toml: {says}")


def test_max_pairs_per_prompt_needs_all_pairs() -> None:
    pref = HEAD.replace('"sft"', '"preference"') + '[[steps]]\ntype = "pairs"\nmax_pairs_per_prompt = 2\n'
    with pytest.raises(RecipeError, match=r"r\.toml: steps\.0: 'max_pairs_per_prompt' applies only with strategy"):
        parse_recipe(pref, "r.toml")
    assert parse_recipe(pref + 'strategy = "all_pairs"\n').steps[0].max_pairs_per_prompt == 2  # type: ignore[union-attr]


def test_dedup_on_pair_is_for_preference_recipes() -> None:
    # it was accepted in an SFT recipe and quietly meant "prompt_response"
    with pytest.raises(RecipeError, match=r'r\.toml: steps\.0\.on: "pair" applies to preference pairs'):
        parse_recipe(HEAD + '[[steps]]\ntype = "exact_dedup"\non = ["pair"]\n', "r.toml")
    pref = HEAD.replace('"sft"', '"preference"') + '[[steps]]\ntype = "pairs"\n[[steps]]\ntype = "exact_dedup"\non = ["pair"]\n'
    assert parse_recipe(pref).steps[1].on == ["pair"]  # type: ignore[union-attr]


def test_output_positions_is_for_preference_recipes() -> None:
    with pytest.raises(RecipeError, match=r"r\.toml: output\.positions: places the chosen response"):
        parse_recipe(HEAD + '[output]\npositions = "random"\n', "r.toml")
    pref = HEAD.replace('"sft"', '"preference"') + '[output]\npositions = "random"\n[[steps]]\ntype = "pairs"\n'
    assert parse_recipe(pref).output.positions == "random"


def test_a_negative_seed_is_a_config_error() -> None:
    # it passed, and near_dedup / diverse select then failed with numpy's ValueError traceback
    with pytest.raises(RecipeError, match=r"^r\.toml: seed: Input should be greater than or equal to 0"):
        parse_recipe(HEAD.replace('kind = "sft"', 'kind = "sft"\nseed = -5') + '[[steps]]\ntype = "near_dedup"\n', "r.toml")
