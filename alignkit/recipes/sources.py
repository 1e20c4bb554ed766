"""Read a recipe's inputs into SFT items or response groups.

Record formats (``alignkit``, ``openai``, ``sharegpt``, ``alpaca``, ``self_instruct``,
``pairs``, ``hh_rlhf``, ``trl``, ``auto``) go through the format adapters
(:mod:`alignkit.io.adapters`). Two formats are read here: ``rated`` (a prompt with
K scored or aspect-rated responses, UltraFeedback-style JSONL) and
``vicuna_reviews`` (a FastChat ``eval/table`` folder: questions, answers and GPT-4
pairwise reviews, joined on their ids). A row that cannot be converted becomes a
:class:`~alignkit.recipes.items.Drop` of step ``read``: nothing is lost silently.
Every record gets the id ``source:line`` (``source:line.part`` for a row that
gives several records).

    >>> row = {"prompt": "2+2?", "responses": [{"text": "4", "score": 9}, {"text": "5", "score": 1}]}
    >>> [c.score for c in _to_group(row, InputSpec(path="r.jsonl", source="r"), "r:1").candidates]
    [9.0, 1.0]
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from alignkit.errors import AlignkitError, RecipeError
from alignkit.recipes.config import InputSpec
from alignkit.recipes.items import Candidate, Drop, Group, Item
from alignkit.records import ChatExample, PreferenceExample, Turn

class RowError(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(detail)


def iter_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line, value)`` for each non-blank JSONL line (``.gz`` too); a bad line gives a :class:`RowError`."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise RecipeError(f"{path}: cannot read input: {err.strerror}") from None
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    for i, raw in enumerate(data.split(b"\n")):
        if raw.strip():
            try:
                yield i + 1, json.loads(raw)
            except ValueError as err:
                yield i + 1, RowError("invalid_json", f"not valid JSON: {err}")


def _uid(source: str, number: int, part: int | None) -> str:
    return f"{source}:{number}" if part is None else f"{source}:{number}.{part}"


def _adapted(spec: InputSpec, path: Path, kind: str, prefix: str) -> tuple[list[Any], list[Drop]]:
    """Read through the format adapters (:func:`alignkit.io.adapters.convert_file`)."""
    from alignkit.io.adapters import ConvertOptions, convert_file

    out: list[Any] = []
    drops: list[Drop] = []
    try:
        results = convert_file(path, spec.format, ConvertOptions(source=spec.source))
        for res in results:
            if spec.limit is not None and len(out) + len(drops) >= spec.limit:
                break
            uid = _uid(prefix, res.number, res.part)
            rec = res.record
            if rec is None:
                err = res.error
                drops.append(Drop(uid, spec.source, "read", err.error_type if err else "rejected",
                                  str(err.message) if err else "", payload=_jsonable(res.row)))
            elif kind == "sft":
                out.append(Item(uid, spec.source, _as_chat(rec, uid)))
            elif isinstance(rec, PreferenceExample):
                try:
                    out.append(_pref_group(rec, uid, spec.source))
                except RowError as row_err:
                    drops.append(Drop(uid, spec.source, "read", row_err.reason, str(row_err),
                                      rec.model_dump(mode="json", exclude_defaults=True)))
            else:
                drops.append(Drop(uid, spec.source, "read", "not_preference",
                                  "an SFT record in a preference recipe"))
    except AlignkitError as err:
        raise RecipeError(f"input {spec.path!r} (source {spec.source!r}): {err}") from None
    return out, drops


def _jsonable(row: object) -> object:
    """The raw row of a rejected line when it can go into JSON, else ``None``."""
    try:
        json.dumps(row)
    except (TypeError, ValueError):
        return None
    return row


def _as_chat(rec: ChatExample | PreferenceExample, uid: str) -> ChatExample:
    """An SFT record; a preference record gives its chosen conversation."""
    if isinstance(rec, PreferenceExample):
        rec = ChatExample(turns=rec.chosen_turns(), id=rec.id, source=rec.source, metadata=rec.metadata)
    return rec if rec.id else rec.model_copy(update={"id": uid})


def _pref_group(ex: PreferenceExample, uid: str, source: str) -> Group:
    """The two responses of a preference record: its own scores when it has both, else
    1 for the chosen response and 0 for the rejected one.

    Raises:
        RowError: ``chosen_scored_lower`` when both scores are given and the chosen
            response has the lower one (the label and the scores disagree).
    """
    sc, sr = ex.chosen_score, ex.rejected_score
    if sc is None or sr is None:  # one score alone says nothing about the other response
        sc, sr = 1.0, 0.0
    elif not (math.isfinite(sc) and math.isfinite(sr)):
        raise RowError("bad_score", f"score_a/score_b are {ex.score_a!r}/{ex.score_b!r}, not finite numbers")
    elif sc < sr:
        # the pair step would take the higher score as chosen: the label would be flipped silently
        raise RowError("chosen_scored_lower", f"chosen {ex.chosen!r} has score {sc:g} < {sr:g} of the rejected"
                                              " response; fix the label or the scores")
    # label_a/b and model_a/b name the responses by position, and a pair's positions are
    # drawn again: they become the responses' labels (written back as label_a/label_b)
    meta = {k: v for k, v in ex.metadata.items() if k not in _POSITIONAL}
    rejected = "b" if ex.chosen == "a" else "a"

    def label(side: str, default: str) -> str:
        value = ex.metadata.get(f"label_{side}", ex.metadata.get(f"model_{side}"))
        return default if value is None else str(value)

    return Group(uid, source, list(ex.history),
                 [Candidate(ex.chosen_response, sc, label=label(ex.chosen, "chosen")),
                  Candidate(ex.rejected_response, sr, label=label(rejected, "rejected"))], meta, ex.id)


_POSITIONAL = frozenset({"label_a", "label_b", "model_a", "model_b"})


def _score(value: Any, what: str) -> float:
    if isinstance(value, dict):  # UltraFeedback: {"Rating": "4", "Rationale": ...}
        value = value.get("Rating", value.get("rating"))
    return _finite(value, what)


def check_history(history: list[Turn]) -> None:
    """Check a prompt by the rules of a preference record's history (non-empty, no empty
    turn, a system turn only first, ends on a user turn), so that a row breaking them is
    rejected when it is read, not when the output is written.

    Raises:
        pydantic.ValidationError: naming the rule (``empty_content``, ``history_not_user_final``, …).
    """
    PreferenceExample.model_validate({"history": history, "response_a": "a", "response_b": "b", "chosen": "a"})


def _to_group(row: Any, spec: InputSpec, uid: str) -> Group:
    """A ``rated`` row: ``prompt`` (or ``history``) and ``responses`` with ``score`` or
    ``ratings`` (UltraFeedback's ``instruction`` / ``completions`` / ``annotations`` too)."""
    if isinstance(row, RowError):
        raise row
    if not isinstance(row, dict):
        raise RowError("not_an_object", "the row is not a JSON object")
    if "history" in row:
        history = [Turn.model_validate(t) for t in row["history"]]
    else:
        history = [Turn(role="user", content=row["prompt"] if "prompt" in row else row["instruction"])]
    check_history(history)
    cands = []
    responses = row["responses"] if "responses" in row else row["completions"]
    if not isinstance(responses, list):
        raise RowError("bad_response", "'responses' is not a list")
    for i, r in enumerate(responses):
        if not isinstance(r, dict):
            raise RowError("bad_response", f"response {i} is not a JSON object")
        text = r.get("text", r.get("response"))
        if not isinstance(text, str):
            raise RowError("bad_response", "a response has no 'text'")
        ratings = {k: _score(v, f"response {i}: rating {k!r}")
                   for k, v in (r.get("ratings") or r.get("annotations") or {}).items()}
        score = r.get("score", r.get("overall_score"))
        cands.append(Candidate(text, None if score is None else _finite(score, f"response {i}: score"), ratings,
                               str(r.get("model", r.get("label", i)))))
    meta = row.get("metadata")
    record_id = row.get("id")
    return Group(uid, spec.source, history, cands, dict(meta) if isinstance(meta, dict) else {},
                 record_id if isinstance(record_id, str) and record_id else None)


_VICUNA_LAYOUT = "question.jsonl, answer/*.jsonl and review/**/*.jsonl (FastChat's eval/table)"


def _finite(value: Any, what: str) -> float:
    """``value`` as a finite float; a bool, a non-number, NaN or infinity is a :class:`RowError`."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RowError("bad_score", f"{what} is {value!r}, not a number")
    try:
        number = float(value)
    except ValueError:
        raise RowError("bad_score", f"{what} is {value!r}, not a number") from None
    if not math.isfinite(number):
        raise RowError("bad_score", f"{what} is {value!r}, not a finite number")
    return number


def _table(path: Path, keys: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """The rows of a reference table of a ``vicuna_reviews`` folder; a row that is not an
    object with ``keys`` is an error naming its line (the table is data the reviews need)."""
    for line, row in iter_rows(path):
        if not isinstance(row, dict) or any(k not in row for k in keys):
            raise RecipeError(f"{path}:{line}: expected a JSON object with {', '.join(keys)}")
        yield row


def _vicuna(folder: Path, spec: InputSpec, prefix: str) -> tuple[list[Group], list[Drop]]:
    if not folder.is_dir() or not (folder / "question.jsonl").is_file():
        raise RecipeError(f"{folder}: format 'vicuna_reviews' reads a folder holding {_VICUNA_LAYOUT}")
    answer_files = sorted((folder / "answer").glob("*.jsonl"))
    review_files = sorted((folder / "review").rglob("*.jsonl"))
    if not answer_files or not review_files:
        missing = "answer/*.jsonl" if not answer_files else "review/**/*.jsonl"
        raise RecipeError(f"{folder}: no {missing}; format 'vicuna_reviews' reads a folder holding {_VICUNA_LAYOUT}")
    questions = {r["question_id"]: r["text"] for r in _table(folder / "question.jsonl", ("question_id", "text"))}
    answers = {r["answer_id"]: r for p in answer_files for r in _table(p, ("answer_id", "model_id", "text"))}
    groups: list[Group] = []
    drops: list[Drop] = []
    for p in review_files:
        rel = p.relative_to(folder).as_posix()
        for line, r in iter_rows(p):
            if spec.limit is not None and len(groups) + len(drops) >= spec.limit:
                return groups, drops  # like every format: at most `limit` rows, rejected ones included
            uid = f"{prefix}:{rel}:{line}"
            try:
                groups.append(_review_group(r, uid, spec.source, questions, answers))
            except RowError as err:
                drops.append(Drop(uid, spec.source, "read", err.reason, str(err), _jsonable(r)))
            except ValidationError as err:
                e = err.errors(include_url=False)[0]
                drops.append(Drop(uid, spec.source, "read", f"invalid:{e['type']}", e["msg"], _jsonable(r)))
    return groups, drops


def _review_group(r: Any, uid: str, source: str, questions: dict[Any, Any],
                  answers: dict[Any, dict[str, Any]]) -> Group:
    """One GPT-4 review joined to its question and its two answers."""
    if isinstance(r, RowError):
        raise r
    if not isinstance(r, dict):
        raise RowError("not_an_object", "the row is not a JSON object")
    try:
        a1, a2 = answers.get(r.get("answer1_id")), answers.get(r.get("answer2_id"))
        q = questions.get(r.get("question_id"))
    except TypeError:  # an id that is a list or an object
        a1 = a2 = q = None
    if a1 is None or a2 is None or q is None:
        raise RowError("unjoinable", "question or answer id not found")
    score = r.get("score")
    if not isinstance(score, list) or len(score) != 2:
        raise RowError("bad_score", f"'score' is {score!r}, not [score of answer 1, score of answer 2]")
    s1, s2 = _finite(score[0], "score[0]"), _finite(score[1], "score[1]")
    if not isinstance(q, str) or not all(isinstance(a["text"], str) for a in (a1, a2)):
        raise RowError("bad_row", "a question or answer text is not a string")
    history = [Turn(role="user", content=q)]
    check_history(history)
    return Group(uid, source, history,
                 [Candidate(a1["text"], s1, label=str(a1["model_id"])),
                  Candidate(a2["text"], s2, label=str(a2["model_id"]))],
                 {"question_id": r["question_id"]})


def read_input(spec: InputSpec, base: Path, kind: str,
               prefix: str | None = None) -> tuple[list[Item] | list[Group], list[Drop]]:
    """Read one input of a recipe whose folder is ``base``: items (SFT) or groups (preference).

    ``prefix`` starts every id (``prefix:line``); it is the source label unless several
    inputs share that label (the recipe then passes ``source:path``, so that ids stay unique).
    """
    prefix = spec.source if prefix is None else prefix
    path = base / spec.path
    if not path.exists():
        raise RecipeError(f"input {spec.path!r} (source {spec.source!r}) does not exist"
                          f" (paths are relative to the recipe's folder)")
    if spec.format == "vicuna_reviews":
        return _vicuna(path, spec, prefix)
    if spec.format != "rated":
        return _adapted(spec, path, kind, prefix)
    out: list[Group] = []
    drops: list[Drop] = []
    for line, row in iter_rows(path):
        if spec.limit is not None and len(out) + len(drops) >= spec.limit:
            break
        uid = f"{prefix}:{line}"
        try:
            out.append(_to_group(row, spec, uid))
        except RowError as err:
            drops.append(Drop(uid, spec.source, "read", err.reason, str(err), _jsonable(row)))
        except ValidationError as err:
            e = err.errors(include_url=False)[0]
            drops.append(Drop(uid, spec.source, "read", f"invalid:{e['type']}", e["msg"], row))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
            drops.append(Drop(uid, spec.source, "read", "bad_row", f"{type(err).__name__}: {err}", row))
    return out, drops
