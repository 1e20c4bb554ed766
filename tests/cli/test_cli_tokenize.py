"""``alignkit tokenize`` and ``alignkit inspect``: exit codes, summaries, atomicity under kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alignkit.cli import main
from conftest import SAMPLE_DATA

ENC = ["--encoder", "_byte_encoder:make"]
TESTS = Path(__file__).resolve().parents[1]


def _rows(n: int, bad_line: int | None = None) -> str:
    lines = []
    for i in range(n):
        if i + 1 == bad_line:
            lines.append('{"turns": []}')
        else:
            lines.append(json.dumps({"turns": [{"role": "user", "content": f"q{i}"},
                                               {"role": "assistant", "content": f"answer {i}"}]}))
    return "\n".join(lines) + "\n"


def test_tokenize_and_inspect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(_rows(50, bad_line=7))
    out = tmp_path / "out"
    assert main(["tokenize", str(src), "-o", str(out), *ENC]) == 1
    assert "in.jsonl:7: turns: " in capsys.readouterr().err and not out.exists()
    assert main(["tokenize", str(src), "-o", str(out), "--on-error", "skip", *ENC]) == 0
    text = capsys.readouterr().out
    assert "50 records in, 49 written, 1 rejected" in text and "trained-token fraction" in text
    assert main(["tokenize", str(src), "-o", str(out), "--on-error", "skip", "--pack",
                 "--max-seq-len", "64", "--report", "json", *ENC]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["written"] == 49 and report["packing"]["row_length"] == 64
    assert main(["inspect", str(out), "--index", "0", "--color", "never"]) == 0
    shown = capsys.readouterr().out
    assert "[[answer" in shown and "<|assistant|>" in shown and "efficiency" in shown
    assert "--- example " in shown and "--- padding: " in shown
    assert main(["inspect", str(out), "--index", "999"]) == 2


def test_inspect_flags_incomplete_and_tampered_folders(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(_rows(5))
    out = tmp_path / "out"
    assert main(["tokenize", str(src), "-o", str(out), "--format", "jsonl", *ENC]) == 0
    (out / "data.jsonl").write_text("{}\n")
    assert main(["inspect", str(out)]) == 1
    (out / "manifest.json").unlink()
    assert main(["inspect", str(out)]) == 1


def test_no_files_runs_on_sample_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not (SAMPLE_DATA / "preference.jsonl").is_file():
        pytest.skip("sample_data/preference.jsonl missing")
    assert main(["tokenize", "-o", str(tmp_path / "o"), "--pack", "--max-seq-len", "4096", *ENC]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["preference", "sft"]
    assert json.loads((tmp_path / "o" / "sft" / "manifest.json").read_text())["packing"]
    manifest = json.loads((tmp_path / "o" / "preference" / "manifest.json").read_text())
    assert manifest["kind"] == "preference"
    assert manifest["inputs"][0]["path"] in ("sample_data/preference.jsonl", "preference.jsonl")


def _spawn(args: list[str], out: Path, pause: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(TESTS),
               ALIGNKIT_TEST_PAUSE_BEFORE_COMMIT=pause)
    cmd = [sys.executable, "-m", "alignkit", "tokenize", *args, "-o", str(out), *ENC]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_partial(parent: Path, proc: subprocess.Popen[bytes]) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        partial = [p for p in parent.iterdir() if ".partial-" in p.name]
        if partial and any(f.name == "rejects.jsonl" for f in partial[0].iterdir()):
            return partial[0]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("no partial folder appeared")


def test_killed_run_leaves_nothing_that_looks_complete(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(_rows(2000))
    out = tmp_path / "out"
    proc = _spawn([str(src)], out, "30")
    partial = _wait_for_partial(tmp_path, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    assert not (partial / "manifest.json").exists()  # visibly partial


def test_interrupted_run_exits_130_and_cleans_up(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(_rows(200))
    out = tmp_path / "out"
    proc = _spawn([str(src)], out, "30")
    _wait_for_partial(tmp_path, proc)
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=20)
    assert proc.stderr is not None and "alignkit: interrupted" in proc.stderr.read().decode()
    # main() returns 130. When the Ctrl-C lands in code an import runs through exec() (a
    # dataclass's __repr__, a namedtuple; ~2% of runs), CPython 3.11 marks it unhandled even
    # though it was caught, and ends ``python -m`` by SIGINT after the same cleanup: a shell
    # sees status 130 either way.
    assert code in (130, -signal.SIGINT)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(6))
def test_sigkill_at_a_random_moment_never_leaves_a_torn_output(tmp_path: Path, trial: int) -> None:
    """No pause hook: kill a real run at a random moment; OUT is absent or fully verifiable."""
    import hashlib
    import random

    src = tmp_path / "in.jsonl"
    src.write_text(_rows(20_000))
    out = tmp_path / "out"
    proc = _spawn([str(src), "--format", "npy"], out, "")
    time.sleep(random.Random(trial).uniform(0.5, 6.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # OUT, and a partial folder killed between its manifest and the final rename, hold a
    # manifest only when it is whole and every file it lists verifies.
    folders = [f for f in (out, *tmp_path.glob(".out.partial-*")) if (f / "manifest.json").exists()]
    assert out.exists() == (out in folders)  # OUT is never there without its manifest
    for folder in folders:
        manifest = json.loads((folder / "manifest.json").read_text())
        for name, entry in manifest["files"].items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == entry["sha256"]


#: sha256 of data.jsonl for the run below: pins the output bytes, so the pure and the compiled
#: build (CI runs the suite on both) must agree byte for byte.
GOLDEN_JSONL_SHA256 = "ef50cec0e0f653b81405c039aae13b2bb67872637cf5441450adc9ff896b3f2a"


def test_byte_identical_across_hash_seeds_and_builds(tmp_path: Path) -> None:
    """Two processes with different PYTHONHASHSEED give identical folders; the data bytes are pinned."""
    import hashlib

    src = tmp_path / "in.jsonl"
    src.write_text(_rows(300))
    trees = []
    for seed in ("0", "4242"):
        out = tmp_path / f"out{seed}"
        env = dict(os.environ, PYTHONPATH=str(TESTS), PYTHONHASHSEED=seed)
        subprocess.run([sys.executable, "-m", "alignkit", "tokenize", str(src), "-o", str(out),
                        "--format", "jsonl", "--pack", "--max-seq-len", "96", *ENC],
                       env=env, check=True, capture_output=True, cwd=tmp_path)
        trees.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert trees[0] == trees[1]
    digest = hashlib.sha256(trees[0]["data.jsonl"]).hexdigest()
    assert digest == GOLDEN_JSONL_SHA256


def test_inspect_decodes_characters_split_over_tokens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GPT-2 splits "’" (3 UTF-8 bytes) and emoji over several byte-level tokens;
    # inspect joins a run's bytes before decoding, so they show as themselves.
    src = tmp_path / "in.jsonl"
    turns = [{"role": "user", "content": "Don’t 🙂"}, {"role": "assistant", "content": "Café ’ 🦜"}]
    src.write_text(json.dumps({"turns": turns}) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["tokenize", str(src), "-o", str(out), "--tokenizer", "gpt2"]) == 0
    capsys.readouterr()
    assert main(["inspect", str(out), "--color", "never"]) == 0
    shown = capsys.readouterr().out
    assert "Don’t 🙂" in shown and "[[Café ’ 🦜\u27e6<|endoftext|>\u27e7]]" in shown  # ⟦special⟧
    assert "\\x" not in shown


def test_inspect_takes_a_tokenizer_when_the_named_one_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(_rows(3))
    out = tmp_path / "out"
    assert main(["tokenize", str(src), "-o", str(out), "--tokenizer", "gpt2"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["config"]["tokenizer"] = str(tmp_path / "moved-away")
    (out / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["inspect", str(out), "--color", "never"]) == 0
    shown = capsys.readouterr()
    assert "pass --tokenizer PATH" in shown.err and "<50256>" in shown.out
    assert main(["inspect", str(out), "--color", "never", "--tokenizer", "gpt2"]) == 0
    assert "\u27e6<|endoftext|>\u27e7]]" in capsys.readouterr().out


def test_command_line_run_ends_at_once_with_its_output_flushed(tmp_path: Path) -> None:
    """From the command line a finished tokenize run ends without interpreter teardown
    (``cli.quick_exit``): stdout and stderr must still arrive whole, the folder be complete,
    and an ``atexit`` hook (teardown) must not run."""
    src = tmp_path / "in.jsonl"
    src.write_text(_rows(50, bad_line=7))
    code = ("import atexit, sys\natexit.register(lambda: print('TEARDOWN', file=sys.stderr))\n"
            "from alignkit.cli import main\nsys.exit(main())\n")
    env = dict(os.environ, PYTHONPATH=str(TESTS))
    env.pop("PYTHONUNBUFFERED", None)  # stdout to a pipe is block-buffered, as usual
    proc = subprocess.run([sys.executable, "-c", code, "tokenize", str(src), "-o", str(tmp_path / "o"),
                           "--on-error", "skip", "--report", "json", *ENC],
                          env=env, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and json.loads(proc.stdout)["counts"]["written"] == 49
    assert "in.jsonl:7: rejected" in proc.stderr and "TEARDOWN" not in proc.stderr
    assert (tmp_path / "o" / "manifest.json").is_file()
    bad = subprocess.run([sys.executable, "-c", code, "tokenize", str(src), "-o", str(tmp_path / "f"), *ENC],
                         env=env, capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 1 and "TEARDOWN" in bad.stderr  # a failed run returns as before
