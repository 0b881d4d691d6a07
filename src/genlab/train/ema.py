"""Exponential moving average of weights (Polyak averaging) for one parameter group."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn


class EMA:
    """shadow <- decay * shadow + (1 - decay) * param after every optimizer step of the group."""

    def __init__(self, params: list[nn.Parameter], decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.params, self.decay = params, decay
        self.shadow = [p.detach().clone() for p in params]

    @torch.no_grad()
    def update(self) -> None:
        torch._foreach_lerp_(self.shadow, [p.detach() for p in self.params], 1.0 - self.decay)

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

    def state_dict(self) -> list[Tensor]:
        return [s.clone() for s in self.shadow]

    def load_state_dict(self, state: list[Tensor]) -> None:
        for s, v in zip(self.shadow, state):
            s.copy_(v)
