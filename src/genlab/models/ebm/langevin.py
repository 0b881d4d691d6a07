"""Langevin dynamics on an energy E(x), usable with any callable that returns per-example energies.

Two parameterisations:

* theoretical (Welling & Teh 2011, "Bayesian Learning via Stochastic Gradient Langevin Dynamics",
  ICML; https://kexue.fm/archives/6612): x <- x - (eps / 2) grad E(x) + sqrt(eps) xi, xi ~ N(0, I),
  whose stationary law tends to exp(-E(x)) / Z as eps -> 0 (the spec's convention: drift eps / 2,
  noise std sqrt(eps));
* practical (Du & Mordatch 2019, "Implicit Generation and Generalization in Energy-Based Models",
  arXiv:1903.08689, official code openai/ebm_code_release): x <- x + N(0, sigma^2); g = grad E(x)
  clipped elementwise to [-c, c]; x <- x - lambda g; x clamped to the data range. Step size lambda and
  noise std sigma are independent (lambda = 10, sigma = 0.005 for CIFAR-10): short-run sampling,
  not a sampler of exp(-E).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from genlab.core.checks import check_int, check_range

Energy = Callable[[Tensor], Tensor]  # (B, ...) -> (B,)


@dataclass(frozen=True)
class LangevinSampler:
    """`n_steps` of Langevin dynamics; build it with `theoretical(...)` or `practical(...)`.

    Each step moves x by `-drift * g + noise_std * xi`, g the (optionally clipped) energy gradient;
    `noise_first` adds the noise before the gradient is taken, as the official IGEBM code does.
    """

    n_steps: int
    drift: float  # multiplier of the energy gradient
    noise_std: float
    grad_clip: float | None = None  # elementwise clip of the gradient to [-grad_clip, grad_clip]
    clamp: tuple[float, float] | None = None  # x kept in [low, high] after every step
    noise_first: bool = False

    def __post_init__(self) -> None:
        check_int("langevin n_steps", self.n_steps, 0)
        check_range("langevin drift", self.drift, 0.0)
        check_range("langevin noise_std", self.noise_std, 0.0)
        if self.grad_clip is not None:
            check_range("langevin grad_clip", self.grad_clip, 0.0, low_open=True)
        if self.clamp is not None:
            low, high = self.clamp
            check_range("langevin clamp low", low)
            check_range("langevin clamp high", high, low, low_open=True)

    @classmethod
    def theoretical(cls, step_size: float, n_steps: int, grad_clip: float | None = None,
                    clamp: tuple[float, float] | None = None) -> LangevinSampler:
        """x <- x - (eps / 2) grad E(x) + sqrt(eps) xi (eps = `step_size`; Welling & Teh 2011)."""
        check_range("langevin step_size", step_size, 0.0, low_open=True)
        return cls(n_steps, step_size / 2, math.sqrt(step_size), grad_clip, clamp, noise_first=False)

    @classmethod
    def practical(cls, step_size: float = 10.0, noise_std: float = 0.005, n_steps: int = 60,
                  grad_clip: float | None = 0.01,
                  clamp: tuple[float, float] | None = (0.0, 1.0)) -> LangevinSampler:
        """The official IGEBM step: noise, clipped gradient step of `step_size`, clamp (defaults: its
        CIFAR-10 command)."""
        check_range("langevin step_size", step_size, 0.0, low_open=True)
        return cls(n_steps, step_size, noise_std, grad_clip, clamp, noise_first=True)

    def step(self, energy: Energy, x: Tensor) -> Tensor:
        """One step from x; returns a new tensor detached from every graph."""
        if self.noise_first:
            x = x + self.noise_std * torch.randn_like(x)
        # A fresh leaf each step: the gradient is taken w.r.t. x only (autograd.grad with
        # inputs=x), so the energy net's parameters accumulate no .grad, and no graph links
        # one step to the next.
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():  # callers (sample hooks) may run under no_grad
            (g,) = torch.autograd.grad(energy(x).sum(), x)
        if self.grad_clip is not None:
            g = g.clamp(-self.grad_clip, self.grad_clip)
        x = x.detach() - self.drift * g
        if not self.noise_first:
            x = x + self.noise_std * torch.randn_like(x)
        if self.clamp is not None:
            x = x.clamp(*self.clamp)
        return x

    def __call__(self, energy: Energy, x: Tensor) -> Tensor:
        """Run the chain from x0 = `x` (one chain per example); returns detached samples.

        The samples are constants for whoever uses them (the EBM's negatives): no gradient flows
        through the chain into the energy net (Du & Mordatch 2019).
        """
        x = x.detach()
        for _ in range(self.n_steps):
            x = self.step(energy, x)
        return x.detach()


__all__ = ["Energy", "LangevinSampler"]
