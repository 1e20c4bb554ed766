"""Whole recipes: the shipped ones on sample_data, determinism, report, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from alignkit.cli import main
from alignkit.errors import RecipeError, UsageError
from alignkit.recipes import parse_recipe, run_recipe, write_outputs
from alignkit.records import ChatExample, PreferenceExample

SHIPPED = sorted((REPO_ROOT / "recipes").glob("*.toml"))


def _inputs_present(path: Path) -> None:
    recipe = parse_recipe(path.read_text(encoding="utf-8"), path.name)
    for spec in recipe.inputs:
        if not (path.parent / spec.path).exists():
            pytest.skip(f"{path.name}: input {spec.path} is not in this checkout")


def test_all_five_recipes_ship() -> None:
    names = {p.stem for p in SHIPPED}
    assert {"lima", "long_is_more", "pairs_from_ratings", "pairs_from_hh_rlhf", "pairs_from_vicuna_reviews"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_recipe_runs_and_is_deterministic(path: Path, tmp_path: Path) -> None:
    _inputs_present(path)
    outs = []
    for run in ("one", "two"):
        result = run_recipe(path)
        out = write_outputs(result, tmp_path / f"{run}.jsonl", report=tmp_path / f"{run}.report.json",
                            dropped=tmp_path / f"{run}.dropped.jsonl")
        outs.append((out.read_bytes(), (tmp_path / f"{run}.report.json").read_bytes(),
                     (tmp_path / f"{run}.dropped.jsonl").read_bytes()))
    assert outs[0] == outs[1]
    lines = outs[0][0].decode().splitlines()
    assert lines, f"{path.name} produced no records on sample_data"
    model = ChatExample if result.recipe.kind == "sft" else PreferenceExample
    for line in lines:
        model.model_validate_json(line)
    report = json.loads(outs[0][1])
    # the counts add up: every step's in = out + dropped, each step feeds the next
    steps = report["steps"]
    for s in steps:
        assert s["in"] == s["out"] + s["dropped"] or s["type"] == "pairs"
        assert sum(v["out"] for v in s["per_source"].values()) == s["out"]
    for a, b in zip(steps, steps[1:]):
        assert a["out"] == b["in"]
    assert steps[-1]["out"] == report["output"]["records"] == len(lines)
    read = sum(i["read"] for i in report["inputs"])
    assert steps[0]["in"] == read
    dropped = outs[0][2].decode().splitlines()
    for line in dropped:
        d = json.loads(line)
        assert d["reason"] and d["step"]
        assert d["step"] == "read" or "record" in d
    assert len(dropped) == sum(s["dropped"] for s in steps) + sum(i["rejected"] for i in report["inputs"])
    if result.recipe.kind == "sft":
        assert report["accounting"]["adds_up"]
        assert read == len(lines) + sum(s["dropped"] for s in steps)
    else:
        assert 0.4 <= report["chosen_on_a"] <= 0.6


def test_seed_changes_a_random_selection(tmp_path: Path) -> None:
    text = f'''name = "r"
kind = "sft"
seed = {{seed}}
[[inputs]]
path = "{(REPO_ROOT / 'sample_data' / 'sft.jsonl').as_posix()}"
source = "s"
[[steps]]
type = "select"
method = "random"
k = 10
'''
    if not (REPO_ROOT / "sample_data" / "sft.jsonl").exists():
        pytest.skip("sample_data/sft.jsonl is not in this checkout")
    ids = [[r.id for r in run_recipe(parse_recipe(text.format(seed=s))).records] for s in (0, 0, 1)]
    assert ids[0] == ids[1] != ids[2]
    assert len(ids[0]) == 10


def test_preference_input_in_an_sft_recipe_gives_the_chosen_side() -> None:
    path = REPO_ROOT / "sample_data" / "preference.jsonl"
    if not path.exists():
        pytest.skip("sample_data/preference.jsonl is not in this checkout")
    text = f'name = "r"\nkind = "sft"\n[[inputs]]\npath = "{path.as_posix()}"\nsource = "p"\n'
    result = run_recipe(parse_recipe(text))
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(result.records) == len(raw)
    first = raw[0]
    assert result.records[0].turns[-1].content == first["response_" + first["chosen"]]


def test_rejected_rows_are_reported_not_lost(tmp_path: Path) -> None:
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"prompt": "q", "response": "a"}\n{"prompt": "q2"\n{"prompt": "", "response": "b"}\n')
    (tmp_path / "r.toml").write_text('name = "r"\nkind = "sft"\n[[inputs]]\npath = "pool.jsonl"\nsource = "p"\n')
    result = run_recipe(tmp_path / "r.toml")
    assert len(result.records) == 1
    assert {d.uid for d in result.drops} == {"p:2", "p:3"}
    assert result.report.data["inputs"][0]["rejected"] == 2
    by_uid = {d.uid: d.to_dict(with_record=True) for d in result.drops}
    assert by_uid["p:3"]["record"] == {"prompt": "", "response": "b"}  # the raw row
    assert "record" not in by_uid["p:2"]  # not JSON: nothing to show


def test_missing_input_and_output(tmp_path: Path) -> None:
    (tmp_path / "r.toml").write_text('name = "r"\nkind = "sft"\n[[inputs]]\npath = "nope.jsonl"\nsource = "p"\n')
    with pytest.raises(RecipeError, match="nope.jsonl.*relative to the recipe"):
        run_recipe(tmp_path / "r.toml")
    (tmp_path / "pool.jsonl").write_text('{"prompt": "q", "response": "a"}\n')
    (tmp_path / "r.toml").write_text('name = "r"\nkind = "sft"\n[[inputs]]\npath = "pool.jsonl"\nsource = "p"\n')
    with pytest.raises(RecipeError, match="no output path"):
        write_outputs(run_recipe(tmp_path / "r.toml"))


def test_cli_recipe_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = REPO_ROOT / "recipes" / "pairs_from_vicuna_reviews.toml"
    _inputs_present(recipe)
    out, rep, drop = tmp_path / "o.jsonl", tmp_path / "r.json", tmp_path / "d.jsonl"
    code = main(["recipe", "run", str(recipe), "-o", str(out), "--report", str(rep), "--dropped", str(drop)])
    assert code == 0
    err = capsys.readouterr().err
    assert "chosen_on_a" in err and f"to {out}" in err
    recs = [PreferenceExample.model_validate_json(line) for line in out.read_text().splitlines()]
    assert all((r.chosen_score or 0) - (r.rejected_score or 0) >= 1 for r in recs)
    dropped = [json.loads(line) for line in drop.read_text().splitlines()]
    assert dropped and {d["reason"] for d in dropped} <= {"tie", "below_min_margin", "length_ratio", "unjoinable"}
    for d in dropped:  # the dropped unit itself is in the file, for inspection
        assert d["record"]["history"][0]["role"] == "user"
        assert ("responses" in d["record"]) == (d["step"] == "pairs")


def test_cli_reports_a_bad_recipe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "r.toml").write_text('name = "r"\nkind = "sft"\nstepz = []\n')
    assert main(["recipe", "run", str(tmp_path / "r.toml")]) == 2
    err = capsys.readouterr().err
    assert "r.toml: stepz: Extra inputs are not permitted" in err
    assert "r.toml: inputs: Field required" in err


@pytest.mark.slow
def test_output_does_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    recipe = REPO_ROOT / "recipes" / "lima.toml"
    _inputs_present(recipe)
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"{seed}.jsonl"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-m", "alignkit", "recipe", "run", str(recipe), "-q", "-o", str(out),
                        "--report", str(tmp_path / f"{seed}.json")], check=True, env=env, cwd=tmp_path)
        outs.append((out.read_bytes(), (tmp_path / f"{seed}.json").read_bytes()))
    assert outs[0] == outs[1]


def test_unwritable_output_is_an_output_error(tmp_path: Path) -> None:
    import os

    from alignkit.errors import OutputError

    (tmp_path / "pool.jsonl").write_text('{"prompt": "q", "response": "a"}\n')
    (tmp_path / "r.toml").write_text('name = "r"\nkind = "sft"\n[[inputs]]\npath = "pool.jsonl"\nsource = "p"\n')
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="cannot write"):
        write_outputs(run_recipe(tmp_path / "r.toml"), tmp_path / "file" / "out.jsonl")
    out = write_outputs(run_recipe(tmp_path / "r.toml"), tmp_path / "new" / "out.jsonl")
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # like any new file, not mkstemp's 0600
    assert [p.name for p in out.parent.iterdir()] == ["out.jsonl"]  # no temp file left


def test_longest_in_tokens_with_the_bundled_tokenizer() -> None:
    from alignkit.bpe import load_tokenizer

    path = REPO_ROOT / "sample_data" / "sft.jsonl"
    if not path.exists():
        pytest.skip("sample_data/sft.jsonl is not in this checkout")
    text = (f'name = "r"\nkind = "sft"\ntokenizer = "gpt2"\n[[inputs]]\npath = "{path.as_posix()}"\nsource = "s"\n'
            '[[steps]]\ntype = "select"\nmethod = "longest"\nlength_unit = "tokens"\nk = 5\n')
    result = run_recipe(parse_recipe(text))
    tok = load_tokenizer("gpt2")
    pool = run_recipe(parse_recipe(text.replace("k = 5", "k = 1000"))).records
    count = [len(tok.encode_ordinary(r.turns[-1].content)) for r in pool]
    picked = sorted((len(tok.encode_ordinary(r.turns[-1].content)) for r in result.records), reverse=True)
    assert picked == sorted(count, reverse=True)[:5]
    assert result.report.data["lengths"]["response_tokens"]["after"]["max"] == max(count)


def test_summary_warns_of_a_selection_shortfall(tmp_path: Path) -> None:
    (tmp_path / "pool.jsonl").write_text('{"prompt": "q", "response": "a"}\n{"prompt": "q2", "response": "b"}\n')
    (tmp_path / "r.toml").write_text('name = "r"\nkind = "sft"\n[[inputs]]\npath = "pool.jsonl"\nsource = "p"\n'
                                     '[[steps]]\ntype = "select"\nmethod = "first"\nk = 5\n')
    summary = run_recipe(tmp_path / "r.toml").report.summary()
    assert "warning: 3 short of k = 5" in summary
    (tmp_path / "r.toml").write_text((tmp_path / "r.toml").read_text().replace("k = 5", "k = 2"))
    assert "warning" not in run_recipe(tmp_path / "r.toml").report.summary()


def _tiny_recipe(tmp_path: Path) -> Path:
    (tmp_path / "pool.jsonl").write_text('{"prompt": "q", "response": "a"}\n')
    (tmp_path / "r.toml").write_text('name = "r"\nkind = "sft"\n[[inputs]]\npath = "pool.jsonl"\nsource = "p"\n')
    return tmp_path / "r.toml"


def test_output_to_a_pipe_or_device_is_written_into_not_replaced(tmp_path: Path) -> None:
    """`-o /dev/null` (or a named pipe) must stay what it is: an atomic rename onto it
    replaced /dev/null with a regular file when run as root."""
    import os
    import stat

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so that opening it to write does not block
    try:
        write_outputs(run_recipe(_tiny_recipe(tmp_path)), fifo)
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
        got = os.read(reader, 1 << 16)
    finally:
        os.close(reader)
    assert json.loads(got)["turns"][-1]["content"] == "a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe", "pool.jsonl", "r.toml"]  # no temp file left


def test_output_through_a_symlink_replaces_the_file_it_names(tmp_path: Path) -> None:
    real = tmp_path / "real.jsonl"
    real.write_text("old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    write_outputs(run_recipe(_tiny_recipe(tmp_path)), link)
    assert link.is_symlink()
    assert json.loads(real.read_text())["turns"][-1]["content"] == "a"


POOL_HEAD = 'name = "r"\nkind = "sft"\n[[inputs]]\npath = "pool.jsonl"\nsource = "p"\n'


@pytest.mark.parametrize(
    ("body", "says"),
    [
        # each message names the recipe file and the key, and says what to do
        ('name = "r"\nkind = "sft"\n[[inputs]]\npath = "nope.jsonl"\nsource = "p"\n',
         "r.toml: inputs.0.path: 'nope.jsonl' (source 'p') does not exist: looked for "),
        (POOL_HEAD + '[[steps]]\ntype = "phrases"\npatterns = ["ok", "(unclosed"]\n',
         "r.toml: steps.0.patterns: pattern 1 ('(unclosed') is not a valid regular expression"),
        (POOL_HEAD + '[[steps]]\ntype = "length"\nunit = "tokens"\nmax = 5\n',
         'r.toml: steps.0.unit: "tokens" needs a tokenizer: add tokenizer = "gpt2"'),
        (POOL_HEAD + '[[steps]]\ntype = "select"\nmethod = "longest"\nlength_unit = "tokens"\nk = 1\n',
         'r.toml: steps.0.length_unit: "tokens" needs a tokenizer'),
        (POOL_HEAD.replace('kind = "sft"', 'kind = "sft"\ntokenizer = "no_such_tokenizer"')
         + '[[steps]]\ntype = "length"\nunit = "tokens"\nmax = 5\n',
         "r.toml: tokenizer: no_such_tokenizer: "),
        (POOL_HEAD + '[[steps]]\ntype = "exact_dedup"\n[[steps]]\ntype = "select"\nk = 5\nstrict = true\n',
         "r.toml: steps.1 (select): strict: only 1 records are left for k = 5; lower 'k'"),
        ('name = "r"\nkind = "preference"\n[[inputs]]\npath = "pool.jsonl"\nsource = "p"\nformat = "rated"\n'
         '[[steps]]\ntype = "pairs"\n[[steps]]\ntype = "length_bias"\nunit = "tokens"\n',
         'r.toml: steps.1.unit: "tokens" needs a tokenizer'),  # was a TypeError traceback once pairs were built
    ],
)
def test_run_errors_name_the_file_the_key_and_a_fix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, says: str) -> None:
    (tmp_path / "pool.jsonl").write_text('{"prompt": "q", "response": "a"}\n')
    (tmp_path / "r.toml").write_text(body)
    assert main(["recipe", "run", str(tmp_path / "r.toml"), "-q", "-o", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"alignkit: error: {says}"), err
    assert "Traceback" not in err
    assert not (tmp_path / "o.jsonl").exists()


def test_a_recipe_file_that_is_not_utf8_or_has_a_bom(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pool.jsonl").write_text('{"prompt": "q", "response": "a"}\n')
    (tmp_path / "r.toml").write_bytes(b'name = "caf\xe9"\n' + POOL_HEAD.split("\n", 1)[1].encode())
    assert main(["recipe", "run", str(tmp_path / "r.toml"), "-q"]) == 2  # was a UnicodeDecodeError traceback
    assert "r.toml: not UTF-8 text (byte 11: invalid continuation byte); save the recipe as UTF-8" in capsys.readouterr().err
    (tmp_path / "r.toml").write_bytes(b"\xef\xbb\xbf" + POOL_HEAD.encode())  # saved by a Windows editor
    assert len(run_recipe(tmp_path / "r.toml").records) == 1


@pytest.mark.parametrize(
    ("pool", "fmt", "says"),
    [
        ("", "auto", "r.toml: inputs.0.path: 'pool.jsonl' holds no records; point 'path' at a file with records"),
        ("\n\n", "auto", "r.toml: inputs.0.path: none of the 2 rows of 'pool.jsonl' could be read as format 'auto'"
                         " (blank_line 2; first: p:1: blank_line: "),
        ('{"prompt": "q", "response": "a"}\n{"prompt": "q2", "response": "b"}\n', "alpaca",
         "r.toml: inputs.0.path: none of the 2 rows of 'pool.jsonl' could be read as format 'alpaca' (missing 2;"
         " first: p:1: missing: "),
    ],
)
def test_an_input_that_gives_no_record_is_an_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], pool: str, fmt: str, says: str) -> None:
    """An empty pool, or a wrong format that rejects every row, used to exit 0 with an empty output."""
    (tmp_path / "pool.jsonl").write_text(pool)
    (tmp_path / "r.toml").write_text(POOL_HEAD + f'format = "{fmt}"\n[[steps]]\ntype = "select"\nk = 5\n')
    assert main(["recipe", "run", str(tmp_path / "r.toml"), "-q", "-o", str(tmp_path / "o.jsonl")]) == 2
    assert capsys.readouterr().err.startswith(f"alignkit: error: {says}")
    assert not (tmp_path / "o.jsonl").exists()


def test_a_failed_write_leaves_no_new_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The records used to be renamed into place before the report was written: a run that
    then failed (exit 2) left a new, complete-looking output."""
    recipe = _tiny_recipe(tmp_path)
    (tmp_path / "out.jsonl").write_text("old\n")
    (tmp_path / "afile").write_text("")
    code = main(["recipe", "run", str(recipe), "-q", "-o", str(tmp_path / "out.jsonl"),
                 "--dropped", str(tmp_path / "d.jsonl"), "--report", str(tmp_path / "afile" / "r.json")])
    assert code == 2
    assert "cannot write" in capsys.readouterr().err
    assert (tmp_path / "out.jsonl").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "out.jsonl", "pool.jsonl", "r.toml"]
    assert main(["recipe", "run", str(recipe), "-q", "-o", str(tmp_path / "out.jsonl"),
                 "--dropped", str(tmp_path / "d.jsonl"), "--report", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "out.jsonl").read_text())["turns"][-1]["content"] == "a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "d.jsonl", "out.jsonl", "pool.jsonl", "r.json",
                                                          "r.toml"]


@pytest.mark.parametrize("option", ["-o", "--report", "--dropped"])
def test_no_output_may_overwrite_the_recipe_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str) -> None:
    recipe = _tiny_recipe(tmp_path)
    before = recipe.read_bytes()
    args = ["recipe", "run", str(recipe), "-q"] + (["-o", str(tmp_path / "o.jsonl")] if option != "-o" else [])
    assert main([*args, option, str(recipe)]) == 2  # `-o r.toml` used to replace the recipe with records
    assert f"names the same file as the recipe file {recipe}" in capsys.readouterr().err
    assert recipe.read_bytes() == before
    result = run_recipe(recipe)
    with pytest.raises(UsageError, match="the recipe file"):
        write_outputs(result, recipe)


def test_inputs_sharing_a_source_label_keep_distinct_ids(tmp_path: Path) -> None:
    """Two files with one source label gave their records the same ids (source:line); select
    keeps records by id, so k = 3 kept 6 records and the accounting still 'added up'."""
    for name, tag in (("a.jsonl", "A"), ("b.jsonl", "B")):
        (tmp_path / name).write_text("".join(
            json.dumps({"prompt": f"q{tag}{i}", "response": f"answer {tag}{i}"}) + "\n" for i in range(5)))
    (tmp_path / "r.toml").write_text(
        'name = "r"\nkind = "sft"\n[[inputs]]\npath = "a.jsonl"\nsource = "pool"\n'
        '[[inputs]]\npath = "b.jsonl"\nsource = "pool"\n[[steps]]\ntype = "select"\nmethod = "random"\nk = 3\n')
    result = run_recipe(tmp_path / "r.toml")
    assert len(result.records) == 3
    ids = [r.id for r in result.records] + [d.uid for d in result.drops]
    assert len(ids) == len(set(ids)) == 10
    assert {i.rsplit(":", 1)[0] for i in ids if i} == {"pool:a.jsonl", "pool:b.jsonl"}
    assert result.report.data["output"]["per_source"] == {"pool": 3}
    twice = (tmp_path / "r.toml").read_text().replace('"b.jsonl"', '"a.jsonl"')
    with pytest.raises(RecipeError, match=r"inputs\.1: the same path and source as inputs\.0"):
        parse_recipe(twice, "r.toml")


def test_an_empty_output_is_warned_of_and_a_missing_output_path_names_the_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = _tiny_recipe(tmp_path)
    assert main(["recipe", "run", str(recipe)]) == 2
    assert "alignkit: error: r.toml: output.path: no output path: give -o/--output" in capsys.readouterr().err
    recipe.write_text(recipe.read_text() + '[[steps]]\ntype = "length"\nmin = 100\n')
    assert main(["recipe", "run", str(recipe), "-o", str(tmp_path / "o.jsonl")]) == 0
    assert "warning: no record reached the output" in capsys.readouterr().err
    assert (tmp_path / "o.jsonl").read_text() == ""
