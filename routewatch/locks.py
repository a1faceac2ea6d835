"""An advisory file lock with a bounded wait, shared by the embedded store and the ingest job."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

POLL_S = 0.05


@contextmanager
def file_lock(
    path: Path, timeout_s: float, on_timeout: Callable[[], Exception], waiting: Path | None = None
) -> Iterator[None]:
    """Hold an exclusive lock on ``path``; raise ``on_timeout()`` if it stays taken for ``timeout_s``.

    While it waits, a marker file named for this process stands in the ``waiting`` folder, so that the
    holder can see that someone is waiting (see ``others_waiting``) and step aside between units of work.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    marker = None
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if waiting is not None and marker is None:
                    waiting.mkdir(parents=True, exist_ok=True)
                    marker = waiting / f"{os.getpid()}-{threading.get_ident()}"
                    marker.touch()
                if time.monotonic() > deadline:
                    raise on_timeout() from None
                time.sleep(POLL_S)
        if marker is not None:
            marker.unlink(missing_ok=True)
            marker = None
        yield
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)
        os.close(fd)  # closing the descriptor releases the lock


def others_waiting(waiting: Path, *, this_process_too: bool = False) -> bool:
    """Whether a live process other than this one has a marker in ``waiting`` (or, with ``this_process_too``,
    any waiter at all: another thread of this process waiting through its own lock)."""
    if not waiting.is_dir():
        return False
    for marker in waiting.iterdir():
        pid = int(marker.name.split("-", 1)[0]) if marker.name.split("-", 1)[0].isdigit() else 0
        if pid == 0 or (pid == os.getpid() and not this_process_too):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            marker.unlink(missing_ok=True)  # left by a process that died while waiting
            continue
        except PermissionError:
            pass
        return True
    return False
