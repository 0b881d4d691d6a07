"""Run logging: reading and cutting metrics.jsonl (written by `genlab.train.loggers.jsonl`), and the
terminal progress line."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any


def _records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(line, record) for every readable line; a torn line (a kill during a write) is skipped."""
    out = []
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append((line, record))
    return out


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl (unreadable lines skipped); [] if there is none."""
    if not path.is_file():
        return []
    return [r for _, r in _records(path)]


def cut_metrics(path: Path, step: int) -> int:
    """Drop records past `step` and unreadable lines (a resume replays those steps); the file is
    replaced atomically. Returns how many lines were dropped."""
    if not path.is_file():
        return 0
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    keep = [line for line, r in _records(path) if not isinstance(r.get("step"), (int, float))
            or r["step"] <= step]
    dropped = sum(1 for line in lines if line.strip()) - len(keep)
    if dropped:
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with open(tmp, "w") as f:
            f.write("".join(line + "\n" for line in keep))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    return dropped


class Progress:
    """One status line: step, steps/s, losses and ETA (redrawn on a terminal, else one per log).

    `start` is the step training (re)starts from: the rate is measured from there and the
    construction time, so the first update already shows it. On a terminal the line is redrawn in
    place and cut to the terminal width (at most 80 columns) so it never wraps.
    """

    WIDTH = 80

    def __init__(self, total: int, enabled: bool = True, stream=None, start: int | None = None):
        self.total, self.enabled = total, enabled
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._t0, self._s0 = time.perf_counter(), start

    def update(self, step: int, scalars: dict[str, float]) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if self._s0 is None:
            self._t0, self._s0 = now, step
            rate = 0.0
        else:
            rate = (step - self._s0) / max(now - self._t0, 1e-9)
        eta = (self.total - step) / rate if rate > 0 else float("nan")
        shown = " ".join(f"{k}={v:.4g}" for k, v in list(scalars.items())[:4])
        line = f"{step}/{self.total} {rate:.3g} it/s ETA {_fmt(eta)} | {shown}"
        if self.tty:
            # one column short of the width: writing the last column makes some terminals wrap
            width = min(shutil.get_terminal_size((self.WIDTH, 24)).columns, self.WIDTH) - 1
            self.stream.write("\r" + line[:width].ljust(width))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")


def _fmt(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "?"
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}"
