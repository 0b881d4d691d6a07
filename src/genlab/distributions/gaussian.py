"""Gaussian log-densities shared by the families (VAE encoders/decoders, flow priors)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

LOG_2PI = math.log(2 * math.pi)


def normal_log_prob(x: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """Elementwise log N(x; mean, exp(log_std)^2)."""
    return -0.5 * ((x - mean) * torch.exp(-log_std)) ** 2 - log_std - 0.5 * LOG_2PI


def std_normal_log_prob(eps: Tensor) -> Tensor:
    """Per-example log N(eps; 0, I) summed over all but the first dimension, in float32 or wider."""
    eps = eps.to(torch.promote_types(eps.dtype, torch.float32))
    return -0.5 * (eps**2).flatten(1).sum(1) - 0.5 * LOG_2PI * eps[0].numel()


def kl_std_normal(mean: Tensor, log_var: Tensor) -> Tensor:
    """Elementwise KL(N(mean, exp(log_var)) || N(0, 1)) = 1/2 (mean^2 + var - 1 - log_var), in nats;
    sum over dimensions for the KL of a diagonal Gaussian (Kingma & Welling, arXiv:1312.6114, app. B)."""
    return 0.5 * (mean.square() + log_var.exp() - 1 - log_var)
