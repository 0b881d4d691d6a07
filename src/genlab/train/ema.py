"""Exponential moving average of weights (Polyak averaging) for one parameter group."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn


class EMA:
    """shadow <- d * shadow + (1 - d) * param after every optimizer step of the group.

    d = min(decay, (1 + n) / (10 + n)) after n updates, the warm-up of TensorFlow's
    ExponentialMovingAverage(num_updates=n): without it a run shorter than ~1 / (1 - decay) steps
    would be averaged mostly with its untrained initial weights.
    """

    def __init__(self, params: list[nn.Parameter], decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.params, self.decay, self.updates = params, decay, 0
        self.shadow = [p.detach().clone() for p in params]

    @torch.no_grad()
    def update(self) -> None:
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self.shadow, self.params, 1.0 - d)  # under no_grad: no detach needed
        self.updates += 1

    @contextmanager
    @torch.no_grad()
    def applied(self) -> Iterator[None]:
        """Temporarily load the averaged weights into the parameters."""
        backup = [p.detach().clone() for p in self.params]
        for p, s in zip(self.params, self.shadow):
            p.copy_(s)
        try:
            yield
        finally:
            for p, b in zip(self.params, backup):
                p.copy_(b)

    def state_dict(self) -> dict[str, Any]:
        return {"shadow": [s.clone() for s in self.shadow], "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for s, v in zip(self.shadow, state["shadow"]):
            s.copy_(v)
        self.updates = int(state["updates"])
