"""Reconstruction terms of the AAE, chosen by name: a per-example loss on the decoder's raw output
and the map from that output to the data space (for samples)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


class SquaredError:
    """||x - G(E(x))||^2 summed over dimensions: the lambda ||x - G(E(x))||^2 term of the VI view
    (https://kexue.fm/archives/5716), i.e. a fixed-variance Gaussian decoder."""

    def loss(self, x: Tensor, out: Tensor) -> Tensor:
        return (x - out).square().flatten(1).sum(1)

    def mean(self, out: Tensor) -> Tensor:
        return out


class Bernoulli:
    """Cross-entropy of x in [0, 1] against decoder logits, summed over dimensions."""

    def loss(self, x: Tensor, out: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(out, x, reduction="none").flatten(1).sum(1)

    def mean(self, out: Tensor) -> Tensor:
        return torch.sigmoid(out)


RECONSTRUCTIONS = {"squared_error": SquaredError, "bernoulli": Bernoulli}

__all__ = ["RECONSTRUCTIONS", "Bernoulli", "SquaredError"]
