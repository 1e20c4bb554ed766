"""No command overwrites its own input: convert, tokenize and recipe run refuse (exit 2) before
reading anything when an output names an input (through symlinks and hard links too)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from alignkit.cli import main
from alignkit.errors import UsageError
from alignkit.recipes import run_recipe, write_outputs

GOOD = {"question": "2+2?", "answer": "4"}
BAD = {"question": "3+3?", "answer": ""}
SFT = {"turns": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
RECIPE = ('name = "r"\nkind = "sft"\nseed = 0\n[[inputs]]\npath = "pool.jsonl"\nsource = "s"\n'
          '[[steps]]\ntype = "exact_dedup"\non = ["prompt"]\n')


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _pool(tmp_path: Path) -> tuple[Path, bytes]:
    pool = _write(tmp_path / "pool.jsonl", [{"prompt": "q", "response": "a"}, {"prompt": "q", "response": "b"}])
    return pool, pool.read_bytes()


@pytest.mark.parametrize("link", ["same", "relative", "symlink", "hardlink"])
def test_convert_output_naming_its_input_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], link: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _write(tmp_path / "in.jsonl", [GOOD, BAD])
    before = src.read_bytes()
    out = {"same": src, "relative": tmp_path / "sub" / ".." / "in.jsonl",
           "symlink": tmp_path / "link.jsonl", "hardlink": tmp_path / "hard.jsonl"}[link]
    if link == "symlink":
        out.symlink_to(src)
    elif link == "hardlink":
        os.link(src, out)
    code = main(["convert", str(src), "-o", str(out), "--on-error", "skip"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"-o {out} names the same file as input {src}" in err and "give -o another file" in err
    assert src.read_bytes() == before


def test_convert_rejects_naming_an_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path / "in.jsonl", [GOOD, BAD])
    other = _write(tmp_path / "other.jsonl", [GOOD])
    before = other.read_bytes()
    code = main(["convert", str(src), str(other), "-o", str(tmp_path / "o.jsonl"),
                 "--on-error", "skip", "--rejects", str(other)])
    assert code == 2
    assert f"--rejects {other} names the same file as input {other}" in capsys.readouterr().err
    assert other.read_bytes() == before and not (tmp_path / "o.jsonl").exists()


def test_an_output_inside_an_input_folder_is_refused(tmp_path: Path) -> None:
    from alignkit.cli._paths import refuse_overwrites

    folder = tmp_path / "ds"  # a dataset folder, or a vicuna_reviews folder
    folder.mkdir()
    inner = _write(folder / "data.jsonl", [GOOD])
    with pytest.raises(UsageError, match="would overwrite that input"):
        refuse_overwrites([("input", folder)], [("-o", inner)])
    refuse_overwrites([("input", folder)], [("-o", folder / "new.jsonl")])  # a new file: nothing lost


def test_tokenize_input_in_the_output_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "in.jsonl", [SFT])
    out = tmp_path / "out"
    assert main(["tokenize", str(src), "-o", str(out)]) == 0
    capsys.readouterr()
    again = out / "again.jsonl"  # a file kept in an alignkit output folder, which a run replaces
    again.write_bytes(src.read_bytes())
    assert main(["tokenize", str(again), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"input {again} is in the output folder -o {out}" in err
    assert again.is_file()
    assert main(["tokenize", str(src), "-o", str(src)]) == 2
    assert f"-o {src} names the same file as input {src}" in capsys.readouterr().err


def test_recipe_output_path_naming_its_input_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pool, before = _pool(tmp_path)
    recipe = tmp_path / "r.toml"
    recipe.write_text(RECIPE + '[output]\npath = "pool.jsonl"\n')
    assert main(["recipe", "run", str(recipe), "-q"]) == 2
    err = capsys.readouterr().err
    assert "the recipe's [output] path" in err and "the recipe's input 1 (source 's')" in err
    assert pool.read_bytes() == before


@pytest.mark.parametrize("option", ["-o", "--dropped", "--report"])
def test_recipe_options_naming_an_input_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    pool, before = _pool(tmp_path)
    (tmp_path / "link.jsonl").symlink_to(pool)
    recipe = tmp_path / "r.toml"
    recipe.write_text(RECIPE)
    args = ["recipe", "run", str(recipe), "-q", "-o", str(tmp_path / "o.jsonl")]
    args += [option, str(tmp_path / "link.jsonl")] if option != "-o" else []
    if option == "-o":
        args[-1] = str(tmp_path / "link.jsonl")
    assert main(args) == 2
    assert f"{option} {tmp_path / 'link.jsonl'} names the same file as the recipe's input 1" in capsys.readouterr().err
    assert pool.read_bytes() == before


def test_recipe_outputs_must_differ(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _pool(tmp_path)
    recipe = tmp_path / "r.toml"
    recipe.write_text(RECIPE)
    out = str(tmp_path / "o.jsonl")
    assert main(["recipe", "run", str(recipe), "-q", "-o", out, "--dropped", out]) == 2
    assert "-o and --dropped name the same file" in capsys.readouterr().err
    assert not Path(out).exists()


def test_write_outputs_refuses_an_input_too(tmp_path: Path) -> None:
    pool, before = _pool(tmp_path)
    recipe = tmp_path / "r.toml"
    recipe.write_text(RECIPE)
    result = run_recipe(recipe)
    with pytest.raises(UsageError, match="would overwrite that input"):
        write_outputs(result, pool)
    assert pool.read_bytes() == before
    write_outputs(result, tmp_path / "o.jsonl")
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 1
