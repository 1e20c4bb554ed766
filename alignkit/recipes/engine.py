"""Run a recipe: read its inputs, apply its steps in order, write output and report.

    >>> from alignkit.recipes import run_recipe, write_outputs   # doctest: +SKIP
    >>> result = run_recipe("recipes/lima.toml")                  # doctest: +SKIP
    >>> len(result.records), result.report.data["steps"][0]["type"]  # doctest: +SKIP
    (1000, 'normalize')
    >>> write_outputs(result, "lima.jsonl", report="lima.report.json")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from alignkit.errors import OutputError, RecipeError
from alignkit.io.adapters.output import record_json
from alignkit.io.atomic import fsync_path, is_special_file, link_target
from alignkit.recipes.config import (
    NormalizeStep, PairsStep, Recipe, SpecialTokensStep, load_recipe,
)
from alignkit.recipes.dedup import exact_dedup, near_dedup
from alignkit.recipes.filters import filter_pairs_special, run_filter
from alignkit.recipes.items import Context, Drop, Item
from alignkit.recipes.normalize import clean_example, text_view
from alignkit.recipes.pairs import assign_positions, build_pairs, chosen_longer, length_bias
from alignkit.recipes.report import Report
from alignkit.recipes.select import select
from alignkit.recipes.sources import read_input
from alignkit.records import ChatExample, PreferenceExample


@dataclass
class RecipeResult:
    """Output records, the report, and every drop (input rows included)."""

    records: list[ChatExample] | list[PreferenceExample]
    report: Report
    drops: list[Drop]
    recipe: Recipe
    base_dir: Path


def token_counter(recipe: Recipe, base: Path) -> Callable[[str], int] | None:
    """A text → token-count function for ``recipe.tokenizer`` (``None`` when unset).

    ``tokenizer`` is a name ``alignkit.bpe.load_tokenizer`` knows (``"gpt2"``,
    bundled) or a path relative to the recipe's folder.
    """
    if recipe.tokenizer is None:
        return None
    from alignkit.bpe import load_tokenizer
    from alignkit.errors import AlignkitError

    spec = recipe.tokenizer
    local = base / spec
    try:
        tok = load_tokenizer(local if local.exists() else spec)
    except AlignkitError as err:
        raise RecipeError(f"{recipe.file}: tokenizer: {err} (a path is relative to the recipe's folder)") from None
    encode = tok.encode_ordinary
    return lambda text: len(encode(text))


def _normalize(items: list[Item], step: NormalizeStep, ctx: Context) -> tuple[list[Item], list[Drop], dict[str, Any]]:
    kept: list[Item] = []
    drops: list[Drop] = []
    changed = 0
    for it in items:
        try:
            ex = clean_example(it.record, step.unicode, step.strip)
        except ValidationError as err:
            e = err.errors(include_url=False)[0]
            drops.append(Drop(it.uid, it.source, "normalize", "empty_after_normalize", e["msg"]))
            continue
        changed += ex != it.record
        kept.append(Item(it.uid, it.source, ex))
    return kept, drops, {"changed": changed}


_STEPS: dict[str, Callable[..., tuple[list[Any], list[Drop], dict[str, Any]]]] = {
    "normalize": _normalize, "exact_dedup": exact_dedup, "near_dedup": near_dedup, "select": select,
    "length_bias": length_bias, "pairs": build_pairs,
}


def _step_fn(step: Any, kind: str) -> Callable[..., tuple[list[Any], list[Drop], dict[str, Any]]]:
    if isinstance(step, SpecialTokensStep) and kind == "preference":
        return filter_pairs_special
    return _STEPS.get(step.type, run_filter)


def run_recipe(recipe: Recipe | str | Path, *, base_dir: str | Path | None = None,
               progress: bool = False) -> RecipeResult:
    """Run a recipe (a file path, or a :class:`Recipe` with ``base_dir`` for its paths)."""
    if not isinstance(recipe, Recipe):
        base = Path(recipe).resolve().parent
        recipe = load_recipe(recipe)
    else:
        base = Path(base_dir) if base_dir is not None else Path.cwd()
    for i, spec in enumerate(recipe.inputs):  # every input is there before anything is read
        if not (base / spec.path).exists():
            raise RecipeError(
                f"{recipe.file}: inputs.{i}.path: {spec.path!r} (source {spec.source!r}) does not exist:"
                f" looked for {base / spec.path}; paths are relative to the recipe's folder")
    ctx = Context(seed=recipe.seed, count_tokens=token_counter(recipe, base), progress=progress)
    report = Report(recipe.name, recipe.kind, recipe.seed)
    all_drops: list[Drop] = []
    units: list[Any] = []
    shared = {s for s, n in Counter(spec.source for spec in recipe.inputs).items() if n > 1}
    for i, spec in enumerate(recipe.inputs):
        # ids are source:line; inputs sharing a source label get source:path:line, so that no
        # two records share an id (steps keep and drop records by id)
        prefix = f"{spec.source}:{spec.path}" if spec.source in shared else spec.source
        try:
            got, drops = read_input(spec, base, recipe.kind, prefix)
        except RecipeError as err:
            raise RecipeError(f"{recipe.file}: inputs.{i}.path: {err}") from None
        if not got:
            raise RecipeError(f"{recipe.file}: inputs.{i}.path: {_nothing_read(spec.path, spec.format, drops)}")
        report.add_input(spec.source, spec.path, spec.format, len(got), drops)
        units.extend(got)
        all_drops.extend(drops)
    read_total = len(units)
    lengths = _length_views(recipe.kind, ctx.count_tokens)
    for step_index, step in enumerate(recipe.steps):
        ctx.step_index = step_index + 1
        before = units
        try:
            units, drops, stats = _step_fn(step, recipe.kind)(before, step, ctx)
        except RecipeError as err:
            raise RecipeError(f"{recipe.file}: steps.{step_index} ({step.type}): {err}") from None
        if isinstance(step, PairsStep):
            for label, fn in lengths.items():
                report.set_lengths(label, "before", [fn(u) for u in units])
            report.set("chosen_longer", {"after_pairs": chosen_longer(units)})
        elif step_index == 0 and recipe.kind == "sft":
            for label, fn in lengths.items():
                report.set_lengths(label, "before", [fn(u) for u in before])
        report.add_step(step_index + 1, step.type, before, units, drops, stats)
        by_uid = {u.uid: u for u in before}
        all_drops.extend(replace(d, payload=by_uid.get(d.uid)) for d in drops)
    if not recipe.steps and recipe.kind == "sft":
        for label, fn in lengths.items():
            report.set_lengths(label, "before", [fn(u) for u in units])
    for label, fn in lengths.items():
        report.set_lengths(label, "after", [fn(u) for u in units])
    ctx.step_index = len(recipe.steps) + 1
    if recipe.kind == "sft":
        records: list[Any] = [u.record for u in units]
        dropped_later = len(all_drops) - sum(i["rejected"] for i in report.data["inputs"])
        report.set("accounting", {"read": read_total, "dropped": dropped_later, "output": len(records),
                                  "adds_up": read_total == dropped_later + len(records)})
    else:
        records = assign_positions(units, recipe.output.positions, ctx)
        on_a = sum(r.chosen == "a" for r in records)
        report.set("chosen_on_a", round(on_a / len(records), 4) if records else None)
        report.data["chosen_longer"]["output"] = chosen_longer(units)
    report.set("output", {"records": len(records),
                          "per_source": dict(sorted(Counter(u.source for u in units).items()))})
    return RecipeResult(records, report, all_drops, recipe, base)


def _nothing_read(path: str, fmt: str, rejected: list[Drop]) -> str:
    """Why an input gave no record: it is empty, or every row of it was rejected."""
    if not rejected:
        return f"{path!r} holds no records; point 'path' at a file with records, or remove this input"
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(Counter(d.reason for d in rejected).items()))
    first = rejected[0]
    return (f"none of the {len(rejected)} rows of {path!r} could be read as format {fmt!r} ({reasons};"
            f" first: {first.uid}: {first.reason}{': ' + first.detail if first.detail else ''});"
            " check 'format' and the file")


def _length_views(kind: str, count: Callable[[str], int] | None) -> dict[str, Callable[[Any], int]]:
    """What the report's length distributions measure (tokens too when a tokenizer is set)."""
    if kind == "sft":
        views: dict[str, Callable[[Any], int]] = {
            "response_chars": lambda it: len(text_view(it.record, "response")),
            "prompt_chars": lambda it: len(text_view(it.record, "prompt")),
        }
        if count is not None:
            views["response_tokens"] = lambda it: count(text_view(it.record, "response"))
        return views
    views = {"chosen_chars": lambda p: len(p.chosen.text), "rejected_chars": lambda p: len(p.rejected.text)}
    if count is not None:
        views["chosen_tokens"] = lambda p: count(p.chosen.text)
        views["rejected_tokens"] = lambda p: count(p.rejected.text)
    return views


def _write_all(files: list[tuple[Path, str]]) -> None:
    """Write each ``(path, text)`` so that a run that fails or is killed leaves every target
    as it was or all of them new, never a mix that looks complete: every text goes into
    a temporary file next to its target first (``.NAME.partial-HEX``, flushed and
    ``fsync``-ed), and only once all of them are written are they renamed into place.

    An existing target that is not a regular file (``/dev/null``, ``/dev/stdout``, a
    named pipe) is written into as it is, last: a rename would replace the device or the
    pipe with a regular file (as root, ``-o /dev/null`` replaced ``/dev/null``). A
    symbolic link is followed: the file it names is replaced, the link is kept.
    """
    staged: list[tuple[Path, Path]] = []
    direct: list[tuple[Path, str]] = []
    try:
        for path, text in files:
            if is_special_file(path):
                direct.append((path, text))
                continue
            target = link_target(path)
            temp = target.parent / f".{target.name}.partial-{os.urandom(16).hex()}"
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(temp, "xb") as handle:
                    staged.append((temp, target))
                    handle.write(text.encode("utf-8"))
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError as err:
                raise OutputError(f"cannot write {path}: {err.strerror or err}") from None
        for temp, target in staged:
            try:
                os.replace(temp, target)
            except OSError as err:
                raise OutputError(f"cannot write {target}: {err.strerror or err}") from None
        for folder in {target.parent for _, target in staged}:
            fsync_path(folder)
    finally:
        for temp, _ in staged:
            if os.path.lexists(temp):
                try:
                    temp.unlink()
                except OSError:
                    pass
    for path, text in direct:
        try:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as err:
            raise OutputError(f"cannot write {path}: {err.strerror or err}") from None


def output_path(recipe: Recipe, base: Path, out: str | Path | None = None) -> Path:
    """Where the records go: ``out``, else the recipe's ``output.path`` (relative to ``base``,
    the recipe's folder)."""
    if out is not None:
        return Path(out)
    if recipe.output.path is None:
        raise RecipeError(f"{recipe.file}: output.path: no output path: give -o/--output, or set path in the"
                          " recipe's [output] table")
    return base / recipe.output.path


def check_outputs(recipe: Recipe, base: Path, out: str | Path | None = None, *,
                  report: str | Path | None = None, dropped: str | Path | None = None) -> Path:
    """The output path (:func:`output_path`), once checked that no output names an input
    of the recipe or another output (:func:`alignkit.cli._paths.refuse_overwrites`).

    Reads no input: the CLI calls it before :func:`run_recipe`.
    """
    from alignkit.cli._paths import refuse_overwrites

    target = output_path(recipe, base, out)
    inputs = [(f"the recipe's input {i + 1} (source {spec.source!r})", base / spec.path)
              for i, spec in enumerate(recipe.inputs)]
    if recipe.path is not None:
        inputs.append(("the recipe file", recipe.path))
    if recipe.tokenizer is not None and (base / recipe.tokenizer).exists():
        inputs.append(("the recipe's tokenizer", base / recipe.tokenizer))
    outputs = [("-o" if out is not None else "the recipe's [output] path", target)]
    outputs += [(name, Path(p)) for name, p in (("--report", report), ("--dropped", dropped)) if p is not None]
    refuse_overwrites(inputs, outputs)
    return target


def write_outputs(result: RecipeResult, out: str | Path | None = None, *, report: str | Path | None = None,
                  dropped: str | Path | None = None) -> Path:
    """Write the records (JSONL), and optionally the JSON report and the dropped-records
    file (one JSON line per dropped record: id, source, step, reason, detail, record).

    ``out`` defaults to the recipe's ``output.path`` (relative to the recipe's folder).
    An output that names an input of the recipe, or another output, is refused
    (:class:`~alignkit.errors.UsageError`) before anything is written.
    """
    out = check_outputs(result.recipe, result.base_dir, out, report=report, dropped=dropped)
    files = [(out, _lines(record_json(r) for r in result.records))]
    if report is not None:
        files.append((Path(report), result.report.to_json()))
    if dropped is not None:
        files.append((Path(dropped), _lines(json.dumps(d.to_dict(with_record=True), ensure_ascii=False)
                                            for d in result.drops)))
    _write_all(files)
    return out


def _lines(lines: Iterable[str]) -> str:
    return "".join(f"{line}\n" for line in lines)
