"""An exclusive lock on a run folder, so two processes never train into the same run.

The lock is `fcntl.flock` on RUN/.lock: the kernel drops it when the process exits (even on
`kill -9`), so a crashed run never leaves a stale lock. Within one process the lock is shared by
reference count (a caller may hold it around a Trainer, which takes it again). The policy built on
it (resume, overwrite, "already holds a run") is `genlab.train.run_folder`.
"""

from __future__ import annotations

import os
from pathlib import Path

from genlab.core.errors import ConfigError

LOCK = ".lock"
_held: dict[str, list[int]] = {}  # resolved run folder -> [file descriptor, reference count]


class RunLock:
    """Held from construction until `release()` (or process exit); `ConfigError` if another
    process holds it."""

    def __init__(self, run_dir: str | Path):
        run_dir = Path(run_dir)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # e.g. under /proc, or a read-only mount that os.access does not see
            raise ConfigError(f"cannot create run folder {run_dir}: {e.strerror or e}") from None
        self.key, self._released = os.path.realpath(run_dir), False
        if self.key in _held:
            _held[self.key][1] += 1
            return
        try:
            import fcntl
        except ImportError:  # no flock (Windows): no protection, as before
            _held[self.key] = [-1, 1]
            return
        fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ConfigError(f"{run_dir} is in use by another genlab process (locked {run_dir / LOCK}); "
                              "wait for it to finish or use another folder") from None
        _held[self.key] = [fd, 1]

    def release(self) -> None:
        """Drop this holder's reference; the lock is freed when the last one goes."""
        if self._released:
            return
        self._released = True
        entry = _held.get(self.key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _held[self.key]
            if entry[0] >= 0:
                os.close(entry[0])  # closing the descriptor releases the flock


__all__ = ["LOCK", "RunLock"]
