"""The recipe file: a TOML document validated by closed Pydantic models.

Every table is closed (``extra="forbid"``), so a misspelt key is an error that
names it, e.g. ``lima.toml: steps.2.treshold: Extra inputs are not permitted``.
Paths inside a recipe are relative to the folder of the recipe file.

    >>> recipe = parse_recipe('''
    ... name = "tiny"
    ... kind = "sft"
    ... [[inputs]]
    ... path = "pool.jsonl"
    ... source = "pool"
    ... [[steps]]
    ... type = "exact_dedup"
    ... ''', "tiny.toml")
    >>> recipe.steps[0].on
    ['prompt', 'prompt_response']
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from alignkit.errors import RecipeError

#: Closed and strict: an unknown key is an error, and so is a value of the wrong TOML type
#: (``k = "100"``, ``seed = "1"``, ``strip = 1``): it is not silently converted. An integer
#: is still accepted where a float is expected (``threshold = 1``).
_CLOSED = ConfigDict(extra="forbid", frozen=True, strict=True)

TextField = Literal["prompt", "response", "prompt_response", "trained", "total"]
Unit = Literal["chars", "words", "tokens"]
InputFormat = Literal[
    "auto", "alignkit", "openai", "sharegpt", "alpaca", "self_instruct", "pairs", "hh_rlhf", "trl",
    "rated", "vicuna_reviews",
]


class InputSpec(BaseModel):
    """One input file (or folder, for ``vicuna_reviews``) with its source label."""

    model_config = _CLOSED
    path: str
    source: str = Field(min_length=1)
    format: InputFormat = "auto"
    #: Read at most this many records (after skipping none); handy for trials.
    limit: int | None = Field(default=None, ge=1)


class OutputSpec(BaseModel):
    model_config = _CLOSED
    path: str | None = None
    #: Preference output: ``balanced`` puts ``chosen`` on "a" for exactly half the
    #: pairs (random which half), ``random`` flips a seeded coin per pair.
    positions: Literal["balanced", "random"] = "balanced"


class NormalizeStep(BaseModel):
    """Clean content: Unicode normal form, ``\\r\\n`` → ``\\n``, strip turn ends."""

    model_config = _CLOSED
    type: Literal["normalize"]
    unicode: Literal["NFC", "NFKC", "none"] = "NFC"
    strip: bool = True


DedupOn = Literal["prompt", "response", "prompt_response", "pair"]
_DEFAULT_ON: tuple[DedupOn, ...] = ("prompt", "prompt_response")


class ExactDedupStep(BaseModel):
    """Drop records whose normalised key was seen before (first one wins)."""

    model_config = _CLOSED
    type: Literal["exact_dedup"]
    on: list[DedupOn] = Field(default_factory=lambda: list(_DEFAULT_ON), min_length=1)


class NearDedupStep(BaseModel):
    """MinHash + LSH over word n-grams; a pair at or above ``threshold`` Jaccard is a duplicate."""

    model_config = _CLOSED
    type: Literal["near_dedup"]
    field: Literal["prompt", "response", "prompt_response"] = "prompt_response"
    threshold: float = Field(default=0.8, gt=0.0, le=1.0)
    ngram: int = Field(default=5, ge=1, le=32)
    num_perm: int = Field(default=128, ge=8, le=1024)
    bands: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _bands_fit(self) -> NearDedupStep:
        if self.bands is not None and self.bands > self.num_perm:
            # a band needs at least one signature value: more bands than values would make
            # every pair of texts a candidate (an exact Jaccard check for each: quadratic work)
            raise ValueError(f"bands ({self.bands}) is larger than num_perm ({self.num_perm}); use at most"
                             f" {self.num_perm} bands, or leave 'bands' out to have it chosen for the threshold")
        return self


class LengthStep(BaseModel):
    """Keep records whose length lies in ``[min, max]`` (LIMA: 1,200–4,096 answer chars)."""

    model_config = _CLOSED
    type: Literal["length"]
    field: TextField = "response"
    unit: Unit = "chars"
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _window(self) -> LengthStep:
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is larger than max ({self.max})")
        return self


class PhrasesStep(BaseModel):
    """Drop records whose text contains a refusal or boilerplate phrase."""

    model_config = _CLOSED
    type: Literal["phrases"]
    field: Literal["prompt", "response", "any"] = "response"
    use_defaults: bool = True
    phrases: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for i, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"pattern {i} ({pattern!r}) is not a valid regular expression: {err};"
                                 " fix it, or escape special characters with a backslash") from None
        return patterns


class RepetitionStep(BaseModel):
    """Drop records in which one word n-gram occurs more than ``max_repeats`` times."""

    model_config = _CLOSED
    type: Literal["repetition"]
    field: Literal["prompt", "response", "any"] = "response"
    n: int = Field(default=10, ge=1)
    max_repeats: int = Field(default=3, ge=1)


class SpecialTokensStep(BaseModel):
    """Drop records containing special-token strings (``<|im_end|>``, ``[INST]``…) in content."""

    model_config = _CLOSED
    type: Literal["special_tokens"]
    use_defaults: bool = True
    tokens: list[str] = Field(default_factory=list)


class AssistantFinalStep(BaseModel):
    """Drop conversations whose last turn is not an assistant turn."""

    model_config = _CLOSED
    type: Literal["assistant_final"]


ScriptName = Literal[
    "latin", "cyrillic", "greek", "arabic", "hebrew", "devanagari", "thai", "cjk", "hangul",
]

_LATIN: tuple[ScriptName, ...] = ("latin",)


class ScriptStep(BaseModel):
    """Keep records whose letters are mostly (``min_fraction``) in the allowed scripts."""

    model_config = _CLOSED
    type: Literal["script"]
    allowed: list[ScriptName] = Field(default_factory=lambda: list(_LATIN), min_length=1)
    min_fraction: float = Field(default=0.8, ge=0.0, le=1.0)
    field: Literal["prompt", "response", "any"] = "any"


class SelectStep(BaseModel):
    """Pick the final subset: longest-k, diversity-greedy, seeded random, score-based, first-k."""

    model_config = _CLOSED
    type: Literal["select"]
    method: Literal["longest", "diverse", "random", "score", "first"] = "random"
    k: int | None = Field(default=1000, ge=1)
    #: ``longest`` (and ``diverse`` with ``order = "longest"``): what is measured.
    length_field: TextField = "response"
    length_unit: Unit = "chars"
    #: ``score``: a key of ``metadata`` (dotted for nesting) holding a number.
    score_field: str | None = None
    min_score: float | None = None
    #: ``diverse``: candidate order and the similarity bound θ (MinHash Jaccard).
    order: Literal["longest", "score", "random", "input"] = "longest"
    theta: float = Field(default=0.5, gt=0.0, le=1.0)
    ngram: int = Field(default=3, ge=1, le=32)
    #: Per-source quotas; ``fill`` tops up from other sources when one runs short. With
    #: quotas and no ``k`` in the file, ``k`` is the sum of the quotas.
    quotas: dict[str, Annotated[int, Field(ge=0)]] | None = None
    fill: bool = True
    #: Fail instead of reporting a shortfall when fewer than ``k`` records remain.
    strict: bool = False

    @model_validator(mode="after")
    def _needs(self) -> SelectStep:
        by_score = self.method == "score" or (self.method == "diverse" and self.order == "score")
        if by_score and not self.score_field:
            raise ValueError("score-based selection needs 'score_field'")
        if self.k is None and self.quotas is None and self.method in ("longest", "random", "first"):
            raise ValueError(f"method {self.method!r} needs 'k' (or 'quotas')")
        by_length = self.method == "longest" or (self.method == "diverse" and self.order == "longest")
        applies = {
            "score_field": (by_score, 'method = "score" (or "diverse" with order = "score")'),
            "min_score": (by_score, 'method = "score" (or "diverse" with order = "score")'),
            "length_field": (by_length, 'method = "longest" (or "diverse" with order = "longest")'),
            "length_unit": (by_length, 'method = "longest" (or "diverse" with order = "longest")'),
            "order": (self.method == "diverse", 'method = "diverse"'),
            "theta": (self.method == "diverse", 'method = "diverse"'),
            "ngram": (self.method == "diverse", 'method = "diverse"'),
            "fill": (self.quotas is not None, "'quotas'"),
        }
        for key in sorted(self.model_fields_set):
            if key in applies and not applies[key][0]:
                # silently ignored, e.g. min_score = 4.5 with method = "longest" filtered nothing
                raise ValueError(f"'{key}' applies only with {applies[key][1]}, not with method = {self.method!r};"
                                 f" remove it or change 'method'")
        return self


class PairsStep(BaseModel):
    """Build preference pairs from responses with scores."""

    model_config = _CLOSED
    type: Literal["pairs"]
    strategy: Literal["best_vs_random_lower", "best_vs_worst", "all_pairs"] = "best_vs_random_lower"
    min_margin: float = Field(default=0.0, ge=0.0)
    drop_ties: bool = True
    #: Rated input: the aspect ratings to average (all of them when unset).
    aspects: list[str] | None = None
    max_pairs_per_prompt: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _cap_needs_all_pairs(self) -> PairsStep:
        if self.max_pairs_per_prompt is not None and self.strategy != "all_pairs":
            raise ValueError(f"'max_pairs_per_prompt' applies only with strategy = \"all_pairs\" ({self.strategy!r}"
                             " makes one pair per prompt); remove it or change 'strategy'")
        return self


class LengthBiasStep(BaseModel):
    """Drop pairs whose chosen response is more than ``max_ratio`` times longer than the rejected one."""

    model_config = _CLOSED
    type: Literal["length_bias"]
    max_ratio: float = Field(default=2.0, ge=1.0)
    unit: Unit = "chars"


Step = Annotated[
    Union[
        NormalizeStep, ExactDedupStep, NearDedupStep, LengthStep, PhrasesStep, RepetitionStep,
        SpecialTokensStep, AssistantFinalStep, ScriptStep, SelectStep, PairsStep, LengthBiasStep,
    ],
    Field(discriminator="type"),
]

SFT_STEPS = frozenset({
    "normalize", "exact_dedup", "near_dedup", "length", "phrases", "repetition",
    "special_tokens", "assistant_final", "script", "select",
})
PAIR_STEPS = frozenset({"pairs", "length_bias", "special_tokens", "exact_dedup", "select"})


class Recipe(BaseModel):
    """A whole recipe file."""

    model_config = _CLOSED
    name: str = Field(min_length=1)
    kind: Literal["sft", "preference"]
    description: str = ""
    seed: int = Field(default=0, ge=0)  # numpy seeds the MinHash functions: no negative seed
    #: Tokenizer for ``unit = "tokens"``: ``"gpt2"`` (bundled) or a tokenizer file or
    #: folder (relative to the recipe), anything ``alignkit.bpe.load_tokenizer`` reads.
    tokenizer: str | None = None
    inputs: list[InputSpec] = Field(min_length=1)
    steps: list[Step] = Field(default_factory=list)
    output: OutputSpec = Field(default_factory=OutputSpec)
    #: The recipe file's name, for error messages (set by :func:`parse_recipe`).
    _file: str = PrivateAttr(default="recipe.toml")
    #: The recipe file itself when read by :func:`load_recipe` (no output may overwrite it).
    _path: Path | None = PrivateAttr(default=None)

    @property
    def file(self) -> str:
        """The name of the recipe file (``recipe.toml`` when parsed from text without one)."""
        return self._file

    @property
    def path(self) -> Path | None:
        """The recipe file :func:`load_recipe` read (``None`` for a recipe parsed from text)."""
        return self._path

    @model_validator(mode="after")
    def _tokens_need_a_tokenizer(self) -> Recipe:
        if self.tokenizer is not None:
            return self
        for i, step in enumerate(self.steps):
            key = None
            if isinstance(step, LengthStep | LengthBiasStep) and step.unit == "tokens":
                key = "unit"
            elif isinstance(step, SelectStep) and step.length_unit == "tokens" and (
                    step.method == "longest" or (step.method == "diverse" and step.order == "longest")):
                key = "length_unit"
            if key is not None:
                raise ValueError(f"steps.{i}.{key}: \"tokens\" needs a tokenizer: add tokenizer = \"gpt2\""
                                 " (bundled) or the path of a tokenizer file or folder at the top of the recipe")
        return self

    @model_validator(mode="after")
    def _inputs_differ(self) -> Recipe:
        seen: dict[tuple[str, str], int] = {}
        for i, spec in enumerate(self.inputs):
            first = seen.setdefault((spec.source, spec.path), i)
            if first != i:
                raise ValueError(f"inputs.{i}: the same path and source as inputs.{first} ({spec.path!r},"
                                 f" {spec.source!r}); remove one of them")
        return self

    @model_validator(mode="after")
    def _quotas_name_sources(self) -> Recipe:
        sources = sorted({spec.source for spec in self.inputs})
        for i, step in enumerate(self.steps):
            if isinstance(step, SelectStep) and step.quotas:
                unknown = [name for name in step.quotas if name not in sources]
                if unknown:
                    raise ValueError(
                        f"steps.{i}.quotas: {', '.join(repr(u) for u in unknown)} is not the source of any input"
                        f" (sources: {', '.join(repr(s) for s in sources)}); a quota names an input's 'source'")
        return self

    @model_validator(mode="after")
    def _steps_fit_kind(self) -> Recipe:
        allowed = SFT_STEPS if self.kind == "sft" else PAIR_STEPS
        for i, step in enumerate(self.steps):
            if step.type not in allowed:
                raise ValueError(
                    f"steps.{i}: step type {step.type!r} does not apply to a {self.kind!r} recipe"
                    f" (allowed: {', '.join(sorted(allowed))})"
                )
        if self.kind == "preference":
            types = [s.type for s in self.steps]
            if types.count("pairs") != 1 or types[0] != "pairs":
                raise ValueError("a preference recipe needs exactly one 'pairs' step, and it comes first")
        for i, step in enumerate(self.steps):
            if isinstance(step, ExactDedupStep) and self.kind == "sft" and "pair" in step.on:
                raise ValueError(f"steps.{i}.on: \"pair\" applies to preference pairs; an SFT recipe dedups on"
                                 " \"prompt\", \"response\" or \"prompt_response\"")
        if self.kind == "sft" and "positions" in self.output.model_fields_set:
            raise ValueError("output.positions: places the chosen response of preference pairs; an SFT recipe"
                             " has none: remove it")
        for spec in self.inputs:
            if self.kind == "sft" and spec.format in ("rated", "vicuna_reviews"):
                raise ValueError(f"input {spec.path!r}: format {spec.format!r} holds preference data")
        return self


def _strip_tags(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc]
    # steps.2.near_dedup.threshold → steps.2.threshold (drop the union tag).
    if len(parts) >= 3 and parts[0] == "steps" and parts[2] in SFT_STEPS | PAIR_STEPS:
        del parts[2]
    return ".".join(parts)


def parse_recipe(text: str, name: str = "recipe.toml") -> Recipe:
    """Parse and validate recipe TOML text; ``name`` is used in error messages.

    Raises:
        RecipeError: bad TOML, an unknown key or a bad value; the message names the key.

    Example:
        >>> parse_recipe('name = "x"\\nkind = "sft"\\ncolour = 1\\n[[inputs]]\\npath="a"\\nsource="a"')
        Traceback (most recent call last):
        ...
        alignkit.errors.RecipeError: recipe.toml: colour: Extra inputs are not permitted [extra_forbidden]
    """
    try:
        data = tomllib.loads(text.removeprefix("\ufeff"))  # a byte-order mark (Windows editors)
    except tomllib.TOMLDecodeError as err:
        raise RecipeError(f"{name}: not valid TOML: {err}") from None
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as err:
        problems = []
        for e in err.errors(include_url=False)[:5]:
            loc = _strip_tags(e["loc"])
            msg = e["msg"].removeprefix("Value error, ")
            problems.append(f"{name}:{' ' + loc + ':' if loc else ''} {msg} [{e['type']}]")
        more = f" (and {err.error_count() - 5} more)" if err.error_count() > 5 else ""
        raise RecipeError("; ".join(problems) + more) from None
    recipe._file = name
    return recipe


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file.

    Example:
        >>> load_recipe("recipes/lima.toml").kind  # doctest: +SKIP
        'sft'
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise RecipeError(f"{p}: cannot read the recipe: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise RecipeError(f"{p}: not UTF-8 text (byte {err.start}: {err.reason}); save the recipe as UTF-8") from None
    recipe = parse_recipe(text, p.name)
    recipe._path = p
    return recipe
