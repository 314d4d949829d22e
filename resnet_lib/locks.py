"""One lock file per run, so that one process at a time trains a config (RunStore): an exclusive
`fcntl.flock` on `<store>/.locks/<run_id>.lock`.

The standard library's call, so that the campaign runs from the source tree on a machine with
torch and numpy only (the lent GPU machines have no `filelock` package; filelock's Unix lock is
this same call). The kernel drops the lock when its process dies, so a killed trainer leaves no
stale lock behind; the file itself stays and is reused. Two opens of the file conflict even
within one process, as two processes do.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class RunLock:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock, waiting for its holder if `blocking`; False if not blocking and held."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def held_elsewhere(self) -> bool:
        """True while another holder (process, or another RunLock here) has the lock."""
        if not self.path.exists():
            return False
        if not self.acquire(blocking=False):
            return True
        self.release()
        return False

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
