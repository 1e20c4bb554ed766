"""Pool workers that end when the process that started them ends.

A worker of a forked process pool (``ProcessPoolExecutor`` with ``fork``) waits for tasks on
a pipe whose write end every forked worker inherits, so when the parent is killed (``kill
-9``, the system's out-of-memory killer) the pipe never reaches end-of-file and the
worker would wait forever, holding the input and the partial output open. Each pool's
initializer calls :func:`end_with_parent` first: a daemon thread looks at the parent
process id twice a second and ends the worker (``os._exit``) once it has changed (the
worker was handed to another process). It is portable (no ``prctl``) and does not depend
on which thread started the pool; a worker busy encoding lets it run at the interpreter's
next thread switch (5 ms).
"""

from __future__ import annotations

import os
import threading
import time

#: Seconds between looks at the parent process id.
_PERIOD = 0.5
#: Exit status of a worker whose parent is gone (as a process killed by SIGKILL reports).
_ORPHANED = 137


def end_with_parent(parent: int) -> None:
    """End this process, within about ``_PERIOD`` seconds, once process ``parent`` is gone.

    Args:
        parent: the process id of the pool's owner, taken there before the pool starts
            (``os.getpid()``), so that a parent that dies before this call is noticed too.
    """
    if os.getppid() != parent:
        os._exit(_ORPHANED)
    watch = threading.Thread(target=_watch, args=(parent,), name="alignkit-parent-watch", daemon=True)
    watch.start()


def _watch(parent: int) -> None:  # pragma: no cover - runs in pool workers
    while True:
        time.sleep(_PERIOD)
        if os.getppid() != parent:
            os._exit(_ORPHANED)
