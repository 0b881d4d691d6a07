"""Gaussian log-densities shared by the families (VAE encoders/decoders, flow priors)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

LOG_2PI = math.log(2 * math.pi)


def normal_log_prob(x: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """Elementwise log N(x; mean, exp(log_std)^2).

    Example:
        >>> x = torch.tensor([-1.0, 0.0, 2.5])
        >>> lp = normal_log_prob(x, torch.tensor(1.0), torch.tensor(2.0).log())
        >>> torch.allclose(lp, torch.distributions.Normal(1.0, 2.0).log_prob(x))
        True
    """
    return -0.5 * ((x - mean) * torch.exp(-log_std)) ** 2 - log_std - 0.5 * LOG_2PI


def std_normal_log_prob(eps: Tensor) -> Tensor:
    """Per-example log N(eps; 0, I) summed over all but the first dimension, in float32 or wider.

    Example:
        >>> eps = torch.randn(4, 2, 3, generator=torch.Generator().manual_seed(0))
        >>> reference = torch.distributions.Normal(0.0, 1.0).log_prob(eps).sum((1, 2))
        >>> std_normal_log_prob(eps).shape, torch.allclose(std_normal_log_prob(eps), reference)
        (torch.Size([4]), True)
    """
    eps = eps.to(torch.promote_types(eps.dtype, torch.float32))
    return -0.5 * (eps**2).flatten(1).sum(1) - 0.5 * LOG_2PI * eps[0].numel()


def kl_std_normal(mean: Tensor, log_var: Tensor) -> Tensor:
    """Elementwise KL(N(mean, exp(log_var)) || N(0, 1)) = 1/2 (mean^2 + var - 1 - log_var), in nats;
    sum over dimensions for the KL of a diagonal Gaussian (Kingma & Welling, arXiv:1312.6114, app. B).

    Example:
        >>> from torch.distributions import Normal, kl_divergence
        >>> mean, log_var = torch.tensor([0.5, -1.0]), torch.tensor([0.3, -2.0])
        >>> exact = kl_divergence(Normal(mean, (0.5 * log_var).exp()), Normal(0.0, 1.0))
        >>> torch.allclose(kl_std_normal(mean, log_var), exact)
        True
    """
    return 0.5 * (mean.square() + log_var.exp() - 1 - log_var)
