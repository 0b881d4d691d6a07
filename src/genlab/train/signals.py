"""Graceful stops: SIGINT (Ctrl-C) and SIGTERM (schedulers, `docker stop`) end training at a step
boundary with a checkpoint.

Stopping mid-step would checkpoint the weights of step k beside the data position and random
state of step k+1, and resume would no longer be exact. So the handler only records the request;
the trainer checks it between steps (all ranks agree on the step), saves, and raises
`TrainingInterrupted`. A third Ctrl-C raises KeyboardInterrupt at once, for a step that hangs
(torchrun forwards the terminal's SIGINT, so a worker may see two from one key press).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

FORCE_AFTER = 3  # Ctrl-C presses that abandon the current step


class StopRequests:
    """Context manager recording SIGINT/SIGTERM in `signum` instead of raising (main thread only)."""

    def __init__(self) -> None:
        self.signum = 0
        self._presses = 0
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._previous[s] = signal.signal(s, self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.signum = self.signum or signum
        if signum == signal.SIGINT:
            self._presses += 1
            if self._presses >= FORCE_AFTER:
                raise KeyboardInterrupt
