"""Reading a recipe's inputs: broken rows and folders are rejected with a reason
(or a clear error), never a traceback, never lost silently."""

from __future__ import annotations

import json
from pathlib import Path

from alignkit.cli import main
from alignkit.recipes import run_recipe

PAIRS = 'name = "r"\nkind = "preference"\n[[inputs]]\npath = "{path}"\nsource = "s"\nformat = "{fmt}"\n' \
        '[[steps]]\ntype = "pairs"\n'


def _rated(tmp_path: Path, rows: list[object]) -> Path:
    (tmp_path / "rated.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "r.toml").write_text(PAIRS.format(path="rated.jsonl", fmt="rated"))
    return tmp_path / "r.toml"


def _reasons(result: object) -> dict[str, str]:
    return {d.uid: d.reason for d in result.drops}  # type: ignore[attr-defined]


def test_rated_rows_with_a_bad_prompt_are_rejected_when_read(tmp_path: Path) -> None:
    good = [{"text": "x", "score": 9}, {"text": "y", "score": 2}]
    recipe = _rated(tmp_path, [
        {"prompt": "fine", "responses": good},
        {"prompt": "", "responses": good},
        {"prompt": "   ", "responses": good},
        {"history": [], "responses": good},
        {"history": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "responses": good},
    ])
    result = run_recipe(recipe)  # used to fail at the end with a pydantic traceback
    assert [r.id for r in result.records] == ["s:1"]
    assert _reasons(result) == {"s:2": "invalid:empty_content", "s:3": "invalid:empty_content",
                                "s:4": "invalid:too_short", "s:5": "invalid:history_not_user_final"}
    assert result.report.data["inputs"][0]["rejected"] == 4
    out = tmp_path / "o.jsonl"
    assert main(["recipe", "run", str(recipe), "-q", "-o", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 1


def _vicuna_folder(root: Path, reviews: list[str]) -> Path:
    folder = root / "vb"
    (folder / "answer").mkdir(parents=True)
    (folder / "review" / "x").mkdir(parents=True)
    (folder / "question.jsonl").write_text('{"question_id": 1, "text": "q1"}\n{"question_id": 2, "text": ""}\n')
    (folder / "answer" / "a.jsonl").write_text(
        '{"answer_id": "a1", "model_id": "m1", "question_id": 1, "text": "one"}\n'
        '{"answer_id": "a2", "model_id": "m2", "question_id": 1, "text": "two"}\n'
        '{"answer_id": "b1", "model_id": "m1", "question_id": 2, "text": "three"}\n'
        '{"answer_id": "b2", "model_id": "m2", "question_id": 2, "text": "four"}\n')
    (folder / "review" / "x" / "r.jsonl").write_text("".join(line + "\n" for line in reviews))
    (root / "r.toml").write_text(PAIRS.format(path="vb", fmt="vicuna_reviews"))
    return root / "r.toml"


def test_bad_vicuna_review_rows_are_rejected_with_a_reason(tmp_path: Path) -> None:
    ok = '{"question_id": 1, "answer1_id": "a1", "answer2_id": "a2", "score": [%s]}'
    recipe = _vicuna_folder(tmp_path, [
        ok % "8, 3",
        "{not json",
        "[1, 2]",
        '{"question_id": 1, "answer1_id": "a1", "answer2_id": "a2"}',
        ok % "8",
        ok % '"x", 3',
        ok % "NaN, 3",
        '{"question_id": 9, "answer1_id": "a1", "answer2_id": "a2", "score": [8, 3]}',
        '{"question_id": 2, "answer1_id": "b1", "answer2_id": "b2", "score": [8, 3]}',
        '{"question_id": [1], "answer1_id": "a1", "answer2_id": "a2", "score": [8, 3]}',
    ])
    result = run_recipe(recipe)  # each bad row used to be a KeyError / AttributeError traceback
    assert len(result.records) == 1
    reasons = {uid.rsplit(":", 1)[1]: r for uid, r in _reasons(result).items()}
    assert reasons == {"2": "invalid_json", "3": "not_an_object", "4": "bad_score", "5": "bad_score",
                       "6": "bad_score", "7": "bad_score", "8": "unjoinable", "9": "invalid:empty_content",
                       "10": "unjoinable"}
    assert result.report.data["inputs"][0]["rejected"] == 9


def test_a_broken_vicuna_folder_is_a_clear_error(tmp_path: Path, capsys: object) -> None:
    import shutil

    import pytest

    from alignkit.errors import RecipeError

    review = '{"question_id": 1, "answer1_id": "a1", "answer2_id": "a2", "score": [8, 3]}'
    recipe = _vicuna_folder(tmp_path, [review])
    (tmp_path / "vb" / "answer" / "a.jsonl").write_text('{"answer_id": "a1", "text": "one"}\n')
    with pytest.raises(RecipeError, match=r"a\.jsonl:1: expected a JSON object with answer_id, model_id, text"):
        run_recipe(recipe)
    shutil.rmtree(tmp_path / "vb" / "answer")
    # no answers at all: every review was dropped as unjoinable and the run "succeeded" with 0 pairs
    with pytest.raises(RecipeError, match=r"no answer/\*\.jsonl; format 'vicuna_reviews' reads a folder"):
        run_recipe(recipe)
    assert main(["recipe", "run", str(recipe), "-q", "-o", str(tmp_path / "o.jsonl")]) == 2
    assert not (tmp_path / "o.jsonl").exists()


def test_rated_scores_must_be_finite_numbers(tmp_path: Path) -> None:
    def row(a: object, b: object = 2) -> dict[str, object]:
        return {"prompt": "q", "responses": [{"text": "x", "score": a}, {"text": "y", "score": b}]}

    (tmp_path / "rated.jsonl").write_text(
        json.dumps(row(9)) + "\n"
        + '{"prompt": "q", "responses": [{"text": "x", "score": NaN}, {"text": "y", "score": 2}]}\n'
        + '{"prompt": "q", "responses": [{"text": "x", "score": Infinity}, {"text": "y", "score": 2}]}\n'
        + json.dumps(row(True)) + "\n"
        + json.dumps(row("high")) + "\n"
        + json.dumps({"prompt": "q", "responses": [{"text": "x", "ratings": {"h": {"Rating": "N/A"}}},
                                                   {"text": "y", "ratings": {"h": 2}}]}) + "\n"
        + json.dumps({"prompt": "q", "responses": "x"}) + "\n"
        + json.dumps({"prompt": "q", "responses": ["x", "y"]}) + "\n")
    (tmp_path / "r.toml").write_text(PAIRS.format(path="rated.jsonl", fmt="rated"))
    result = run_recipe(tmp_path / "r.toml")
    # NaN used to reach pair building ("score spread nan"), Infinity the output (not JSON)
    assert [r.id for r in result.records] == ["s:1"]
    assert _reasons(result) == {"s:2": "bad_score", "s:3": "bad_score", "s:4": "bad_score", "s:5": "bad_score",
                                "s:6": "bad_score", "s:7": "bad_response", "s:8": "bad_response"}
    details = {d.uid: d.detail for d in result.drops}
    assert details["s:3"] == "response 0: score is inf, not a finite number"
    assert details["s:6"] == "response 0: rating 'h' is 'N/A', not a number"


def test_preference_records_keep_their_id_and_metadata(tmp_path: Path) -> None:
    """A preference record's id and metadata reach its pair, so select method = "score"
    (documented for preference recipes) can read a score from metadata; it found none."""
    rows = []
    for i in range(6):
        rows.append({"history": [{"role": "user", "content": f"q{i}"}], "response_a": f"a{i}", "response_b": f"b{i}",
                     "chosen": "a" if i % 2 else "b", "id": f"orig-{i}",
                     "metadata": {"quality": {"score": i}, "tag": "x", "model_a": f"ma{i}", "model_b": f"mb{i}"}})
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "r.toml").write_text(
        'name = "r"\nkind = "preference"\n[[inputs]]\npath = "p.jsonl"\nsource = "s"\n[[steps]]\ntype = "pairs"\n'
        '[[steps]]\ntype = "select"\nmethod = "score"\nscore_field = "quality.score"\nk = 3\n')
    result = run_recipe(tmp_path / "r.toml")
    assert sorted(r.id or "" for r in result.records) == ["orig-3", "orig-4", "orig-5"]
    for rec in result.records:
        i = int((rec.id or "")[-1])
        assert rec.metadata["quality"] == {"score": i} and rec.metadata["tag"] == "x"
        # the model names follow their responses to whichever position they were drawn to
        assert rec.metadata[f"label_{rec.chosen}"] == (f"ma{i}" if i % 2 else f"mb{i}")
        assert "model_a" not in rec.metadata
    rated = [{"id": "q-1", "metadata": {"cat": "math"}, "prompt": "q",
              "responses": [{"text": "x", "score": 1}, {"text": "y", "score": 2}, {"text": "z", "score": 3}]}]
    (tmp_path / "rated.jsonl").write_text(json.dumps(rated[0]) + "\n")
    (tmp_path / "r.toml").write_text(PAIRS.format(path="rated.jsonl", fmt="rated") + 'strategy = "all_pairs"\n')
    recs = run_recipe(tmp_path / "r.toml").records
    assert sorted(r.id or "" for r in recs) == ["q-1", "q-1#1", "q-1#2"]
    assert all(r.metadata["cat"] == "math" for r in recs)


def test_limit_counts_review_rows_like_every_other_format(tmp_path: Path) -> None:
    ok = '{"question_id": 1, "answer1_id": "a1", "answer2_id": "a2", "score": [8, 3]}'
    recipe = _vicuna_folder(tmp_path, ["{bad", ok, ok, ok, "{bad"])
    recipe.write_text(recipe.read_text().replace('format = "vicuna_reviews"\n', 'format = "vicuna_reviews"\nlimit = 3\n'))
    result = run_recipe(recipe)
    # rejected rows past the limit were read and reported as rejected while good ones were cut
    inputs = result.report.data["inputs"][0]
    assert (inputs["records"], inputs["read"], inputs["rejected"]) == (3, 2, 1)


def test_a_preference_record_whose_scores_contradict_its_label_is_rejected(tmp_path: Path) -> None:
    """The pairs step takes the higher score as chosen: chosen = "a" with score_a 2 < score_b 8
    came out with B chosen, the human label flipped without a word."""
    def rec(i: int, chosen: str, **scores: float) -> str:
        return json.dumps({"history": [{"role": "user", "content": f"q{i}"}], "response_a": f"A{i}",
                           "response_b": f"B{i}", "chosen": chosen, **scores}) + "\n"

    (tmp_path / "p.jsonl").write_text(rec(1, "a", score_a=2, score_b=8) + rec(2, "a", score_a=5, score_b=5)
                                      + rec(3, "b") + rec(4, "a", score_b=9) + rec(5, "b", score_a=1, score_b=4))
    (tmp_path / "r.toml").write_text(PAIRS.format(path="p.jsonl", fmt="auto"))
    result = run_recipe(tmp_path / "r.toml")
    chosen = {r.id: r.chosen_response for r in result.records}
    assert chosen == {"s:3": "B3", "s:4": "A4", "s:5": "B5"}  # s:4: one score alone is not used
    assert {(d.uid, d.step, d.reason) for d in result.drops} == {("s:1", "read", "chosen_scored_lower"),
                                                                 ("s:2", "pairs", "tie")}
    bad = next(d for d in result.drops if d.uid == "s:1").to_dict(with_record=True)
    assert bad["detail"] == "chosen 'a' has score 2 < 8 of the rejected response; fix the label or the scores"
    assert bad["record"]["response_a"] == "A1"
