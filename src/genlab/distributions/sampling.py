"""Exact sampling from a noise-argmax distribution: perturb the logits and take the argmax.

The sample law is exactly `noise_argmax_probs(logits, noise)` (https://kexue.fm/archives/9085); with
Gumbel noise it is softmax(logits), the Gumbel-max trick. Noise is drawn by inverse-transform
sampling from a seedable `torch.Generator`, so any law with an `icdf` works.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genlab.distributions.logits import check_logits
from genlab.distributions.noise import resolve_noise


def perturb_logits(logits: Tensor, noise: str | Any = "gumbel", sample_shape: tuple[int, ...] = (),
                   generator: torch.Generator | None = None) -> Tensor:
    """logits + i.i.d. noise, shape `sample_shape + logits.shape`, on the device/dtype of `logits`.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> perturb_logits(torch.zeros(3), "gumbel", sample_shape=(5,), generator=g).shape
        torch.Size([5, 3])
        >>> noisy = perturb_logits(torch.zeros(100_000), "gumbel", generator=g)
        >>> round(noisy.mean().item(), 2)  # the Gumbel mean, Euler's constant 0.5772
        0.58
    """
    check_logits(logits)
    law = resolve_noise(noise)
    shape = tuple(sample_shape) + tuple(logits.shape)
    u = torch.rand(shape, generator=generator, dtype=logits.dtype, device=logits.device)
    # torch.rand can return exactly 0, whose quantile is -inf for unbounded noise.
    u = u.clamp_min(torch.finfo(logits.dtype).tiny)
    return logits + law.icdf(u)


def sample_noise_argmax(logits: Tensor, noise: str | Any = "gaussian", sample_shape: tuple[int, ...] = (),
                        generator: torch.Generator | None = None) -> Tensor:
    """Category indices argmax(logits + noise), shape `sample_shape + logits.shape[:-1]` (int64).

    Example:
        >>> logits = torch.tensor([2.0, 1.0, 0.0])
        >>> s = sample_noise_argmax(logits, "gumbel", (100_000,), torch.Generator().manual_seed(0))
        >>> torch.allclose(torch.bincount(s) / 1e5, logits.softmax(-1), atol=0.01)  # the Gumbel-max trick
        True
    """
    return perturb_logits(logits, noise, sample_shape, generator).argmax(dim=-1)
