"""A killed run leaves no worker behind: pool workers end with the process that started them.

The process pools of ``tokenize --num-proc N`` (gzipped inputs, plain files over the
forked-range limit), ``train-tokenizer --num-proc N`` and ``Tokenizer.encode_batch(num_proc=N)``
fork workers that wait on a pipe every worker also holds, so without
:func:`alignkit.bpe._parent.end_with_parent` they would wait forever once the parent is
killed, holding their files open.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alignkit.bpe._parent import end_with_parent

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists() or not hasattr(os, "fork"),
                                reason="needs fork and /proc (Linux) to find a process's children")


def _state_and_parent(pid: int) -> tuple[str, int] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
    return fields[0], int(fields[1])


def _children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _state_and_parent(int(entry))
            if info is not None and info[1] == parent:
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    info = _state_and_parent(pid)
    return info is not None and info[0] not in ("Z", "X")  # a zombie has ended


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def _workers_outlive_a_killed_parent(cmd: list[str], cwd: Path) -> list[int]:
    """Start ``cmd``, wait for its first child processes, stop and kill it; the children
    still alive 10 s later (none, when they end with their parent)."""
    env = dict(os.environ, ALIGNKIT_CACHE_DIR="")
    run = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        def started() -> bool:
            workers[:] = _children(run.pid)
            return bool(workers) or run.poll() is not None

        assert _wait(started, 60.0) and workers, "the run ended before its pool started"
        run.send_signal(signal.SIGSTOP)  # it cannot finish now: the workers are orphaned below
        run.kill()
        run.wait()
        _wait(lambda: not any(_alive(w) for w in workers), 10.0)
        return [w for w in workers if _alive(w)]
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for w in workers:  # a failed check leaves none behind either
            if _alive(w):
                os.kill(w, signal.SIGKILL)


def test_tokenize_pool_workers_end_when_the_run_is_killed(tmp_path: Path) -> None:
    src = tmp_path / "chats.jsonl.gz"  # gzipped: streamed through the process pool
    with gzip.open(src, "wt", compresslevel=1) as f:
        for i in range(60_000):
            f.write(f'{{"turns": [{{"role": "user", "content": "question {i}"}}, '
                    f'{{"role": "assistant", "content": "answer {i} is a longer reply"}}]}}\n')
    cmd = [sys.executable, "-m", "alignkit", "tokenize", str(src), "-o", str(tmp_path / "out"), "--num-proc", "2"]
    assert _workers_outlive_a_killed_parent(cmd, tmp_path) == []
    assert not (tmp_path / "out").exists()  # nothing that looks complete


def _corpus(path: Path, mb: int) -> None:
    line = "The quick brown fox jumps over the lazy dog, again and again; 12345 times.\n"
    path.write_text(line * (mb * 2**20 // len(line) + 1))


def test_train_tokenizer_pool_workers_end_when_the_run_is_killed(tmp_path: Path) -> None:
    _corpus(tmp_path / "corpus.txt", 6)  # over the 4 MiB below which one process counts
    cmd = [sys.executable, "-m", "alignkit", "train-tokenizer", str(tmp_path / "corpus.txt"), "--vocab-size", "300",
           "-o", str(tmp_path / "tok.json"), "--num-proc", "2"]
    assert _workers_outlive_a_killed_parent(cmd, tmp_path) == []


def test_encode_batch_pool_workers_end_when_the_caller_is_killed(tmp_path: Path) -> None:
    script = ("from alignkit.bpe import load_tokenizer\n"
              "tok = load_tokenizer()\n"
              "texts = [f'text number {i} ' * 40 for i in range(40_000)]\n"
              "tok.encode_batch(texts, num_proc=2)\n")
    assert _workers_outlive_a_killed_parent([sys.executable, "-c", script], tmp_path) == []


def test_end_with_parent_exits_when_the_parent_is_already_gone() -> None:
    """A worker whose parent died before its initializer ran ends at once."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            end_with_parent(os.getppid() + 10**7)  # not its parent: as if reparented already
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 137
