"""Critic wrapper that returns one score per example, shape (B,)."""

from __future__ import annotations

from torch import Tensor, nn


class Scores(nn.Module):
    """Flattens a critic head's (B, 1) output to (B,); the wrapped net is `body` (state_dict prefix)."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).flatten()
