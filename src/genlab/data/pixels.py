"""Explicit maps from stored discrete pixels to model inputs, with their log-Jacobians.

Stored images are integers in {0, ..., L-1} (L = 256 for 8-bit data, 17 for sklearn's digits).
`Pixels` turns them into model inputs and knows the correction that makes a model's continuous
log-density a bound on the discrete log-probability (Theis et al. 2016, "A note on the evaluation of
generative models"; RealNVP, arXiv:1605.08803, for the logit transform):

    y = (x + u) / L,  u ~ U[0, 1)^D          (uniform dequantization)
    z = g(y)                                  (range scaling or logit, a bijection)
    log P(x) >= E_u[ log p(z) + log|det dz/dy| ] - D log L

`log_jacobian(z)` returns the last two terms, so every likelihood model reports bits/dim the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.core.checks import choice
from genlab.core.errors import ConfigError

MODES = ("dequantize", "binarize", "scale")
RANGES = ("unit", "symmetric")


@dataclass(frozen=True)
class Pixels:
    levels: int
    mode: str = "dequantize"
    range: str = "unit"
    logit_alpha: float | None = None

    def __post_init__(self) -> None:
        choice(self.mode, MODES, "data.pixels")
        choice(self.range, RANGES, "data.range")
        if self.mode == "binarize" and (self.range != "unit" or self.logit_alpha is not None):
            raise ConfigError("data.pixels=binarize gives {0, 1} values: use range=unit, no logit")
        if self.logit_alpha is not None and not 0 <= self.logit_alpha < 0.5:
            raise ConfigError("data.logit_alpha must be in [0, 0.5)")

    @property
    def discrete(self) -> bool:
        """True when model inputs are the discrete values themselves (binarized)."""
        return self.mode == "binarize"

    @property
    def gives_likelihood(self) -> bool:
        """Whether log p(z) + log_jacobian(z) bounds log P(x); plain scaling gives no bound."""
        return self.mode != "scale"

    def __call__(self, x: Tensor) -> Tensor:
        """Stored integers -> model inputs (float32, on x's device). Uses the global RNG."""
        x = x.float()
        if self.mode == "binarize":
            return torch.bernoulli(x / (self.levels - 1))
        if self.mode == "dequantize":
            y = (x + torch.rand_like(x)) / self.levels
        else:
            y = x / (self.levels - 1)
        return self._from_unit(y)

    def _from_unit(self, y: Tensor) -> Tensor:
        if self.logit_alpha is not None:
            return torch.logit(self.logit_alpha + (1 - 2 * self.logit_alpha) * y)
        return 2 * y - 1 if self.range == "symmetric" else y

    def to_unit(self, z: Tensor) -> Tensor:
        """Model inputs (or samples) -> [0, 1] for display."""
        if self.logit_alpha is not None:
            z = (torch.sigmoid(z) - self.logit_alpha) / (1 - 2 * self.logit_alpha)
        elif self.range == "symmetric":
            z = (z + 1) / 2
        return z.clamp(0, 1)

    def log_jacobian(self, z: Tensor) -> Tensor:
        """Per-example log|det dz/dy| - D log L (nats); 0 for binarized data.

        Add it to a model's log-density of z to get a lower bound on the log-probability of the
        stored discrete image (exact for a discrete model of binarized data).
        """
        if not self.gives_likelihood:
            raise ConfigError("data.pixels=scale adds no dequantization noise: no likelihood bound")
        n = z[0].numel()
        if self.discrete:
            return z.new_zeros(z.shape[0])
        out = z.new_full((z.shape[0],), -n * math.log(self.levels))
        if self.logit_alpha is not None:
            # z = logit(s), s = a + (1 - 2a) y: dz/dy = (1 - 2a) / (s (1 - s)); -log s = softplus(-z).
            per_dim = math.log(1 - 2 * self.logit_alpha) + F.softplus(z) + F.softplus(-z)
            out = out + per_dim.flatten(1).sum(1)
        elif self.range == "symmetric":
            out = out + n * math.log(2.0)
        return out
