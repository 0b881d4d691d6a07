"""The trainer's log window: what it accumulates between two flushes of metrics.jsonl.

Every update adds its loss and its logged scalars here without a host sync: the values stay on
the device (one stacked vector per update, summed per set of log names), and the flush reads them
back in one transfer. The same flush checks that every loss of the window was finite, so a diverged
run stops at the first flush after the NaN, naming the step it came from.
"""

from __future__ import annotations

import math
import time

import torch
from torch import Tensor

from genlab.train.distributed import DistEnv


class LogWindow:
    """Losses and summed log vectors of the steps since `start` (see the module docstring)."""

    def __init__(self, start: int):
        self.reset(start)

    def reset(self, start: int) -> None:
        """Empty the window; its first step is `start` (0-based, the trainer's step count)."""
        self.start = start
        self.totals: list[Tensor] = []  # every update's loss this window (0-d, on the device) ...
        self.total_steps: list[int] = []  # ... and the step it belongs to
        self.sums: dict[tuple[str, ...], Tensor] = {}  # summed log vectors, by the updates' log names
        self.counts: dict[tuple[str, ...], float] = {}  # how many updates each sum holds
        self.t0 = time.perf_counter()

    def add_loss(self, total: Tensor, step: int) -> None:
        """Record one update's (detached) loss, for the finiteness check."""
        self.totals.append(total)
        self.total_steps.append(step)

    def accumulate(self, names: tuple[str, ...], values: Tensor, weight: float) -> None:
        """Add one update's logged values (one vector, kept on the device) to the window's sums."""
        if weight != 1:
            values = values * weight
        acc = self.sums.get(names)
        self.sums[names] = values if acc is None else acc + values
        self.counts[names] = self.counts.get(names, 0.0) + weight

    def means(self) -> dict[str, float]:
        """Each logged name's mean over the window, fetched from the device in one transfer."""
        if not self.sums:
            return {}
        flat = iter(torch.cat(list(self.sums.values())).cpu().tolist())
        sums: dict[str, float] = {}
        counts: dict[str, float] = {}
        for names, n in self.counts.items():  # same order as self.sums
            for name in names:
                sums[name] = sums.get(name, 0.0) + next(flat)
                counts[name] = counts.get(name, 0.0) + n
        return {k: sums[k] / counts[k] for k in sums}

    def non_finite(self, dist: DistEnv) -> tuple[int, list[str]] | None:
        """None if every loss of the window is finite on every rank (a collective under torchrun:
        all ranks must agree to stop); else the 1-based step of the first bad loss on this rank
        (the window's first step if the bad one was on another rank) and the log names that went
        non-finite ("loss" if none did)."""
        trace = torch.stack(self.totals).cpu() if self.totals else torch.zeros(0)
        if dist.enabled:
            finite = all(dist.gather(bool(torch.isfinite(trace).all())))
        else:
            finite = bool(torch.isfinite(trace).all())
        if finite:
            return None
        bad = (~torch.isfinite(trace)).nonzero()
        first = self.total_steps[int(bad[0])] if len(bad) else self.start
        names = [k for k, v in self.means().items() if not math.isfinite(v)] or ["loss"]
        return first + 1, names

    def elapsed(self) -> float:
        """Seconds since the window started."""
        return time.perf_counter() - self.t0


__all__ = ["LogWindow"]
