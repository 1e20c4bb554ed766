"""Rule-based filters: each one keeps an item or says why it drops it.

    >>> from alignkit.records import ChatExample, Turn
    >>> ex = ChatExample(turns=[Turn(role="user", content="Tell me a joke"),
    ...                         Turn(role="assistant", content="As an AI language model, I cannot.")])
    >>> check_phrases(ex, PhrasesStep(type="phrases"))
    ('refusal_phrase', "'as an ai language model' in response")
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import regex

from alignkit.errors import RecipeError
from alignkit.recipes.config import (
    AssistantFinalStep, LengthStep, PhrasesStep, RepetitionStep, ScriptStep, SpecialTokensStep,
)
from alignkit.recipes.items import Context, Drop, Item, Pair
from alignkit.recipes.normalize import measure, text_view, words
from alignkit.records import ChatExample

#: Refusal and assistant-boilerplate phrases (matched case-insensitively).
DEFAULT_PHRASES: tuple[str, ...] = (
    "as an ai language model", "as a language model", "as an ai model", "as an ai assistant",
    "i'm sorry, but i cannot", "i am sorry, but i cannot", "i'm sorry, but i can't",
    "i cannot fulfill", "i can't fulfill", "i cannot assist with", "i can't assist with",
    "i cannot provide", "i'm not able to provide", "openai's content policy", "against my programming",
    "i do not have personal opinions", "i don't have personal opinions", "my knowledge cutoff",
    "i am not capable of", "it is not appropriate for me",
)

#: Chat-template control strings of popular models.
DEFAULT_SPECIAL: tuple[str, ...] = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|eot_id|>", "<|start_header_id|>",
    "<|end_header_id|>", "<|begin_of_text|>", "<|end_of_text|>", "<|endofprompt|>",
    "<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "<s>", "</s>", "[INST]", "[/INST]",
    "<<SYS>>", "<</SYS>>", "<start_of_turn>", "<end_of_turn>",
)
_SPECIAL_SHAPE = re.compile(r"<\|[A-Za-z0-9_]{1,40}\|>")

_SCRIPTS: dict[str, str] = {
    "latin": r"\p{Latin}", "cyrillic": r"\p{Cyrillic}", "greek": r"\p{Greek}",
    "arabic": r"\p{Arabic}", "hebrew": r"\p{Hebrew}", "devanagari": r"\p{Devanagari}",
    "thai": r"\p{Thai}", "cjk": r"\p{Han}\p{Hiragana}\p{Katakana}", "hangul": r"\p{Hangul}",
}
_LETTER = regex.compile(r"\p{L}")

Verdict = tuple[str, str] | None


def _views(ex: ChatExample, field: str) -> list[tuple[str, str]]:
    if field == "any":
        return [("prompt", text_view(ex, "prompt")), ("response", text_view(ex, "response"))]
    return [(field, text_view(ex, field))]  # type: ignore[arg-type]


def check_length(ex: ChatExample, step: LengthStep, ctx: Context) -> Verdict:
    n = measure(text_view(ex, step.field), step.unit, ctx.count_tokens)
    if step.min is not None and n < step.min:
        return "too_short", f"{step.field} has {n} {step.unit} < {step.min}"
    if step.max is not None and n > step.max:
        return "too_long", f"{step.field} has {n} {step.unit} > {step.max}"
    return None


def compile_phrases(step: PhrasesStep) -> tuple[list[str], list[re.Pattern[str]]]:
    phrases = [*(DEFAULT_PHRASES if step.use_defaults else ()), *(p.casefold() for p in step.phrases)]
    try:
        pats = [re.compile(p, re.IGNORECASE) for p in step.patterns]
    except re.error as err:
        raise RecipeError(f"phrases step: bad regex in 'patterns': {err}") from None
    return phrases, pats


def check_phrases(ex: ChatExample, step: PhrasesStep,
                  compiled: tuple[list[str], list[re.Pattern[str]]] | None = None) -> Verdict:
    phrases, pats = compiled or compile_phrases(step)
    for name, text in _views(ex, step.field):
        low = text.casefold().replace("\u2019", "'")
        for p in phrases:
            if p in low:
                return "refusal_phrase", f"{p!r} in {name}"
        for pat in pats:
            m = pat.search(text)
            if m:
                return "pattern", f"{pat.pattern!r} matched {m.group(0)[:40]!r} in {name}"
    return None


def check_repetition(ex: ChatExample, step: RepetitionStep) -> Verdict:
    for name, text in _views(ex, step.field):
        ws = words(text)
        if len(ws) < step.n * (step.max_repeats + 1):
            continue
        grams = Counter(zip(*[ws[i:] for i in range(step.n)]))
        gram, count = grams.most_common(1)[0]
        if count > step.max_repeats:
            return "repeated_ngram", f"{' '.join(gram)[:60]!r} occurs {count}x in {name}"
    return None


def special_strings(step: SpecialTokensStep) -> list[str]:
    return [*(DEFAULT_SPECIAL if step.use_defaults else ()), *step.tokens]


def check_special(texts: Sequence[str], step: SpecialTokensStep, strings: list[str]) -> Verdict:
    for text in texts:
        for s in strings:
            if s in text:
                return "special_token", f"content contains {s!r}"
        if step.use_defaults:
            m = _SPECIAL_SHAPE.search(text)
            if m:
                return "special_token", f"content contains {m.group(0)!r}"
    return None


_ASCII_LETTERS = bytes(range(65, 91)) + bytes(range(97, 123))
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_SCRIPT_CLASSES: dict[tuple[str, ...], regex.Pattern[str]] = {}


def script_fraction(text: str, allowed: Sequence[str]) -> float:
    """Fraction of the letters of ``text`` in the ``allowed`` scripts (1.0 with no letters).

    ASCII letters are counted in C (they are Latin); only the non-ASCII rest goes
    through the Unicode script classes.

    Example:
        >>> script_fraction("hello мир", ["latin"])
        0.625
    """
    ascii_part = text.encode("ascii", "ignore")
    ascii_letters = len(ascii_part) - len(ascii_part.translate(None, _ASCII_LETTERS))
    latin = "latin" in allowed
    if len(ascii_part) == len(text):
        return 1.0 if latin or not ascii_letters else 0.0
    rest = "".join(_NON_ASCII.findall(text))
    letters = ascii_letters + len(_LETTER.findall(rest))
    if not letters:
        return 1.0
    key = tuple(sorted(allowed))
    cls = _SCRIPT_CLASSES.get(key)
    if cls is None:
        cls = _SCRIPT_CLASSES[key] = regex.compile("[" + "".join(_SCRIPTS[s] for s in key) + "]")
    return ((ascii_letters if latin else 0) + len(cls.findall(rest))) / letters


def check_script(ex: ChatExample, step: ScriptStep) -> Verdict:
    for name, text in _views(ex, step.field):
        frac = script_fraction(text, step.allowed)
        if frac < step.min_fraction:
            return "script", f"{frac:.0%} of the letters of {name} are {'/'.join(step.allowed)}"
    return None


def check_assistant_final(ex: ChatExample) -> Verdict:
    if ex.turns[-1].role != "assistant":
        return "not_assistant_final", f"the last turn is a {ex.turns[-1].role} turn"
    return None


def _predicate(step: Any, ctx: Context) -> Callable[[ChatExample], Verdict]:
    if isinstance(step, LengthStep):
        if step.unit == "tokens" and ctx.count_tokens is None:
            raise RecipeError("a length step with unit = \"tokens\" needs 'tokenizer' at the top of the recipe")
        return lambda ex: check_length(ex, step, ctx)
    if isinstance(step, PhrasesStep):
        compiled = compile_phrases(step)
        return lambda ex: check_phrases(ex, step, compiled)
    if isinstance(step, RepetitionStep):
        return lambda ex: check_repetition(ex, step)
    if isinstance(step, SpecialTokensStep):
        strings = special_strings(step)
        return lambda ex: check_special([t.content for t in ex.turns], step, strings)
    if isinstance(step, ScriptStep):
        return lambda ex: check_script(ex, step)
    if isinstance(step, AssistantFinalStep):
        return check_assistant_final
    raise TypeError(f"not a filter step: {step!r}")


def run_filter(items: Sequence[Item], step: Any, ctx: Context) -> tuple[list[Item], list[Drop], dict[str, Any]]:
    """Apply one filter step to SFT items."""
    pred = _predicate(step, ctx)
    kept: list[Item] = []
    drops: list[Drop] = []
    bar = ctx.bar(len(items), step.type)
    for i, item in enumerate(items):
        verdict = pred(item.record)
        if verdict is None:
            kept.append(item)
        else:
            drops.append(Drop(item.uid, item.source, step.type, verdict[0], verdict[1]))
        if i % 1000 == 999:
            bar.update(1000)
    bar.close()
    return kept, drops, {}


def filter_pairs_special(pairs: Sequence[Pair], step: SpecialTokensStep, ctx: Context) -> tuple[list[Pair], list[Drop], dict[str, Any]]:
    """The special-token filter on preference pairs (history and both responses)."""
    strings = special_strings(step)
    kept: list[Pair] = []
    drops: list[Drop] = []
    for p in pairs:
        v = check_special([*(t.content for t in p.history), p.chosen.text, p.rejected.text], step, strings)
        if v is None:
            kept.append(p)
        else:
            drops.append(Drop(p.uid, p.source, step.type, v[0], v[1]))
    return kept, drops, {}
