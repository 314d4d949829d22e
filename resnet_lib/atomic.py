"""Atomic writes: a reader sees the old file or the new one, never half of either.

Each write goes to a temporary file in the same folder, is flushed to disk, and is renamed over
the target (`os.replace` is atomic on POSIX and Windows within one file system).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sys
import tempfile
import time
from glob import escape as glob_escape
from pathlib import Path

import torch


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_PLAIN = {errno.ENOSPC: "no space is left on the disk", errno.EROFS: "the file system is read-only",
          errno.EACCES: "permission denied", errno.EDQUOT: "the disk quota is exceeded"}


# A temporary without a process id in its name (written by versions before 2026-11-26) is taken
# as abandoned once it is this old: no write takes an hour.
STALE_SECONDS = 3600


def _plain(e: OSError) -> str:
    return _PLAIN.get(e.errno, e.strerror or str(e))


def _remove_stale_temporaries(path: Path) -> None:
    """Temporary files that killed writers of `path` left behind (their process is gone)."""
    for tmp in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        m = re.match(rf"^\.{re.escape(path.name)}\.(\d+)\.", tmp.name)
        if m:
            if not _alive(int(m.group(1))):
                tmp.unlink(missing_ok=True)
        elif time.time() - tmp.stat().st_mtime > STALE_SECONDS:
            tmp.unlink(missing_ok=True)  # written before temporaries carried a process id


def _atomic(path: Path, write) -> None:
    """Write via a temporary file named with this process's id. A failure names the file and
    the cause in plain words (a full disk, a read-only file system) and leaves no temporary."""
    path, tmp = Path(path), None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                                   dir=path.parent)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise OSError(e.errno, f"could not write {path}: {_plain(e)}") from e
        if isinstance(e, RuntimeError):  # torch's zip writer: "enforce fail ... unexpected pos"
            free = shutil.disk_usage(path.parent).free
            raise OSError(errno.EIO, f"could not write {path}: {e} ({free:,} bytes free on its "
                          "disk: it may be full)") from e
        raise


def write_bytes(path: Path, data: bytes) -> None:
    _atomic(path, lambda f: f.write(data))


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode())


def write_json(path: Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def torch_save(path: Path, obj) -> None:
    _atomic(path, lambda f: torch.save(obj, f))


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 with RENAME_EXCHANGE): a reader sees one
    folder or the other, never neither. False where the system cannot do it."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2  # <fcntl.h>, <linux/fs.h>
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, f"could not publish {b}: {os.strerror(err)}")


def publish_dir(staging: Path, final: Path) -> bool:
    """Move a fully written folder into place; return whether ours is the one in place.

    A folder already at `final` is replaced: exchanged with the new one in one step where the
    system allows it (Linux), so a reader never finds it missing; elsewhere it is swapped out
    first. The old folder is deleted after the new one is in place. Where there was no folder
    and another process publishes one at the same moment, the first stays and ours is
    discarded (both are complete). The run store's lock keeps two processes from training, and
    so publishing, one run at the same time."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists() and _exchange(staging, final):
        shutil.rmtree(staging, ignore_errors=True)  # it holds the old folder now
        return True
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    try:
        os.replace(staging, final)
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not final.exists():
            raise
        shutil.rmtree(staging, ignore_errors=True)  # another process won the race
        published = False
    else:
        published = True
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return published


def staging_dir(final: Path) -> Path:
    """A fresh hidden folder beside `final`, to be filled and then published. Its name holds
    this process's id, so `remove_leftovers` can tell a crashed writer's folder from a live one."""
    final.parent.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix=f".{final.name}.staging-{os.getpid()}-", dir=final.parent))
    os.chmod(d, 0o777 & ~_umask())  # mkdtemp makes 0700; a published run gets the usual mode
    return d


_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>staging|old)-(?P<pid>\d+)(-.*)?$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers(parent: Path) -> list[str]:
    """Tidy the hidden folders that writers killed mid-publish leave in `parent`: unfinished
    staging folders are deleted; a swapped-out old folder is put back if nothing replaced it
    (the writer died between the two renames), else deleted. Folders of live processes are
    left alone. Returns what was done, one line each."""
    done = []
    if not Path(parent).is_dir():
        return done
    for d in sorted(Path(parent).iterdir()):
        m = _LEFTOVER.match(d.name)
        if not m or not d.is_dir() or _alive(int(m["pid"])):
            continue
        final = d.with_name(m["name"])
        if m["kind"] == "old" and not final.exists():
            os.replace(d, final)
            done.append(f"restored {final.name} from {d.name}")
        else:
            shutil.rmtree(d, ignore_errors=True)
            done.append(f"removed {d.name}")
    return done
