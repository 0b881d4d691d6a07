"""Momentum and Nesterov as discretisations of damped motion, theta'' + lam * theta' = -grad L.

https://kexue.fm/archives/5655. Leapfrog with time step gamma gives heavy-ball momentum with
lr = gamma^2 / (1 + lam*gamma/2) and beta = (1 - lam*gamma/2) / (1 + lam*gamma/2).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Literal

import torch
from torch.optim import Optimizer

from genlab.optim.wrapper import Closure

Nesterov = Literal["standard", "half"] | None


def damped_to_momentum(gamma: float, lam: float) -> tuple[float, float]:
    """(time step gamma, friction lam) -> (lr, beta) of the leapfrog discretisation.

    Example:
        >>> lr, beta = damped_to_momentum(gamma=0.1, lam=2.0)  # gamma^2 / 1.1 and 0.9 / 1.1
        >>> round(lr, 6), round(beta, 6)
        (0.009091, 0.818182)
    """
    if not gamma > 0.0:
        raise ValueError(f"gamma must be > 0, got {gamma!r}")
    if not 0.0 <= lam * gamma < 2.0:
        raise ValueError(f"lam * gamma must be in [0, 2) so that beta is in (0, 1], got {lam * gamma!r}")
    half = lam * gamma / 2
    return gamma**2 / (1 + half), (1 - half) / (1 + half)


def momentum_to_damped(lr: float, beta: float) -> tuple[float, float]:
    """(lr, beta) -> (gamma, lam); the inverse of `damped_to_momentum`.

    Example:
        >>> gamma, lam = momentum_to_damped(lr=0.01, beta=0.9)
        >>> [round(v, 6) for v in damped_to_momentum(gamma, lam)]  # the round trip
        [0.01, 0.9]
    """
    if not lr > 0.0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if not 0.0 < beta <= 1.0:
        raise ValueError(f"beta must be in (0, 1], got {beta!r}")
    gamma = math.sqrt(2 * lr / (1 + beta))
    return gamma, 2 * (1 - beta) / ((1 + beta) * gamma)


def momentum_for_lr_decay(beta: float, r: float) -> float:
    """Momentum that keeps the friction about fixed when lr is scaled by r: 1 - (1 - beta) sqrt(r).

    From the article's approximation beta ~ 1 - lam * sqrt(lr), valid for small lr.

    Example:
        >>> round(momentum_for_lr_decay(0.9, r=0.25), 6)  # lr / 4: 1 - 0.1 * sqrt(1/4)
        0.95
    """
    if not 0.0 < beta <= 1.0:
        raise ValueError(f"beta must be in (0, 1], got {beta!r}")
    if not r > 0.0:
        raise ValueError(f"r must be > 0, got {r!r}")
    return 1.0 - (1.0 - beta) * math.sqrt(r)


class DampedDynamicsSGD(Optimizer):
    """Heavy ball v <- beta v - lr g(x), with x the parameter, v kept in parameter units.

    nesterov=None: x <- x + v, g at x (leapfrog). "standard": g at x + beta v, stored in the shifted
    variable X = x + beta v, X <- X + beta v - lr g (what `torch.optim.SGD(nesterov=True)` does).
    "half": the article's look-ahead by beta/2, X = x + beta v / 2, X <- X + (1+beta)/2 v - lr/2 g.
    Groups hold `lr` and `momentum` (so LR schedulers work); only the new gradient is scaled by the
    current lr, unlike torch SGD whose whole buffer is; both agree while lr is constant.

    Example:
        nesterov="standard" takes the same steps as torch's Nesterov SGD:

        >>> a = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> b = a.detach().clone().requires_grad_()
        >>> opts = [(a, DampedDynamicsSGD.from_momentum([a], lr=0.1, momentum=0.9, nesterov="standard")),
        ...         (b, torch.optim.SGD([b], lr=0.1, momentum=0.9, nesterov=True))]
        >>> for p, opt in opts * 3:
        ...     opt.zero_grad(); (p**2).sum().backward(); opt.step()
        >>> torch.allclose(a, b)
        True
    """

    def __init__(self, params: Iterable[torch.Tensor] | Iterable[dict[str, Any]], gamma: float, lam: float,
                 nesterov: Nesterov = None) -> None:
        if nesterov not in (None, "standard", "half"):
            raise ValueError(f"nesterov must be None, 'standard' or 'half', got {nesterov!r}")
        lr, beta = damped_to_momentum(gamma, lam)
        super().__init__(params, {"lr": lr, "momentum": beta, "nesterov": nesterov})

    @classmethod
    def from_momentum(cls, params: Iterable[torch.Tensor] | Iterable[dict[str, Any]], lr: float,
                      momentum: float, nesterov: Nesterov = None) -> DampedDynamicsSGD:
        """Build from the discrete (lr, momentum) pair instead of (gamma, lam)."""
        gamma, lam = momentum_to_damped(lr, momentum)
        return cls(params, gamma, lam, nesterov)

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> Any:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, beta, nesterov = group["lr"], group["momentum"], group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "velocity" not in state:
                    state["velocity"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                v = state["velocity"]
                v.mul_(beta).add_(p.grad, alpha=-lr)
                if nesterov is None:
                    p.add_(v)
                elif nesterov == "standard":
                    p.add_(v, alpha=beta).add_(p.grad, alpha=-lr)
                else:
                    p.add_(v, alpha=(1 + beta) / 2).add_(p.grad, alpha=-lr / 2)
        return loss
