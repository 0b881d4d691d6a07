"""Lipschitz penalties and weight clipping for a critic (real scored high; see objectives.py).

* gradient penalty on random real/fake interpolates, two-sided (Gulrajani et al. 2017,
  arXiv:1704.00028, eq. 3) or one-sided (penalise only norms above 1; Petzka et al. 2018,
  arXiv:1709.08894; https://kexue.fm/archives/4439 and /6051);
* the gradient-free finite-difference variant of https://kexue.fm/archives/4439: the slope
  |D(y1) - D(y2)| / ||y1 - y2|| between two points on the same real-fake segment;
* R1 on real data (Mescheder et al. 2018, arXiv:1801.04406, eq. 9);
* weight clipping (Arjovsky et al. 2017, arXiv:1701.07875, Algorithm 1).

Norms are per example over all non-batch dimensions. The penalties take the critic *inputs*
detached: they constrain the critic, never move the generator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.core.errors import ConfigError
from genlab.regularizers.gradient_penalty import input_gradient_norm

ScoreFn = Callable[[Tensor], Tensor]  # (B, ...) inputs -> (B,) critic scores
PenaltyName = Literal["none", "gp", "fd"]  # "none", or a key of INTERPOLATE_PENALTIES
PenaltyMode = Literal["two_sided", "one_sided"]
MODES: tuple[PenaltyMode, ...] = ("two_sided", "one_sided")
_TINY = 1e-12  # inside square roots: keeps the norm differentiable where the gradient vanishes


def _per_example(x: Tensor, like: Tensor) -> Tensor:
    """Broadcastable (B, 1, ..., 1) view of a per-example vector."""
    return x.view(-1, *([1] * (like.ndim - 1)))


def _deviation(value: Tensor, mode: str, power: float) -> Tensor:
    """mean |value - 1|^power (two-sided) or mean relu(value - 1)^power (one-sided)."""
    if mode == "two_sided":
        if power == 2:  # |d|^2 = d^2: no abs (and no sign in the backward pass)
            return (value - 1).square().mean()
        dev = (value - 1).abs()
    elif mode == "one_sided":
        dev = F.relu(value - 1)
    else:
        raise ConfigError(f"unknown penalty mode {mode!r}; choose one of: {', '.join(MODES)}")
    return dev.square().mean() if power == 2 else dev.pow(power).mean()


def _interpolate(real: Tensor, fake: Tensor) -> Tensor:
    """eps real + (1 - eps) fake with eps ~ U[0, 1] per example (one lerp kernel)."""
    eps = _per_example(torch.rand(real.shape[0], device=real.device, dtype=real.dtype), real)
    return torch.lerp(fake, real, eps)


def gradient_penalty(critic: ScoreFn, real: Tensor, fake: Tensor, mode: str = "two_sided",
                     power: float = 2.0) -> Tensor:
    """E (||grad D(x_hat)|| - 1)^2 with x_hat = eps real + (1 - eps) fake, eps ~ U[0, 1] per example.

    `one_sided` penalises only norms above 1; `power=1` with `one_sided` is the unsquared hinge of
    Su's reference code. Multiply by the weight (lambda = 10 in the WGAN-GP paper) yourself.
    """
    # input_gradient_norm detaches the interpolates, so the penalty never reaches what made real
    # or fake (the generator): no need to detach them first.
    return _deviation(input_gradient_norm(critic, _interpolate(real, fake)), mode, power)


def r1_penalty(critic: ScoreFn, real: Tensor) -> Tensor:
    """R1 = 1/2 E_real ||grad_x D(x)||^2 (the weight is gamma of arXiv:1801.04406 eq. 9)."""
    return 0.5 * input_gradient_norm(critic, real).square().mean()


def finite_difference_ratio(critic: ScoreFn, y1: Tensor, y2: Tensor) -> Tensor:
    """Per-example slope |D(y1) - D(y2)| / ||y1 - y2||: a gradient-free Lipschitz estimate."""
    diff = (critic(y1) - critic(y2)).flatten().abs()
    dist = ((y1 - y2).flatten(1).square().sum(1) + _TINY).sqrt()
    return diff / dist


def finite_difference_penalty(critic: ScoreFn, real: Tensor, fake: Tensor, mode: str = "two_sided",
                              power: float = 2.0) -> Tensor:
    """E (r - 1)^2 (or one-sided) for r the slope between two random points y1, y2 on each
    real-fake segment (https://kexue.fm/archives/4439, "gradient-free" penalty)."""
    real, fake = real.detach(), fake.detach()
    y1, y2 = _interpolate(real, fake), _interpolate(real, fake)
    return _deviation(finite_difference_ratio(critic, y1, y2), mode, power)


@torch.no_grad()
def clip_weights_(module: nn.Module, c: float) -> None:
    """Clamp every parameter of `module` to [-c, c] in place (WGAN weight clipping)."""
    for p in module.parameters():
        p.clamp_(-c, c)


# name -> penalty(critic, real, fake, mode, power) on real/fake interpolates
INTERPOLATE_PENALTIES: dict[str, Callable[..., Tensor]] = {
    "gp": gradient_penalty, "fd": finite_difference_penalty}

__all__ = ["INTERPOLATE_PENALTIES", "MODES", "PenaltyMode", "PenaltyName", "ScoreFn", "clip_weights_",
           "finite_difference_penalty", "finite_difference_ratio", "gradient_penalty",
           "input_gradient_norm", "r1_penalty"]
