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
