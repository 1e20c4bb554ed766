"""A killed run leaves no worker behind: pool workers end with the process that started them.

The process-pool path of ``tokenize --num-proc N`` (gzipped inputs, plain files over the
forked-range limit) forks workers that wait on a pipe every worker also holds, so without
:func:`alignkit.bpe._parent.end_with_parent` they would wait forever once the parent is
killed, holding the input and the partial output open.
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


def test_pool_workers_end_when_the_run_is_killed(tmp_path: Path) -> None:
    src = tmp_path / "chats.jsonl.gz"  # gzipped: streamed through the process pool
    with gzip.open(src, "wt", compresslevel=1) as f:
        for i in range(60_000):
            f.write(f'{{"turns": [{{"role": "user", "content": "question {i}"}}, '
                    f'{{"role": "assistant", "content": "answer {i} is a longer reply"}}]}}\n')
    env = dict(os.environ, ALIGNKIT_CACHE_DIR="")
    run = subprocess.Popen([sys.executable, "-m", "alignkit", "tokenize", str(src), "-o", str(tmp_path / "out"),
                            "--num-proc", "2"], cwd=tmp_path, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        def started() -> bool:
            workers[:] = _children(run.pid)
            return bool(workers) or run.poll() is not None

        assert _wait(started, 60.0) and workers, "the run ended before its pool started"
        run.send_signal(signal.SIGSTOP)  # it cannot finish now: the workers are orphaned below
        run.kill()
        run.wait()
        assert _wait(lambda: not any(_alive(w) for w in workers), 10.0), (
            f"pool workers {[w for w in workers if _alive(w)]} outlived their killed parent")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for w in workers:  # a failed check leaves none behind either
            if _alive(w):
                os.kill(w, signal.SIGKILL)
    assert not (tmp_path / "out").exists()  # nothing that looks complete


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
