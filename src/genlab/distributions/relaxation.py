"""Differentiable stand-ins for noise-argmax samples: Gumbel-softmax and its straight-through form.

Gumbel-softmax / Concrete (Jang, Gu & Poole, arXiv:1611.01144; Maddison, Mnih & Teh,
arXiv:1611.00712) replaces the one-hot of argmax(logits + g) by softmax((logits + g) / tau), which
tends to that one-hot as tau -> 0. The straight-through variant returns the exact one-hot forward
and the soft sample's gradient backward. Other noise laws give the same relaxation of their own
argmax sampler (https://kexue.fm/archives/9085).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.distributions.sampling import perturb_logits


def straight_through(soft: Tensor) -> Tensor:
    """One-hot of argmax(soft) over the last axis forward; identity gradient to `soft` backward.

    Example:
        >>> soft = torch.tensor([0.2, 0.7, 0.1], requires_grad=True)
        >>> hard = straight_through(soft)
        >>> (hard * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
        >>> hard.detach(), soft.grad  # one-hot forward, the soft sample's gradient backward
        (tensor([0., 1., 0.]), tensor([1., 2., 3.]))
    """
    hard = F.one_hot(soft.argmax(dim=-1), soft.shape[-1]).to(soft.dtype)
    # (soft - soft.detach()) is exactly 0, so the forward value is exactly the one-hot; writing
    # hard - soft.detach() + soft instead can round to values like 0.99999994.
    return hard + (soft - soft.detach())


def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, noise: str | Any = "gumbel",
                   generator: torch.Generator | None = None) -> Tensor:
    """softmax((logits + noise) / tau) over the last axis; `hard` makes it straight-through one-hot.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = gumbel_softmax(torch.zeros(4, 3), tau=0.5, generator=g)
        >>> y.shape, torch.allclose(y.sum(-1), torch.ones(4))
        (torch.Size([4, 3]), True)
        >>> gumbel_softmax(torch.zeros(2, 3), hard=True, generator=g).sum(-1)  # one-hot rows
        tensor([1., 1.])
    """
    if not (isinstance(tau, (int, float)) and tau > 0 and tau != float("inf")):
        raise ValueError(f"tau must be a finite number > 0, got {tau!r}")
    soft = torch.softmax(perturb_logits(logits, noise, generator=generator) / tau, dim=-1)
    return straight_through(soft) if hard else soft
