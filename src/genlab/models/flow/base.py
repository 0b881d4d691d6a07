"""The `Bijection` interface and its composition.

A normalizing flow writes a density by the change of variables: for a bijection z = f(x),
log p(x) = log p_z(f(x)) + log|det df/dx| (NICE, arXiv:1410.8516, eq. 1). Every layer here maps
data -> latent in `forward`, returning that log-determinant per example, and undoes itself in
`inverse`, which generation uses.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Bijection(nn.Module):
    """An invertible map with a tractable Jacobian determinant.

    `forward(x)` returns (y, logdet) with logdet = log|det dy/dx| of shape (batch,) in float32
    (float64 for a float64 model: see `wide`);
    `inverse(y)` returns x. Both take a batch: (B, D) vectors or (B, C, H, W) images.
    """

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - interface
        raise NotImplementedError

    def inverse(self, y: Tensor) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError


def wide(t: Tensor) -> Tensor:
    """t in float32, or float64 if it already is: log-dets are never kept in half precision."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


def sum_per_example(t: Tensor) -> Tensor:
    """Sum over every non-batch dimension, in float32 or wider (see `wide`)."""
    return wide(t).flatten(1).sum(1)


def check_channels(x: Tensor, channels: int, layer: str) -> None:
    """A clear error instead of a deep broadcasting traceback when a layer gets the wrong input."""
    if x.dim() not in (2, 4) or x.shape[1] != channels:
        raise ValueError(
            f"{layer} expects a batch (B, {channels}) or (B, {channels}, H, W), "
            f"got shape {tuple(x.shape)}"
        )


class FlowSequence(Bijection):
    """Bijections applied in order; log-dets add (the chain rule for determinants)."""

    def __init__(self, layers: list[Bijection] | None = None):
        super().__init__()
        self.layers = nn.ModuleList(layers or [])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        total = wide(x.new_zeros(x.shape[0]))
        for layer in self.layers:
            x, logdet = layer(x)
            total = total + logdet
        return x, total

    def inverse(self, y: Tensor) -> Tensor:
        for layer in reversed(self.layers):
            y = layer.inverse(y)
        return y

    def __len__(self) -> int:
        return len(self.layers)
