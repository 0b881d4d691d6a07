"""The noise-conditional score s_theta(x, sigma) ~ grad_x log q_sigma(x) of an NCSN.

NCSNv2 (Song & Ermon 2020, arXiv:2006.09011, technique 3) divides an unconditional net's output by
sigma, s(x, sigma) = f(x) / sigma, because the true score's norm grows like 1 / sigma. Here f is a
time-conditioned net (`genlab.nets.time`) that also sees the level, as NCSNv1 does with its
conditional normalisation: f(x, t) / sigma with t = log(sigma / sigma_L) / log(sigma_1 / sigma_L),
log sigma rescaled to [0, 1] (1 at the largest level, 0 at the smallest), the range genlab's time
embeddings expect. Between and beyond the training levels t is continuous in sigma.
"""

from __future__ import annotations

import math

from torch import Tensor, nn


class Flattened(nn.Module):
    """A vector net net(x (B, D), t) applied to examples of any shape (B, *shape), D = prod(shape): lets
    a time-conditioned MLP model small images (8x8 digits) at a fraction of a U-Net's cost."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        return self.net(x.flatten(1), t).view_as(x)


class NoiseConditionalScore(nn.Module):
    """forward(x (B, ...), sigma (B,)) -> (B, ...): net(x, t(sigma)) / sigma (x / sqrt(1 + sigma^2) in
    place of x with `scale_input`).

    The levels' range (sigma_1, sigma_L) is passed per call, since sigma_1 may only be known once
    the model has seen data."""

    def __init__(self, net: nn.Module, scale_input: bool = False):
        super().__init__()
        self.net, self.scale_input = net, scale_input

    @staticmethod
    def level_time(sigma: Tensor, sigma_max: float, sigma_min: float) -> Tensor:
        """log sigma rescaled to t in [0, 1] over [sigma_min, sigma_max] (0 for a single level)."""
        span = math.log(sigma_max / sigma_min)
        if span <= 0:
            return sigma.new_zeros(sigma.shape)
        return (sigma / sigma_min).log() / span

    def forward(self, x: Tensor, sigma: Tensor, sigma_max: float, sigma_min: float) -> Tensor:
        if sigma.shape != (len(x),):
            raise ValueError(f"sigma must have shape ({len(x)},), got {tuple(sigma.shape)}")
        shape = (-1, *([1] * (x.ndim - 1)))
        if self.scale_input:
            x = x / (1 + sigma.square()).sqrt().view(shape)
        out = self.net(x, self.level_time(sigma, sigma_max, sigma_min))
        return out / sigma.view(shape)


__all__ = ["Flattened", "NoiseConditionalScore"]
